MODEL (
  name staging.stg_activations,
  kind VIEW,
  description 'Neuron activation vectors as loaded from the shards: one row per model, language, fact and probe run.',
  audits (not_null(columns := (model_id, lang, uuid, activations, load_batch)))
);

SELECT
  model_id::TEXT AS model_id, -- model identity
  lang::TEXT AS lang, -- language
  uuid::TEXT AS uuid, -- fact id
  activations::FLOAT[] AS activations, -- n_layers * d_ff values; neuron id = layer * d_ff + index
  shard_file::TEXT AS shard_file, -- Parquet shard the row came from
  load_batch::BIGINT AS load_batch -- load batch that wrote the row
FROM raw.activations
