MODEL (
  name intermediate.int_neuron_similarity,
  kind FULL,
  grain (model_id, lang_a, lang_b),
  description 'Computes marts.neuron_similarity: intermediate.int_neuron_overlap averaged per language pair.',
  audits (
    not_null(columns := (model_id, lang_a, lang_b, n_shared_facts, mean_jaccard)),
    unique_combination_of_columns(columns := (model_id, lang_a, lang_b)),
    accepted_range(column := mean_jaccard, min_v := 0, max_v := 1)
  )
);

SELECT
  model_id::TEXT AS model_id, -- model identity
  lang_a::TEXT AS lang_a, -- first language
  lang_b::TEXT AS lang_b, -- second language
  count(*)::BIGINT AS n_shared_facts, -- facts correct in both, with active neurons in both
  avg(jaccard)::DOUBLE AS mean_jaccard -- mean over those facts of their neuron overlap
FROM intermediate.int_neuron_overlap
GROUP BY model_id, lang_a, lang_b
