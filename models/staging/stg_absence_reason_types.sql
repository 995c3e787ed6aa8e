MODEL (
  name staging.stg_absence_reason_types,
  kind SEED (path '../../seeds/absence_reason_types.csv'),
  columns (name TEXT, display_order INT, description TEXT),
  column_descriptions (
    name = 'the reason, as absence_reasons.reason writes it',
    display_order = 'rule order: the first rule that holds gives the reason',
    description = 'when the rule holds'
  ),
  grain (name),
  description 'Why a fact absent from the corpus can still be predicted (METHOD.md), declared once in seeds/absence_reason_types.csv.',
  audits (not_null(columns := (name, display_order)), unique_values(columns := (name, display_order)))
);
