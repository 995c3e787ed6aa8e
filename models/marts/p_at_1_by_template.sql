MODEL (
  name marts.p_at_1_by_template,
  kind VIEW,
  grain (model_id, lang, template_id),
  references (model_id AS models),
  description 'P@1 per (model, lang, template): micro over the facts probed with each template; template_id ''mlama'' gives the paper''s P@1 (table p_at_1).'
);

SELECT * FROM intermediate.int_p_at_1_by_template
