MODEL (
  name intermediate.int_p_at_1_by_template,
  kind INCREMENTAL_BY_PARTITION,
  partitioned_by (model_id, lang),
  grain (model_id, lang, template_id),
  description 'Computes marts.p_at_1_by_template from intermediate.int_predictions, only for (model, lang) partitions whose input batch changed.',
  audits (
    not_null(columns := (model_id, lang, template_id, n_facts, n_probed, n_correct), condition := @computed_in_interval(input_batch)),
    unique_combination_of_columns(columns := (model_id, lang, template_id), condition := @computed_in_interval(input_batch)),
    accepted_range(column := p_at_1, min_v := 0, max_v := 1, condition := @computed_in_interval(input_batch))
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
  template_id::TEXT AS template_id, -- template: 'mlama' (mLAMA's own, the paper's P@1) or a template set's id
  count(*)::BIGINT AS n_facts, -- facts of the language whose relation has this template
  count(*) FILTER (WHERE probe_status = 'probed')::BIGINT AS n_probed, -- of which probed with it
  count(*) FILTER (WHERE is_correct)::BIGINT AS n_correct, -- of which predicted fully correctly
  (count(*) FILTER (WHERE is_correct) / nullif(count(*) FILTER (WHERE probe_status = 'probed'), 0))::DOUBLE AS p_at_1, -- correct / probed; NULL when none probed
  max(input_batch)::BIGINT AS input_batch, -- newest load batch behind this partition
  now()::TIMESTAMPTZ AS computed_at -- when this partition was last computed
FROM predictions
GROUP BY model_id, lang, template_id
