MODEL (
  name marts.intervention_by_fact_type,
  kind VIEW,
  grain (model_id, corpus, fact_type, set_kind, op, same_language),
  references (model_id AS models, fact_type AS fact_types),
  description 'The causal test of the classification: interventions grouped by the fact type of the fact in the query''s language B (marts.fact_classification, per corpus traced), set kind, op and A = B.'
);

SELECT * FROM intermediate.int_intervention_by_fact_type
