MODEL (
  name marts.predictions,
  kind VIEW,
  grain (model_id, lang, uuid, template_id),
  references (model_id AS models),
  description 'One row per (model, lang, fact, template) for every fact of every language a model has probed, with full-match correctness; template_id ''mlama'' is mLAMA''s own template, the one the paper''s P@1 uses. Recomputed only for partitions whose input batch changed.'
);

SELECT * FROM intermediate.int_predictions
