MODEL (
  name marts.classification_sensitivity,
  kind VIEW,
  grain (model_id, corpus, lang, theta, fact_type),
  references (model_id AS models, fact_type AS fact_types),
  description 'How the fact types of each language move with theta (theta_grid setting): facts per type and their share of the correct facts.'
);

SELECT * FROM intermediate.int_classification_sensitivity
