MODEL (
  name intermediate.int_absence_reasons,
  kind FULL,
  grain (model_id, corpus, lang, uuid),
  description 'Computes marts.absence_reasons: the first rule that holds for each correct fact absent from the corpus.',
  depends_on (intermediate.int_absence_reason_types),
  audits (
    unique_combination_of_columns(columns := (model_id, corpus, lang, uuid)),
    not_null(columns := (model_id, corpus, lang, uuid, reason)),
    declared_value(column := reason, declared := intermediate.int_absence_reason_types)
  )
);

WITH predictions AS (
  SELECT * FROM intermediate.int_mlama_predictions WHERE is_correct
), presence AS (
  SELECT * FROM staging.stg_fact_presence WHERE NOT is_present
)
SELECT
  predictions.model_id::TEXT AS model_id, -- model identity
  presence.corpus::TEXT AS corpus, -- corpus traced
  predictions.lang::TEXT AS lang, -- language
  predictions.uuid::TEXT AS uuid, -- fact id
  predictions.relation::TEXT AS relation, -- relation
  (CASE
    WHEN predictions.labels_share_tokens THEN 'shared_entity_tokens'
    WHEN list_contains(@VAR('naming_relations'), predictions.relation) THEN 'naming_cues'
    ELSE 'others'
  END)::TEXT AS reason -- the first rule that holds (table absence_reason_types)
FROM predictions
JOIN presence
  ON presence.lang = predictions.lang AND presence.uuid = predictions.uuid
