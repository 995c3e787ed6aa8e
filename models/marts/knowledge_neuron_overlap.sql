MODEL (
  name marts.knowledge_neuron_overlap,
  kind VIEW,
  grain (model_id, uuid, lang_a, lang_b),
  references (model_id AS models),
  description 'Jaccard of a fact''s knowledge neurons in two languages, for facts with knowledge neurons in both; both orders of each pair.'
);

SELECT * FROM intermediate.int_knowledge_neuron_overlap
