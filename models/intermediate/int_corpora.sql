MODEL (
  name intermediate.int_corpora,
  kind VIEW,
  grain (corpus, lang),
  description 'The traced corpora as staged, published as marts.corpora.'
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
