MODEL (
  name marts.p_at_1_by_k,
  kind VIEW,
  grain (model_id, lang, n_mask_tokens),
  references (model_id AS models),
  description 'P@1 per (model, lang) by the object''s token count k.'
);

SELECT * FROM intermediate.int_p_at_1_by_k
