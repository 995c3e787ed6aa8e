MODEL (
  name intermediate.int_models,
  kind VIEW,
  grain (model_id),
  description 'The probed models as staged, published as marts.models.'
);

SELECT
  model_id, -- name_or_path@revision or weights hash (12 hex digits)
  name_or_path, -- Hugging Face hub id or local path
  revision, -- hub commit hash, when known
  weights_sha256, -- sha256 over the parameters
  family, -- masked or causal
  model_class, -- transformers class
  tokenizer_class, -- tokenizer class
  n_layers, -- transformer layers
  d_ff, -- FFN intermediate size
  vocab_size, -- vocabulary size
  max_length, -- longest accepted query in tokens
  registered_at -- first probed
FROM staging.stg_models
