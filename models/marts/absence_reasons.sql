MODEL (
  name marts.absence_reasons,
  kind FULL,
  grain (model_id, corpus, lang, uuid),
  description 'Why a fact absent from the corpus is still predicted correctly (the paper''s Figure 7), first rule that holds: shared_entity_tokens (the normalised object is inside the normalised subject, or the labels share a subword token of the model), naming_cues (the relation is in the naming_relations setting), others.',
  audits (
    unique_combination_of_columns(columns := (model_id, corpus, lang, uuid)),
    not_null(columns := (model_id, corpus, lang, uuid, reason)),
    accepted_values(column := reason, is_in := ('shared_entity_tokens', 'naming_cues', 'others'))
  )
);

WITH predictions AS (
  SELECT * FROM marts.predictions WHERE is_correct
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
  END)::TEXT AS reason -- shared_entity_tokens, naming_cues or others
FROM predictions
JOIN presence
  ON presence.lang = predictions.lang AND presence.uuid = predictions.uuid
