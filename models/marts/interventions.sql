MODEL (
  name marts.interventions,
  kind VIEW,
  grain (model_id, uuid, set_kind, op, lang_a, lang_b),
  references (model_id AS models),
  description 'The latest intervention of each (model, fact, set kind, op, language A of the set, language B of the query) on a fact correct in B now, with change_rate = (p_after - p_before) / p_before and flipped = correct before and not after (suppress) or the reverse (enhance).'
);

SELECT * FROM intermediate.int_interventions
