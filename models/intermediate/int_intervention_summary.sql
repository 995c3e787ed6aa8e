MODEL (
  name intermediate.int_intervention_summary,
  kind FULL,
  grain (model_id, set_kind, op, same_language),
  description 'Computes marts.intervention_summary: interventions per (model, set kind, op, whether the set comes from the query''s own language; NULL for language-agnostic sets), with the mean change rate and the share flipped.',
  audits (
    not_null(columns := (model_id, set_kind, op, n, mean_change_rate, flip_rate)),
    unique_combination_of_columns(columns := (model_id, set_kind, op, same_language)),
    accepted_range(column := flip_rate, min_v := 0, max_v := 1)
  )
);

WITH interventions AS (
  SELECT *, lang_a = lang_b AS same_language FROM intermediate.int_interventions
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  set_kind::TEXT AS set_kind, -- probeless, knowledge, language_agnostic or random
  op::TEXT AS op, -- suppress or enhance
  same_language::BOOLEAN AS same_language, -- A = B (NULL: language-agnostic sets, found across languages)
  count(*)::BIGINT AS n, -- interventions
  avg(change_rate)::DOUBLE AS mean_change_rate, -- mean (p_after - p_before) / p_before
  avg(flipped::INT)::DOUBLE AS flip_rate -- share whose full match changed in the op's direction
FROM interventions
GROUP BY ALL
