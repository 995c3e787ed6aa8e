MODEL (
  name intermediate.int_neuron_overlap,
  kind INCREMENTAL_BY_PARTITION,
  partitioned_by (model_id, lang_a, lang_b),
  grain (model_id, lang_a, lang_b, uuid),
  description 'Computes marts.neuron_overlap from intermediate.int_active_neurons, only for the language pairs that involve a changed (model, lang); pairs involving a language without active neurons any more are removed.',
  audits (
    not_null(columns := (model_id, lang_a, lang_b, uuid, n_shared_neurons, jaccard), condition := @computed_in_interval(input_batch_a, input_batch_b)),
    unique_combination_of_columns(columns := (model_id, lang_a, lang_b, uuid), condition := @computed_in_interval(input_batch_a, input_batch_b)),
    accepted_range(column := jaccard, min_v := 0, max_v := 1, condition := @computed_in_interval(input_batch_a, input_batch_b)),
    neuron_overlap_of_correct_facts
  )
);

WITH changed_pairs AS (
  @changed_pairs(intermediate.int_active_neurons, @this_model)
), neuron_sets AS (
  SELECT active_neurons.model_id, active_neurons.lang, active_neurons.uuid, list(active_neurons.neuron_id) AS neurons
  FROM intermediate.int_active_neurons AS active_neurons
  JOIN intermediate.int_mlama_predictions AS predictions
    ON predictions.model_id = active_neurons.model_id
    AND predictions.lang = active_neurons.lang
    AND predictions.uuid = active_neurons.uuid
  WHERE predictions.is_correct
    AND active_neurons.lang IN (SELECT lang_a FROM changed_pairs UNION SELECT lang_b FROM changed_pairs)
  GROUP BY ALL
), overlaps AS (
  SELECT
    changed_pairs.*,
    a.uuid,
    len(a.neurons) AS n_neurons_a,
    len(b.neurons) AS n_neurons_b,
    len(list_intersect(a.neurons, b.neurons)) AS n_shared_neurons
  FROM changed_pairs
  JOIN neuron_sets AS a
    ON a.model_id = changed_pairs.model_id AND a.lang = changed_pairs.lang_a
  JOIN neuron_sets AS b
    ON b.model_id = changed_pairs.model_id AND b.lang = changed_pairs.lang_b AND b.uuid = a.uuid
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  lang_a::TEXT AS lang_a, -- first language
  lang_b::TEXT AS lang_b, -- second language
  uuid::TEXT AS uuid, -- fact correct in both languages
  n_shared_neurons::INT AS n_shared_neurons, -- active in both (intersection)
  (n_shared_neurons / (n_neurons_a + n_neurons_b - n_shared_neurons))::DOUBLE AS jaccard, -- intersection / union of the two active sets
  input_batch_a::BIGINT AS input_batch_a, -- newest load batch behind lang_a
  input_batch_b::BIGINT AS input_batch_b, -- newest load batch behind lang_b
  now()::TIMESTAMPTZ AS computed_at -- when this pair was last computed
FROM overlaps;

/* Pairs involving a language whose active neurons are gone are not recomputed above: remove them. */
@IF(@runtime_stage = 'evaluating', @delete_stale_pairs(intermediate.int_active_neurons, @this_model));
