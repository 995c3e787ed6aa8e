MODEL (
  name intermediate.int_p_at_1,
  kind INCREMENTAL_BY_PARTITION,
  partitioned_by (model_id, lang),
  grain (model_id, lang),
  description 'Computes marts.p_at_1 from intermediate.int_mlama_predictions, only for (model, lang) partitions whose input batch changed.',
  audits (
    not_null(columns := (model_id, lang, n_facts, n_probed, n_correct), condition := @computed_in_interval(input_batch)),
    unique_combination_of_columns(columns := (model_id, lang), condition := @computed_in_interval(input_batch)),
    accepted_range(column := p_at_1, min_v := 0, max_v := 1, condition := @computed_in_interval(input_batch)),
    accepted_range(column := p_at_1_macro_relations, min_v := 0, max_v := 1, condition := @computed_in_interval(input_batch))
  )
);

WITH changed_partitions AS (
  @changed_partitions((SELECT DISTINCT model_id, lang, input_batch FROM intermediate.int_mlama_predictions), @this_model)
), predictions AS (
  SELECT predictions.*
  FROM intermediate.int_mlama_predictions AS predictions
  JOIN changed_partitions USING (model_id, lang)
), per_relation AS (
  SELECT
    model_id,
    lang,
    relation,
    avg(is_correct::INT) FILTER (WHERE probe_status = 'probed') AS relation_p_at_1
  FROM predictions
  GROUP BY ALL
), per_language AS (
  SELECT
    model_id,
    lang,
    count(*) AS n_facts,
    count(*) FILTER (WHERE probe_status = 'probed') AS n_probed,
    count(*) FILTER (WHERE is_correct) AS n_correct,
    avg(n_mask_tokens) FILTER (WHERE probe_status = 'probed') AS mean_n_mask_tokens,
    max(input_batch) AS input_batch
  FROM predictions
  GROUP BY ALL
), macro AS (
  SELECT model_id, lang, avg(relation_p_at_1) AS p_at_1_macro_relations, count(relation_p_at_1) AS n_relations
  FROM per_relation
  GROUP BY ALL
)
SELECT
  per_language.model_id::TEXT AS model_id, -- model identity
  per_language.lang::TEXT AS lang, -- language
  per_language.n_facts::BIGINT AS n_facts, -- facts of the language
  per_language.n_probed::BIGINT AS n_probed, -- facts probed (query built and run)
  per_language.n_correct::BIGINT AS n_correct, -- facts predicted fully correctly
  (per_language.n_correct / nullif(per_language.n_probed, 0))::DOUBLE AS p_at_1, -- correct / probed (micro over facts)
  macro.p_at_1_macro_relations::DOUBLE AS p_at_1_macro_relations, -- mean over relations of each relation's P@1
  macro.n_relations::BIGINT AS n_relations, -- relations with at least one probed fact
  per_language.mean_n_mask_tokens::DOUBLE AS mean_n_mask_tokens, -- mean object token count k over probed facts
  per_language.input_batch::BIGINT AS input_batch, -- newest load batch behind this partition
  now()::TIMESTAMPTZ AS computed_at -- when this partition was last computed
FROM per_language
JOIN macro USING (model_id, lang)
