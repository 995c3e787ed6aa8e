MODEL (
  name intermediate.int_fact_types,
  kind VIEW,
  grain (name),
  description 'The declared list staging.stg_fact_types, published as marts.fact_types.'
);

SELECT
  name, -- the fact type, as fact_classification.fact_type writes it
  display_order, -- order in reports (1 first)
  description -- what puts a correct fact in this type
FROM staging.stg_fact_types
