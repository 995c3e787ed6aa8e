MODEL (
  name intermediate.int_fact_classification,
  kind FULL,
  grain (model_id, corpus, lang, uuid),
  description 'Computes marts.fact_classification: intermediate.int_fact_types_by_theta at the theta setting.',
  audits (
    unique_combination_of_columns(columns := (model_id, corpus, lang, uuid)),
    not_null(columns := (model_id, corpus, lang, uuid, fact_type, is_present))
  )
);

SELECT
  model_id::TEXT AS model_id, -- model identity
  corpus::TEXT AS corpus, -- corpus traced
  lang::TEXT AS lang, -- language
  uuid::TEXT AS uuid, -- fact id
  relation::TEXT AS relation, -- relation
  fact_type::TEXT AS fact_type, -- the class (table fact_types)
  is_present::BOOLEAN AS is_present, -- occurs in this language's corpus
  is_cross_lingual::BOOLEAN AS is_cross_lingual, -- neuron overlap >= theta with another language where correct
  max_neuron_overlap::DOUBLE AS max_neuron_overlap, -- highest such overlap (NULL without activations elsewhere)
  absence_reason::TEXT AS absence_reason, -- the absence reason (absent facts; table absence_reason_types)
  (CASE WHEN fact_type = 'cross_lingual_transferred' THEN source_candidates END)::TEXT[] AS source_candidates -- languages it may have come from (transferred facts)
FROM intermediate.int_fact_types_by_theta
WHERE theta = @VAR('theta')
