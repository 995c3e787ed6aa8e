MODEL (
  name marts.fact_classification,
  kind FULL,
  grain (model_id, corpus, lang, uuid),
  description 'Where each correctly predicted fact comes from (METHOD.md, "Fact classification"), at the theta setting: language_independent (present, not cross-lingual), cross_lingual_shared (present, cross-lingual), cross_lingual_transferred (absent for no visible reason, correct and present elsewhere: see source_candidates), inferred (absent, with shared entity tokens or a naming cue: see absence_reason), unattributed (the rest).',
  audits (
    unique_combination_of_columns(columns := (model_id, corpus, lang, uuid)),
    not_null(columns := (model_id, corpus, lang, uuid, fact_type, is_present)),
    accepted_values(column := fact_type, is_in := ('language_independent', 'cross_lingual_shared',
      'cross_lingual_transferred', 'inferred', 'unattributed'))
  )
);

SELECT
  model_id::TEXT AS model_id, -- model identity
  corpus::TEXT AS corpus, -- corpus traced
  lang::TEXT AS lang, -- language
  uuid::TEXT AS uuid, -- fact id
  relation::TEXT AS relation, -- relation
  fact_type::TEXT AS fact_type, -- the class
  is_present::BOOLEAN AS is_present, -- occurs in this language's corpus
  is_cross_lingual::BOOLEAN AS is_cross_lingual, -- neuron overlap >= theta with another language where correct
  max_neuron_overlap::DOUBLE AS max_neuron_overlap, -- highest such overlap (NULL without activations elsewhere)
  absence_reason::TEXT AS absence_reason, -- shared_entity_tokens, naming_cues or others (absent facts)
  (CASE WHEN fact_type = 'cross_lingual_transferred' THEN source_candidates END)::TEXT[] AS source_candidates -- languages it may have come from (transferred facts)
FROM intermediate.int_fact_types
WHERE theta = @VAR('theta')
