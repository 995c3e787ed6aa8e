MODEL (
  name staging.stg_mlama_templates,
  kind VIEW,
  description 'Templates that passed validation, mLAMA''s own and the template sets'': one row per language, relation and template_id.',
  grain (lang, relation, template_id),
  audits (
    not_null(columns := (lang, relation, template, template_id)),
    unique_combination_of_columns(columns := (lang, relation, template_id))
  )
);

SELECT
  lang::TEXT AS lang, -- mLAMA language folder
  relation::TEXT AS relation, -- relation the template expresses
  template::TEXT AS template, -- cloze template with [X] (subject) and [Y] (object)
  template_id::TEXT AS template_id, -- which template of the relation: 'mlama' for mLAMA's own, else a template set's id
  load_batch::BIGINT AS load_batch -- load batch that wrote the row
FROM raw.mlama_templates
