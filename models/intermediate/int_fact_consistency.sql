MODEL (
  name intermediate.int_fact_consistency,
  kind INCREMENTAL_BY_PARTITION,
  partitioned_by (model_id, lang),
  grain (model_id, lang, uuid),
  description 'Computes marts.fact_consistency from intermediate.int_predictions, only for (model, lang) partitions whose input batch changed.',
  audits (
    not_null(columns := (model_id, lang, uuid, n_templates, n_correct), condition := @computed_in_interval(input_batch)),
    unique_combination_of_columns(columns := (model_id, lang, uuid), condition := @computed_in_interval(input_batch)),
    accepted_range(column := consistency, min_v := 0, max_v := 1, condition := @computed_in_interval(input_batch))
  )
);

WITH changed_partitions AS (
  @changed_partitions((SELECT DISTINCT model_id, lang, input_batch FROM intermediate.int_predictions), @this_model)
), predictions AS (
  SELECT predictions.*
  FROM intermediate.int_predictions AS predictions
  JOIN changed_partitions USING (model_id, lang, input_batch)
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  lang::TEXT AS lang, -- language
  uuid::TEXT AS uuid, -- fact id
  any_value(relation)::TEXT AS relation, -- relation of the fact
  count(*) FILTER (WHERE probe_status = 'probed')::BIGINT AS n_templates, -- templates the fact was probed with
  count(*) FILTER (WHERE is_correct)::BIGINT AS n_correct, -- of which it was predicted fully correctly with
  (count(*) FILTER (WHERE is_correct) / nullif(count(*) FILTER (WHERE probe_status = 'probed'), 0))::DOUBLE AS consistency, -- share of its probed templates answered correctly; NULL when none probed
  max(input_batch)::BIGINT AS input_batch, -- newest load batch behind this partition
  now()::TIMESTAMPTZ AS computed_at -- when this partition was last computed
FROM predictions
GROUP BY model_id, lang, uuid
