MODEL (
  name intermediate.int_absence_reason_types,
  kind VIEW,
  grain (name),
  description 'The declared list staging.stg_absence_reason_types, published as marts.absence_reason_types.'
);

SELECT
  name, -- the reason, as absence_reasons.reason writes it
  display_order, -- rule order: the first rule that holds gives the reason
  description -- when the rule holds
FROM staging.stg_absence_reason_types
