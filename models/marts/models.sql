MODEL (
  name marts.models,
  kind VIEW,
  grain (model_id),
  description 'The probed models and their identities.'
);

SELECT * FROM intermediate.int_models
