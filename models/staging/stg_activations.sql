MODEL (
  name staging.stg_activations,
  kind VIEW,
  description 'Neuron activations as loaded from the shards: one row per model, language, fact, layer and probe run.',
  audits (not_null(columns := (model_id, lang, uuid, layer, activations, load_batch)))
);

SELECT
  model_id::TEXT AS model_id, -- model identity
  lang::TEXT AS lang, -- language
  uuid::TEXT AS uuid, -- fact id
  layer::INT AS layer, -- transformer layer, 0-based
  activations::FLOAT[] AS activations, -- d_ff values of the layer; neuron id = layer * d_ff + index
  shard_file::TEXT AS shard_file, -- Parquet shard the row came from
  load_batch::BIGINT AS load_batch -- load batch that wrote the row
FROM raw.activations
