MODEL (
  name marts.absence_rates,
  kind VIEW,
  grain (model_id, corpus, lang),
  references (model_id AS models),
  description 'How many facts never occur in a language''s corpus (the paper''s Figure 6): over all facts, and over the facts the model predicts correctly.'
);

SELECT * FROM intermediate.int_absence_rates
