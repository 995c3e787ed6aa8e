MODEL (
  name intermediate.int_absence_rates,
  kind FULL,
  grain (model_id, corpus, lang),
  description 'Computes marts.absence_rates from the predictions and the corpus presence flags.',
  audits (
    unique_combination_of_columns(columns := (model_id, corpus, lang)),
    not_null(columns := (model_id, corpus, lang, n_facts, n_absent)),
    accepted_range(column := absence_rate, min_v := 0, max_v := 1),
    accepted_range(column := absence_rate_correct, min_v := 0, max_v := 1)
  )
);

WITH predictions AS (
  SELECT * FROM intermediate.int_mlama_predictions
), presence AS (
  SELECT * FROM staging.stg_fact_presence
)
SELECT
  predictions.model_id::TEXT AS model_id, -- model identity
  presence.corpus::TEXT AS corpus, -- corpus traced
  predictions.lang::TEXT AS lang, -- language
  count(*)::BIGINT AS n_facts, -- facts of the language
  count(*) FILTER (WHERE NOT presence.is_present)::BIGINT AS n_absent, -- of which absent from the corpus
  (count(*) FILTER (WHERE NOT presence.is_present) / count(*))::DOUBLE AS absence_rate, -- absent / all facts
  count(*) FILTER (WHERE predictions.is_correct)::BIGINT AS n_correct, -- facts predicted correctly
  count(*) FILTER (WHERE predictions.is_correct AND NOT presence.is_present)::BIGINT AS n_correct_absent, -- correct yet absent
  (count(*) FILTER (WHERE predictions.is_correct AND NOT presence.is_present)
    / nullif(count(*) FILTER (WHERE predictions.is_correct), 0))::DOUBLE AS absence_rate_correct -- absent / correct facts
FROM predictions
JOIN presence
  ON presence.lang = predictions.lang AND presence.uuid = predictions.uuid
GROUP BY predictions.model_id, presence.corpus, predictions.lang
