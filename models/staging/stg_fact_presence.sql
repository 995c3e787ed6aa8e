MODEL (
  name staging.stg_fact_presence,
  kind VIEW,
  description 'Whether each fact occurs in a language''s corpus: both normalised labels in one segment.',
  grain (corpus, lang, uuid),
  audits (not_null(columns := (corpus, lang, uuid, is_present, n_segments)),
          unique_combination_of_columns(columns := (corpus, lang, uuid)))
);

SELECT
  corpus::TEXT AS corpus, -- corpus name
  lang::TEXT AS lang, -- language
  uuid::TEXT AS uuid, -- fact id
  is_present::BOOLEAN AS is_present, -- some segment holds both the normalised subject and object labels
  n_segments::BIGINT AS n_segments, -- segments holding both
  example_segment_id::BIGINT AS example_segment_id, -- the smallest such segment id
  corpus_batch::BIGINT AS corpus_batch, -- corpus load traced
  facts_batch::BIGINT AS facts_batch -- mLAMA load traced
FROM raw.fact_presence
