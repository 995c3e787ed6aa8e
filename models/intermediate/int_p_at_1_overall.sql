MODEL (
  name intermediate.int_p_at_1_overall,
  kind FULL,
  grain (model_id),
  description 'Computes marts.p_at_1_overall: intermediate.int_p_at_1 pooled over languages.',
  audits (
    not_null(columns := (model_id, n_languages)),
    unique_values(columns := (model_id)),
    accepted_range(column := p_at_1_micro, min_v := 0, max_v := 1),
    accepted_range(column := p_at_1_macro_languages, min_v := 0, max_v := 1)
  )
);

WITH languages AS (
  SELECT * FROM intermediate.int_p_at_1
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  count(*)::BIGINT AS n_languages, -- languages probed
  sum(n_probed)::BIGINT AS n_probed, -- facts probed over all languages
  sum(n_correct)::BIGINT AS n_correct, -- facts correct over all languages
  (sum(n_correct) / nullif(sum(n_probed), 0))::DOUBLE AS p_at_1_micro, -- correct / probed, pooled over languages
  avg(p_at_1)::DOUBLE AS p_at_1_macro_languages, -- mean of the languages' P@1
  avg(p_at_1_macro_relations)::DOUBLE AS p_at_1_macro_relations -- mean of the languages' relation-macro P@1
FROM languages
GROUP BY model_id
