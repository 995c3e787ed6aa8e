MODEL (
  name staging.stg_fact_types,
  kind SEED (path '../../seeds/fact_types.csv'),
  columns (name TEXT, display_order INT, description TEXT),
  column_descriptions (
    name = 'the fact type, as fact_classification.fact_type writes it',
    display_order = 'order in reports (1 first)',
    description = 'what puts a correct fact in this type'
  ),
  grain (name),
  description 'The fact types of the classification (METHOD.md, "Fact classification"), declared once in seeds/fact_types.csv.',
  audits (not_null(columns := (name, display_order)), unique_values(columns := (name, display_order)))
);
