MODEL (
  name marts.language_agnostic_neurons,
  kind VIEW,
  grain (model_id, uuid, neuron_id),
  references (model_id AS models),
  description '(METHOD.md, "Language-agnostic knowledge neurons"): laa_score = the confidence-weighted mean over the fact''s attributed (lang, template) queries of attribution / largest (a neuron below attribution_floor in a query counts 0 there), kept when at least laa_threshold and a knowledge neuron in at least laa_min_languages languages.'
);

SELECT * FROM intermediate.int_language_agnostic_neurons
