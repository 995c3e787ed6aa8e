MODEL (
  name intermediate.int_predictions,
  kind INCREMENTAL_BY_PARTITION,
  partitioned_by (model_id, lang),
  grain (model_id, lang, uuid, template_id),
  description 'Computes marts.predictions, one row per query (fact and template), one (model, lang) partition at a time: only partitions whose input batch changed are recomputed. The one place where a prediction''s correctness (is_correct) is decided.',
  audits (
    not_null(columns := (model_id, lang, relation, uuid, template_id, probe_status, is_correct, input_batch, query_batch), condition := @computed_in_interval(input_batch)),
    unique_combination_of_columns(columns := (model_id, lang, uuid, template_id), condition := @computed_in_interval(input_batch)),
    accepted_values(column := probe_status, is_in := ('probed', 'skipped', 'not_probed'), condition := @computed_in_interval(input_batch)),
    prediction_fact_exists,
    correct_only_if_probed
  )
);

WITH changed_partitions AS (
  @changed_partitions(intermediate.int_partition_inputs, @this_model)
), facts AS (
  SELECT changed_partitions.model_id, changed_partitions.input_batch, facts.*
  FROM intermediate.int_facts AS facts
  JOIN changed_partitions
    ON changed_partitions.lang = facts.lang
), predictions AS (
  SELECT * FROM intermediate.int_current_predictions
)
SELECT
  facts.model_id::TEXT AS model_id, -- model identity (models)
  facts.lang::TEXT AS lang, -- language
  facts.relation::TEXT AS relation, -- relation
  facts.uuid::TEXT AS uuid, -- fact id, the same across languages
  facts.template_id::TEXT AS template_id, -- template of the query: 'mlama' (mLAMA's own, the paper's) or a template set's id
  facts.template::TEXT AS template, -- the template itself
  facts.sub_label::TEXT AS sub_label, -- subject label
  facts.obj_label::TEXT AS obj_label, -- gold object label
  predictions.labels_share_tokens::BOOLEAN AS labels_share_tokens, -- normalised object inside the normalised subject, or the labels share a subword token
  predictions.query::TEXT AS query, -- model input with k masks
  predictions.n_mask_tokens::INT AS n_mask_tokens, -- k: object tokens in the filled sentence
  predictions.gold_text::TEXT AS gold_text, -- gold object ids decoded
  predictions.pred_text::TEXT AS pred_text, -- predicted ids decoded
  predictions.gold_log_prob::DOUBLE AS gold_log_prob, -- log-probability of the gold object (sum over masks)
  (CASE
    WHEN predictions.uuid IS NULL THEN 'not_probed'
    WHEN predictions.skip_reason IS NOT NULL THEN 'skipped'
    ELSE 'probed'
  END)::TEXT AS probe_status, -- probed, skipped (see skip_reason) or not_probed yet
  predictions.skip_reason::TEXT AS skip_reason, -- why the query was not built (too_long, ...)
  coalesce(predictions.is_correct, FALSE)::BOOLEAN AS is_correct, -- full match, as the probe decided it: all k predicted ids equal the gold ids (never for a fact not probed)
  facts.input_batch::BIGINT AS input_batch, -- newest load batch behind this partition
  greatest(facts.fact_batch, predictions.load_batch)::BIGINT AS query_batch, -- newest load batch behind this row: its fact, template and prediction
  now()::TIMESTAMPTZ AS computed_at -- when this partition was last computed
FROM facts
LEFT JOIN predictions
  ON predictions.model_id = facts.model_id
  AND predictions.lang = facts.lang
  AND predictions.uuid = facts.uuid
  AND predictions.template_id = facts.template_id
