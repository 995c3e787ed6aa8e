MODEL (
  name staging.stg_quarantine,
  kind VIEW,
  description 'Input rows rejected at ingest, with the file, line and reason.',
  audits (not_null(columns := (kind, source_file, problem)))
);

SELECT
  kind::TEXT AS kind, -- which ingest job rejected it (mlama, ...)
  lang::TEXT AS lang, -- language folder
  source_file::TEXT AS source_file, -- file, relative to the source root
  line_no::INT AS line_no, -- line number (NULL for a whole folder)
  problem::TEXT AS problem, -- malformed_json, invalid_utf8, missing_field, empty_label, template_missing_x, template_missing_y, duplicate_uuid, duplicate_template, no_template, unknown_language
  detail::TEXT AS detail, -- the specifics
  load_batch::BIGINT AS load_batch, -- batch that read it
  loaded_at::TIMESTAMPTZ AS loaded_at -- when
FROM raw.quarantine
