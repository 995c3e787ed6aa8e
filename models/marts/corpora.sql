MODEL (
  name marts.corpora,
  kind VIEW,
  grain (corpus, lang),
  description 'The text corpora traced, per language: dump date, documents, segments, tokens and bytes.'
);

SELECT * FROM intermediate.int_corpora
