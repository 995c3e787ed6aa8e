MODEL (
  name intermediate.int_fact_types,
  kind VIEW,
  description 'The fact type of every correct (model, corpus, lang, fact) for each theta of theta_grid and the theta setting (METHOD.md, "Fact classification").',
  grain (model_id, corpus, lang, uuid, theta)
);

WITH evidence AS (
  SELECT * FROM intermediate.int_fact_evidence
), thetas AS (
  SELECT DISTINCT unnest(list_append(@VAR('theta_grid'), @VAR('theta')))::DOUBLE AS theta
)
SELECT
  evidence.*, -- the evidence (intermediate.int_fact_evidence)
  thetas.theta, -- neuron-overlap threshold for cross-lingual
  coalesce(evidence.max_neuron_overlap >= thetas.theta, FALSE) AS is_cross_lingual, -- another language where it is correct shares >= theta of its active neurons
  (CASE
    WHEN evidence.is_present AND coalesce(evidence.max_neuron_overlap >= thetas.theta, FALSE) THEN 'cross_lingual_shared'
    WHEN evidence.is_present THEN 'language_independent'
    WHEN evidence.absence_reason IN ('shared_entity_tokens', 'naming_cues') THEN 'inferred'
    WHEN evidence.source_candidates IS NOT NULL THEN 'cross_lingual_transferred'
    ELSE 'unattributed'
  END) AS fact_type -- language_independent, cross_lingual_shared, cross_lingual_transferred, inferred, unattributed
FROM evidence
CROSS JOIN thetas
