MODEL (
  name marts.p_at_1,
  kind VIEW,
  grain (model_id, lang),
  references (model_id AS models),
  description 'P@1 per (model, lang): micro over probed facts (the paper''s Table 2) and macro over relations (mLAMA''s convention).'
);

SELECT * FROM intermediate.int_p_at_1
