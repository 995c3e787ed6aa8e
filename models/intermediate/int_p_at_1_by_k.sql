MODEL (
  name intermediate.int_p_at_1_by_k,
  kind INCREMENTAL_BY_PARTITION,
  partitioned_by (model_id, lang),
  grain (model_id, lang, n_mask_tokens),
  description 'Computes marts.p_at_1_by_k from intermediate.int_mlama_predictions, only for (model, lang) partitions whose input batch changed.',
  audits (
    not_null(columns := (model_id, lang, n_mask_tokens, n_probed, n_correct), condition := @computed_in_interval(input_batch)),
    unique_combination_of_columns(columns := (model_id, lang, n_mask_tokens), condition := @computed_in_interval(input_batch)),
    accepted_range(column := p_at_1, min_v := 0, max_v := 1, condition := @computed_in_interval(input_batch))
  )
);

WITH changed_partitions AS (
  @changed_partitions((SELECT DISTINCT model_id, lang, input_batch FROM intermediate.int_mlama_predictions), @this_model)
), probed AS (
  SELECT predictions.*
  FROM intermediate.int_mlama_predictions AS predictions
  JOIN changed_partitions USING (model_id, lang, input_batch)
  WHERE predictions.probe_status = 'probed'
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  lang::TEXT AS lang, -- language
  n_mask_tokens::INT AS n_mask_tokens, -- k: object token count
  count(*)::BIGINT AS n_probed, -- probed facts with this k
  count(*) FILTER (WHERE is_correct)::BIGINT AS n_correct, -- of which fully correct
  avg(is_correct::INT)::DOUBLE AS p_at_1, -- correct / probed
  max(input_batch)::BIGINT AS input_batch, -- newest load batch behind this partition
  now()::TIMESTAMPTZ AS computed_at -- when this partition was last computed
FROM probed
GROUP BY model_id, lang, n_mask_tokens
