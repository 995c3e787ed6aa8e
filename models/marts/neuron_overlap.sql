MODEL (
  name marts.neuron_overlap,
  kind VIEW,
  grain (model_id, lang_a, lang_b, uuid),
  references (model_id AS models),
  description 'Neuron overlap of a fact between two languages: Jaccard of its two sets of PROBELESS active neurons, for facts correct in both. Both orders of each pair are stored; only pairs involving a changed language are recomputed.'
);

SELECT * FROM intermediate.int_neuron_overlap
