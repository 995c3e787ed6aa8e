MODEL (
  name marts.active_neurons,
  kind VIEW,
  grain (model_id, lang, uuid, neuron_rank),
  references (model_id AS models),
  description 'PROBELESS active neurons: for each fact of the population of (model, lang), the k_neurons neurons whose activation differs most from the other facts''. score(n, f) = mean over g != f of |a_n(f) - a_n(g)|, computed exactly from per-neuron sorts and prefix sums; ties go to the lower neuron id. A population of one fact has no scores.'
);

SELECT * FROM intermediate.int_active_neurons
