MODEL (
  name intermediate.int_quarantine,
  kind VIEW,
  description 'The rejected input rows as staged, published as marts.quarantine.'
);

SELECT
  kind, -- which ingest job rejected it (mlama, ...)
  lang, -- language folder
  source_file, -- file, relative to the source root
  line_no, -- line number (NULL for a whole folder)
  problem, -- malformed_json, invalid_utf8, missing_field, empty_label, template_missing_x, template_missing_y, duplicate_uuid, duplicate_template, no_template, unknown_language
  detail, -- the specifics
  load_batch, -- batch that read it
  loaded_at -- when
FROM staging.stg_quarantine
