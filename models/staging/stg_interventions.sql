MODEL (
  name staging.stg_interventions,
  kind VIEW,
  description 'Interventions as loaded from the shards: one row per model, fact, set kind, op, language of the set (A) and language of the query (B), and run.',
  audits (not_null(columns := (model_id, lang_b, uuid, template_id, set_kind, op, p_before, p_after, load_batch)))
);

SELECT
  model_id::TEXT AS model_id, -- model identity (staging.stg_models)
  lang::TEXT AS lang_b, -- B: language of the query intervened on
  uuid::TEXT AS uuid, -- fact id
  template_id::TEXT AS template_id, -- template of the query (mLAMA's own: mlama)
  set_kind::TEXT AS set_kind, -- probeless, knowledge, language_agnostic or random
  set_lang::TEXT AS lang_a, -- A: language the set was found in (NULL for language-agnostic sets)
  op::TEXT AS op, -- suppress (x0) or enhance (x2)
  factor::DOUBLE AS factor, -- what the set's activations were multiplied by
  n_neurons::INT AS n_neurons, -- neurons in the set
  set_md5::TEXT AS set_md5, -- md5 of the set's neuron ids (ascending, comma-joined); NULL before sets were fingerprinted
  p_before::DOUBLE AS p_before, -- gold object's probability without intervention
  p_after::DOUBLE AS p_after, -- gold object's probability with the set scaled
  correct_before::BOOLEAN AS correct_before, -- full match without intervention
  correct_after::BOOLEAN AS correct_after, -- full match with the set scaled
  seed::INT AS seed, -- seed of the random control sets
  shard_file::TEXT AS shard_file, -- Parquet shard the row was loaded from
  load_batch::BIGINT AS load_batch -- load batch that wrote the row
FROM raw.interventions
