MODEL (
  name staging.stg_mlama_templates,
  kind VIEW,
  description 'mLAMA templates that passed validation: one row per language and relation.',
  grain (lang, relation),
  audits (
    not_null(columns := (lang, relation, template)),
    unique_combination_of_columns(columns := (lang, relation))
  )
);

SELECT
  lang::TEXT AS lang, -- mLAMA language folder
  relation::TEXT AS relation, -- relation the template expresses
  template::TEXT AS template, -- cloze template with [X] (subject) and [Y] (object)
  load_batch::BIGINT AS load_batch -- load batch that wrote the row
FROM raw.mlama_templates
