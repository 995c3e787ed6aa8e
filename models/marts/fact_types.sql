MODEL (
  name marts.fact_types,
  kind VIEW,
  grain (name),
  description 'The fact types of fact_classification, in report order, with what each means.'
);

SELECT * FROM intermediate.int_fact_types
