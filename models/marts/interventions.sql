MODEL (
  name marts.interventions,
  kind VIEW,
  grain (model_id, uuid, set_kind, op, lang_a, lang_b),
  references (model_id AS models),
  description 'The interventions of the last run on each query (model, fact, language B) of a fact correct in B now, one row per set kind, op and language A of the set, measured again by `factroots intervene` when the sets change, with change_rate = (p_after - p_before) / p_before and flipped = correct before and not after (suppress) or the reverse (enhance).'
);

SELECT * FROM intermediate.int_interventions
