MODEL (
  name intermediate.int_language_overlap,
  kind INCREMENTAL_BY_PARTITION,
  partitioned_by (model_id, lang_a, lang_b),
  grain (model_id, lang_a, lang_b),
  description 'Computes marts.language_overlap from intermediate.int_mlama_predictions, only for the language pairs that involve a changed (model, lang).',
  audits (
    not_null(columns := (model_id, lang_a, lang_b, n_shared_facts), condition := @computed_in_interval(input_batch_a, input_batch_b)),
    unique_combination_of_columns(columns := (model_id, lang_a, lang_b), condition := @computed_in_interval(input_batch_a, input_batch_b)),
    accepted_range(column := jaccard, min_v := 0, max_v := 1, condition := @computed_in_interval(input_batch_a, input_batch_b))
  )
);

WITH changed_pairs AS (
  @changed_pairs((SELECT DISTINCT model_id, lang, input_batch FROM intermediate.int_mlama_predictions), @this_model)
), shared_facts AS (
  SELECT
    changed_pairs.*,
    a.is_correct AS is_correct_a,
    b.is_correct AS is_correct_b
  FROM changed_pairs
  JOIN intermediate.int_mlama_predictions AS a
    ON a.model_id = changed_pairs.model_id AND a.lang = changed_pairs.lang_a
  JOIN intermediate.int_mlama_predictions AS b
    ON b.model_id = changed_pairs.model_id AND b.lang = changed_pairs.lang_b AND b.uuid = a.uuid
  WHERE a.probe_status <> 'not_probed' AND b.probe_status <> 'not_probed'
), counts AS (
  SELECT
    model_id,
    lang_a,
    lang_b,
    input_batch_a,
    input_batch_b,
    count(*) AS n_shared_facts,
    count(*) FILTER (WHERE is_correct_a) AS n_correct_a,
    count(*) FILTER (WHERE is_correct_b) AS n_correct_b,
    count(*) FILTER (WHERE is_correct_a AND is_correct_b) AS n_correct_both,
    count(*) FILTER (WHERE is_correct_a OR is_correct_b) AS n_correct_either
  FROM shared_facts
  GROUP BY ALL
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  lang_a::TEXT AS lang_a, -- first language
  lang_b::TEXT AS lang_b, -- second language
  n_shared_facts::BIGINT AS n_shared_facts, -- facts probed in both languages
  n_correct_a::BIGINT AS n_correct_a, -- of those, correct in lang_a
  n_correct_b::BIGINT AS n_correct_b, -- of those, correct in lang_b
  n_correct_both::BIGINT AS n_correct_both, -- correct in both (intersection)
  n_correct_either::BIGINT AS n_correct_either, -- correct in at least one (union)
  (n_correct_both / nullif(n_correct_either, 0))::DOUBLE AS jaccard, -- intersection / union; NULL when neither has a correct fact
  input_batch_a::BIGINT AS input_batch_a, -- newest load batch behind lang_a
  input_batch_b::BIGINT AS input_batch_b, -- newest load batch behind lang_b
  now()::TIMESTAMPTZ AS computed_at -- when this pair was last computed
FROM counts
