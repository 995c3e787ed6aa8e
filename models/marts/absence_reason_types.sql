MODEL (
  name marts.absence_reason_types,
  kind VIEW,
  grain (name),
  description 'The reasons of absence_reasons, in rule order, with what each means.'
);

SELECT * FROM intermediate.int_absence_reason_types
