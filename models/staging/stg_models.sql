MODEL (
  name staging.stg_models,
  kind VIEW,
  description 'Language models (masked or causal) that have been probed: one row per model identity.',
  grain (model_id),
  audits (not_null(columns := (model_id, name_or_path, weights_sha256)), unique_values(columns := (model_id)),
          accepted_values(column := family, is_in := ('masked', 'causal')))
);

SELECT
  model_id::TEXT AS model_id, -- name_or_path@first 12 hex digits of its revision or weights hash
  name_or_path::TEXT AS name_or_path, -- Hugging Face hub id or local path
  revision::TEXT AS revision, -- hub commit hash, when loaded from the hub
  weights_sha256::TEXT AS weights_sha256, -- sha256 over the parameters in name order
  family::TEXT AS family, -- masked or causal: how the model is probed (masks, or prompt + teacher-forced object)
  model_class::TEXT AS model_class, -- transformers class (BertForMaskedLM, GPT2LMHeadModel, ...)
  tokenizer_class::TEXT AS tokenizer_class, -- transformers tokenizer class
  n_layers::INT AS n_layers, -- transformer layers
  d_ff::INT AS d_ff, -- FFN intermediate size per layer
  vocab_size::INT AS vocab_size, -- output vocabulary size
  max_length::INT AS max_length, -- longest query (in tokens) the model accepts
  registered_at::TIMESTAMPTZ AS registered_at -- first time the model was probed
FROM raw.models
