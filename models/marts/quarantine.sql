MODEL (
  name marts.quarantine,
  kind VIEW,
  description 'Input rows rejected at ingest, with the file, line and reason; nothing here reached the other tables.'
);

SELECT * FROM intermediate.int_quarantine
