MODEL (
  name marts.corpora,
  kind FULL,
  grain (corpus, lang),
  description 'The text corpora traced, per language: dump date, documents, segments, tokens and bytes.',
  audits (unique_combination_of_columns(columns := (corpus, lang)), not_null(columns := (corpus, lang)))
);

SELECT
  corpus, -- corpus name
  lang, -- language
  dump_date, -- dump the text came from
  tokenizer, -- tokenizer that cut the segments
  max_tokens, -- longest segment, in tokens
  n_documents, -- documents
  n_segments, -- segments
  n_tokens, -- tokens
  n_bytes -- UTF-8 bytes
FROM staging.stg_wiki_corpora
