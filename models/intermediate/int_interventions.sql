MODEL (
  name intermediate.int_interventions,
  kind FULL,
  grain (model_id, uuid, set_kind, op, lang_a, lang_b),
  description 'Computes marts.interventions: the interventions of the last run on each query (model, fact, language B), one row per set kind, op and language A of the set, on a fact correct in B now, with change_rate = (p_after - p_before) / p_before and flipped = correct before and not after (suppress) or the reverse (enhance).',
  audits (
    not_null(columns := (model_id, uuid, set_kind, op, lang_b, p_before, p_after, change_rate, flipped)),
    unique_combination_of_columns(columns := (model_id, uuid, set_kind, op, lang_a, lang_b)),
    accepted_values(column := set_kind, is_in := ('probeless', 'knowledge', 'language_agnostic', 'random')),
    accepted_values(column := op, is_in := ('suppress', 'enhance'))
  )
);

WITH latest AS (
  SELECT *
  FROM staging.stg_interventions
  QUALIFY rank() OVER (PARTITION BY model_id, lang_b, uuid, template_id ORDER BY load_batch DESC) = 1 -- a query's last run: the sets it had then
), correct AS (
  SELECT model_id, lang, uuid FROM intermediate.int_mlama_predictions WHERE is_correct
)
SELECT
  latest.model_id::TEXT AS model_id, -- model identity
  latest.uuid::TEXT AS uuid, -- fact id
  latest.set_kind::TEXT AS set_kind, -- probeless, knowledge, language_agnostic or random (as many neurons per layer as the PROBELESS set)
  latest.op::TEXT AS op, -- suppress (x0) or enhance (x2)
  latest.lang_a::TEXT AS lang_a, -- A: language the set was found in (NULL for language-agnostic sets)
  latest.lang_b::TEXT AS lang_b, -- B: language of the query intervened on
  latest.n_neurons::INT AS n_neurons, -- neurons in the set
  latest.p_before::DOUBLE AS p_before, -- gold object's probability without intervention
  latest.p_after::DOUBLE AS p_after, -- gold object's probability with the set scaled
  ((latest.p_after - latest.p_before) / latest.p_before)::DOUBLE AS change_rate, -- relative change of the gold probability
  (CASE latest.op
    WHEN 'suppress' THEN latest.correct_before AND NOT latest.correct_after
    ELSE NOT latest.correct_before AND latest.correct_after
  END)::BOOLEAN AS flipped, -- the full match changed in the op's direction
  latest.seed::INT AS seed -- seed of the random control sets
FROM latest
SEMI JOIN correct
  ON correct.model_id = latest.model_id AND correct.lang = latest.lang_b AND correct.uuid = latest.uuid
