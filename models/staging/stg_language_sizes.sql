MODEL (
  name staging.stg_language_sizes,
  kind VIEW,
  description 'User-supplied corpus sizes per language (factroots ingest-sizes).',
  grain (source, lang, measure),
  audits (not_null(columns := (source, lang, measure, size)),
          unique_combination_of_columns(columns := (source, lang, measure)))
);

SELECT
  source::TEXT AS source, -- name given to the size table
  lang::TEXT AS lang, -- language
  measure::TEXT AS measure, -- the column of the size table (abstracts_size, ...)
  size::DOUBLE AS size -- its value
FROM raw.language_sizes
