MODEL (
  name intermediate.int_intervention_by_fact_type,
  kind FULL,
  grain (model_id, corpus, fact_type, set_kind, op, same_language),
  description 'Computes marts.intervention_by_fact_type, the causal test of the classification: interventions grouped by the fact type of the fact in the query''s language B (marts.fact_classification, per corpus traced), set kind, op and A = B.',
  audits (
    not_null(columns := (model_id, corpus, fact_type, set_kind, op, n, mean_change_rate, flip_rate)),
    unique_combination_of_columns(columns := (model_id, corpus, fact_type, set_kind, op, same_language)),
    accepted_range(column := flip_rate, min_v := 0, max_v := 1)
  )
);

WITH interventions AS (
  SELECT *, lang_a = lang_b AS same_language FROM intermediate.int_interventions
), classified AS (
  SELECT
    interventions.*,
    classification.corpus,
    classification.fact_type,
    fact_types.display_order
  FROM interventions
  JOIN intermediate.int_fact_classification AS classification
    ON classification.model_id = interventions.model_id
    AND classification.lang = interventions.lang_b
    AND classification.uuid = interventions.uuid
  JOIN intermediate.int_fact_types AS fact_types
    ON fact_types.name = classification.fact_type
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  corpus::TEXT AS corpus, -- corpus the classification traced
  fact_type::TEXT AS fact_type, -- the class of the fact in language B (table fact_types)
  any_value(display_order)::INT AS display_order, -- order of the fact type in reports
  set_kind::TEXT AS set_kind, -- probeless, knowledge, language_agnostic or random
  op::TEXT AS op, -- suppress or enhance
  same_language::BOOLEAN AS same_language, -- A = B (NULL: language-agnostic sets)
  count(*)::BIGINT AS n, -- interventions
  avg(change_rate)::DOUBLE AS mean_change_rate, -- mean (p_after - p_before) / p_before
  avg(flipped::INT)::DOUBLE AS flip_rate -- share whose full match changed in the op's direction
FROM classified
GROUP BY model_id, corpus, fact_type, set_kind, op, same_language
