MODEL (
  name marts.fact_consistency,
  kind VIEW,
  grain (model_id, lang, uuid),
  references (model_id AS models),
  description 'Consistency of each (model, lang, fact) over its templates (mLAMA''s own and the template sets''): the share of the templates it was probed with on which it is predicted correctly.'
);

SELECT * FROM intermediate.int_fact_consistency
