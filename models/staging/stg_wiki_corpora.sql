MODEL (
  name staging.stg_wiki_corpora,
  kind VIEW,
  description 'Loaded text corpora: one row per (corpus, lang), with the dump date and its size.',
  grain (corpus, lang),
  audits (not_null(columns := (corpus, lang, n_documents)), unique_combination_of_columns(columns := (corpus, lang)))
);

SELECT
  corpus::TEXT AS corpus, -- corpus name (wikipedia, ...)
  lang::TEXT AS lang, -- language edition
  dump_date::DATE AS dump_date, -- dump the text came from
  tokenizer::TEXT AS tokenizer, -- tokenizer that cut the segments
  max_tokens::INT AS max_tokens, -- longest segment, in tokens
  n_documents::BIGINT AS n_documents, -- documents loaded
  n_segments::BIGINT AS n_segments, -- segments cut from them
  n_tokens::BIGINT AS n_tokens, -- tokens over all segments
  n_bytes::BIGINT AS n_bytes, -- UTF-8 bytes of the documents' text
  load_batch::BIGINT AS load_batch -- load batch that wrote the row
FROM raw.wiki_corpora
