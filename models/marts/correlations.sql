MODEL (
  name marts.correlations,
  kind VIEW,
  grain (model_id, measure),
  references (model_id AS models),
  description 'Pearson correlations of P@1 with properties of the languages or facts, per model: mean object token count, k, and corpus size (from the traced corpora and from user-supplied size tables; the paper''s Figure 2).'
);

SELECT * FROM intermediate.int_correlations
