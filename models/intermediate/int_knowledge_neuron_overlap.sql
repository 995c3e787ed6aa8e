MODEL (
  name intermediate.int_knowledge_neuron_overlap,
  kind FULL,
  grain (model_id, uuid, lang_a, lang_b),
  description 'Computes marts.knowledge_neuron_overlap: Jaccard of a fact''s knowledge neurons in two languages, for facts with knowledge neurons in both; both orders of each pair.',
  audits (
    not_null(columns := (model_id, uuid, lang_a, lang_b, n_shared_neurons, jaccard)),
    unique_combination_of_columns(columns := (model_id, uuid, lang_a, lang_b)),
    accepted_range(column := jaccard, min_v := 0, max_v := 1)
  )
);

WITH neuron_sets AS (
  SELECT model_id, lang, uuid, list(neuron_id) AS neurons
  FROM intermediate.int_knowledge_neurons
  GROUP BY ALL
), pairs AS (
  SELECT
    a.model_id,
    a.uuid,
    a.lang AS lang_a,
    b.lang AS lang_b,
    len(a.neurons) AS n_neurons_a,
    len(b.neurons) AS n_neurons_b,
    len(list_intersect(a.neurons, b.neurons)) AS n_shared_neurons
  FROM neuron_sets AS a
  JOIN neuron_sets AS b
    ON b.model_id = a.model_id AND b.uuid = a.uuid AND b.lang <> a.lang
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  uuid::TEXT AS uuid, -- fact id
  lang_a::TEXT AS lang_a, -- first language
  lang_b::TEXT AS lang_b, -- second language
  n_shared_neurons::INT AS n_shared_neurons, -- knowledge neurons in both
  (n_shared_neurons / (n_neurons_a + n_neurons_b - n_shared_neurons))::DOUBLE AS jaccard -- intersection / union of the two sets
FROM pairs
