MODEL (
  name marts.language_overlap,
  kind VIEW,
  grain (model_id, lang_a, lang_b),
  references (model_id AS models),
  description 'Fact-overlap similarity of two languages (the paper''s Figure 3): Jaccard of their correctly predicted facts, over the facts probed in both. Both orders of each pair are stored; only pairs involving a changed language are recomputed.'
);

SELECT * FROM intermediate.int_language_overlap
