MODEL (
  name marts.predictions,
  kind VIEW,
  grain (model_id, lang, uuid),
  references (model_id AS models),
  description 'One row per (model, lang, fact) for every fact of every language a model has probed, with full-match correctness (the paper''s P@1). Recomputed only for partitions whose input batch changed.'
);

SELECT * FROM intermediate.int_predictions
