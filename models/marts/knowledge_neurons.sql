MODEL (
  name marts.knowledge_neurons,
  kind VIEW,
  grain (model_id, lang, uuid, neuron_id),
  references (model_id AS models),
  description 'The knowledge neurons of (model, lang, fact), the neurons whose attribution is at least kn_threshold x the largest for at least kn_query_share of the fact''s attributed templates (with one template, that template''s set).'
);

SELECT * FROM intermediate.int_knowledge_neurons
