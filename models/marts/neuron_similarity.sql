MODEL (
  name marts.neuron_similarity,
  kind VIEW,
  grain (model_id, lang_a, lang_b),
  references (model_id AS models),
  description 'Language similarity by neurons (the paper''s Figure 5): mean neuron overlap over the facts correct in both languages.'
);

SELECT * FROM intermediate.int_neuron_similarity
