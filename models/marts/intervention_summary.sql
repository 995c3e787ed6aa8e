MODEL (
  name marts.intervention_summary,
  kind VIEW,
  grain (model_id, set_kind, op, same_language),
  references (model_id AS models),
  description 'Interventions per (model, set kind, op, whether the set comes from the query''s own language; NULL for language-agnostic sets), with the mean change rate and the share flipped.'
);

SELECT * FROM intermediate.int_intervention_summary
