MODEL (
  name staging.stg_attributions,
  kind VIEW,
  description 'Integrated-gradients attributions as loaded from the shards: one row per model, language, fact, template and attribution run, with the neurons kept (attribution >= attribution_floor x the largest).',
  audits (not_null(columns := (model_id, lang, uuid, template_id, ig_steps, gold_prob, neuron_ids, attributions, load_batch)))
);

SELECT
  model_id::TEXT AS model_id, -- model identity (staging.stg_models)
  lang::TEXT AS lang, -- language of the query
  uuid::TEXT AS uuid, -- fact id
  template_id::TEXT AS template_id, -- template of the query (mLAMA's own: mlama)
  ig_steps::INT AS ig_steps, -- m: midpoint steps of the integral
  gold_prob::DOUBLE AS gold_prob, -- F(a): the model's probability of the gold object
  max_attribution::DOUBLE AS max_attribution, -- largest attribution over all layers
  neuron_ids::INT[] AS neuron_ids, -- layer * d_ff + index of the kept neurons, highest attribution first
  attributions::FLOAT[] AS attributions, -- their attributions, in the same order
  shard_file::TEXT AS shard_file, -- Parquet shard the row was loaded from
  load_batch::BIGINT AS load_batch -- load batch that wrote the row
FROM raw.attributions
