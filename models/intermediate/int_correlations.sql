MODEL (
  name intermediate.int_correlations,
  kind FULL,
  grain (model_id, measure),
  description 'Computes marts.correlations from P@1 per language and per k and the corpus sizes.',
  audits (
    not_null(columns := (model_id, measure, n_points)),
    unique_combination_of_columns(columns := (model_id, measure)),
    accepted_range(column := pearson_r, min_v := -1.000001, max_v := 1.000001)
  )
);

WITH languages AS (
  SELECT * FROM intermediate.int_p_at_1
), by_k AS (
  SELECT
    model_id,
    n_mask_tokens,
    sum(n_correct) / sum(n_probed) AS p_at_1
  FROM intermediate.int_p_at_1_by_k
  GROUP BY ALL
), sizes AS (
  SELECT corpus AS source, lang, 'n_tokens' AS measure, n_tokens::DOUBLE AS size FROM staging.stg_wiki_corpora
  UNION ALL
  SELECT corpus, lang, 'n_bytes', n_bytes::DOUBLE FROM staging.stg_wiki_corpora
  UNION ALL
  SELECT source, lang, measure, size FROM staging.stg_language_sizes
), measures AS (
  SELECT
    model_id,
    'p_at_1 vs mean_n_mask_tokens, across languages' AS measure,
    count(*) AS n_points,
    corr(p_at_1, mean_n_mask_tokens) AS pearson_r
  FROM languages
  WHERE p_at_1 IS NOT NULL AND mean_n_mask_tokens IS NOT NULL
  GROUP BY model_id
  UNION ALL
  SELECT
    model_id,
    'p_at_1 vs n_mask_tokens, across k (languages pooled)' AS measure,
    count(*) AS n_points,
    corr(p_at_1, n_mask_tokens) AS pearson_r
  FROM by_k
  GROUP BY model_id
  UNION ALL
  SELECT
    languages.model_id,
    'p_at_1 vs ' || sizes.source || ' ' || sizes.measure || ', across languages' AS measure,
    count(*) AS n_points,
    corr(languages.p_at_1, sizes.size) AS pearson_r
  FROM languages
  JOIN sizes
    ON sizes.lang = languages.lang
  WHERE languages.p_at_1 IS NOT NULL
  GROUP BY languages.model_id, sizes.source, sizes.measure
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  measure::TEXT AS measure, -- what is correlated, over which points
  n_points::BIGINT AS n_points, -- number of points (languages or k values)
  (CASE WHEN isnan(pearson_r) THEN NULL ELSE pearson_r END)::DOUBLE AS pearson_r -- Pearson r; NULL with fewer than two points or no variance
FROM measures
