MODEL (
  name marts.p_at_1_overall,
  kind VIEW,
  grain (model_id),
  references (model_id AS models),
  description 'P@1 of each model over all its probed languages: micro over facts and macro over languages.'
);

SELECT * FROM intermediate.int_p_at_1_overall
