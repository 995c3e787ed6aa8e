MODEL (
  name intermediate.int_classification_sensitivity,
  kind FULL,
  grain (model_id, corpus, lang, theta, fact_type),
  description 'Computes marts.classification_sensitivity: intermediate.int_fact_types_by_theta counted per type and theta.',
  audits (
    unique_combination_of_columns(columns := (model_id, corpus, lang, theta, fact_type)),
    accepted_range(column := share, min_v := 0, max_v := 1)
  )
);

SELECT
  model_id::TEXT AS model_id, -- model identity
  corpus::TEXT AS corpus, -- corpus traced
  lang::TEXT AS lang, -- language
  theta::DOUBLE AS theta, -- neuron-overlap threshold
  fact_type::TEXT AS fact_type, -- the class
  count(*)::BIGINT AS n_facts, -- correct facts of this type
  (count(*) / sum(count(*)) OVER (PARTITION BY model_id, corpus, lang, theta))::DOUBLE AS share -- of the language's correct facts
FROM intermediate.int_fact_types_by_theta
GROUP BY model_id, corpus, lang, theta, fact_type
