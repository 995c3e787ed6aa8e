MODEL (
  name staging.stg_predictions,
  kind VIEW,
  description 'Probe results as loaded from the shards: one row per model, language, fact, template and probe run.',
  audits (not_null(columns := (model_id, lang, relation, uuid, template_id, load_batch)))
);

SELECT
  model_id::TEXT AS model_id, -- model identity (staging.stg_models)
  lang::TEXT AS lang, -- language probed
  relation::TEXT AS relation, -- relation of the fact
  uuid::TEXT AS uuid, -- fact id
  template::TEXT AS template, -- template the query was built from
  template_id::TEXT AS template_id, -- the template's id: 'mlama' for mLAMA's own
  sub_label::TEXT AS sub_label, -- subject label the query was built from
  obj_label::TEXT AS obj_label, -- gold object label
  labels_share_tokens::BOOLEAN AS labels_share_tokens, -- normalised object inside the normalised subject, or a shared subword token
  query::TEXT AS query, -- the model input with k mask tokens; NULL when not probed
  n_mask_tokens::INT AS n_mask_tokens, -- k: tokens of the object in the filled sentence
  gold_token_ids::INT[] AS gold_token_ids, -- the object's k token ids
  pred_token_ids::INT[] AS pred_token_ids, -- argmax id at each mask position
  gold_text::TEXT AS gold_text, -- gold ids decoded
  pred_text::TEXT AS pred_text, -- predicted ids decoded
  gold_log_prob::DOUBLE AS gold_log_prob, -- sum over the masks of the gold id's log-probability
  is_correct::BOOLEAN AS is_correct, -- full match, decided by the probe: all k predicted ids equal the gold ids
  skip_reason::TEXT AS skip_reason, -- why the fact was not probed (too_long, ...); NULL when probed
  probed_at::TIMESTAMPTZ AS probed_at, -- when the forward pass ran
  shard_file::TEXT AS shard_file, -- Parquet shard the row was loaded from
  load_batch::BIGINT AS load_batch -- load batch that wrote the row
FROM raw.predictions
