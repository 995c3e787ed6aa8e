MODEL (
  name intermediate.int_method_agreement,
  kind FULL,
  grain (model_id, lang, uuid),
  description 'Computes marts.method_agreement: per (model, lang, fact) with both, how far its PROBELESS active neurons (top k_neurons) and its knowledge neurons agree: Jaccard of the two sets, and rank_overlap = the share of the top n of each ranking found in the top n of the other, n = the smaller set''s size (knowledge neurons ranked by mean attribution / largest, ties by lower neuron id).',
  audits (
    not_null(columns := (model_id, lang, uuid, n_probeless, n_knowledge, n_shared_neurons, jaccard, rank_overlap)),
    unique_combination_of_columns(columns := (model_id, lang, uuid)),
    accepted_range(column := jaccard, min_v := 0, max_v := 1),
    accepted_range(column := rank_overlap, min_v := 0, max_v := 1)
  )
);

WITH probeless AS (
  SELECT model_id, lang, uuid, list(neuron_id ORDER BY neuron_rank) AS neurons
  FROM intermediate.int_active_neurons
  GROUP BY ALL
), knowledge AS (
  SELECT model_id, lang, uuid, list(neuron_id ORDER BY mean_relative_attribution DESC, neuron_id) AS neurons
  FROM intermediate.int_knowledge_neurons
  GROUP BY ALL
), both_sets AS (
  SELECT
    probeless.model_id,
    probeless.lang,
    probeless.uuid,
    probeless.neurons AS probeless_neurons,
    knowledge.neurons AS knowledge_neurons,
    least(len(probeless.neurons), len(knowledge.neurons)) AS depth
  FROM probeless
  JOIN knowledge USING (model_id, lang, uuid)
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  lang::TEXT AS lang, -- language
  uuid::TEXT AS uuid, -- fact id
  len(probeless_neurons)::INT AS n_probeless, -- PROBELESS active neurons
  len(knowledge_neurons)::INT AS n_knowledge, -- knowledge neurons
  len(list_intersect(probeless_neurons, knowledge_neurons))::INT AS n_shared_neurons, -- in both sets
  (len(list_intersect(probeless_neurons, knowledge_neurons))
    / (len(probeless_neurons) + len(knowledge_neurons) - len(list_intersect(probeless_neurons, knowledge_neurons))))::DOUBLE AS jaccard, -- intersection / union
  (len(list_intersect(probeless_neurons[1:depth], knowledge_neurons[1:depth])) / depth)::DOUBLE AS rank_overlap -- share of the top n of each ranking in the top n of the other
FROM both_sets
