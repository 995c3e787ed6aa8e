MODEL (
  name staging.stg_mlama_facts,
  kind VIEW,
  description 'mLAMA facts that passed validation: one row per language and fact.',
  grain (lang, uuid),
  audits (
    not_null(columns := (lang, relation, uuid, sub_label, obj_label, load_batch)),
    unique_combination_of_columns(columns := (lang, uuid))
  )
);

SELECT
  lang::TEXT AS lang, -- mLAMA language folder (ISO 639-1, or ceb)
  relation::TEXT AS relation, -- Wikidata property (P19, ...) or Google-RE name
  uuid::TEXT AS uuid, -- fact id, the same in every language
  sub_uri::TEXT AS sub_uri, -- Wikidata id of the subject
  obj_uri::TEXT AS obj_uri, -- Wikidata id of the object
  sub_label::TEXT AS sub_label, -- subject's surface form in this language
  obj_label::TEXT AS obj_label, -- object's surface form in this language
  source_file::TEXT AS source_file, -- file the row was read from, relative to the release root
  line_no::INT AS line_no, -- line number in source_file
  load_batch::BIGINT AS load_batch -- load batch that wrote the row (raw.load_batches)
FROM raw.mlama_facts
