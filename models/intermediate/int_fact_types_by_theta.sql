MODEL (
  name intermediate.int_fact_types_by_theta,
  kind VIEW,
  description 'The fact type of every correct (model, corpus, lang, fact) for each theta of theta_grid and the theta setting (METHOD.md, "Fact classification"). The types are declared in seeds/fact_types.csv.',
  grain (model_id, corpus, lang, uuid, theta),
  depends_on (intermediate.int_fact_types),
  audits (declared_value(column := fact_type, declared := intermediate.int_fact_types))
);

WITH evidence AS (
  SELECT * FROM intermediate.int_fact_evidence
), thetas AS (
  SELECT DISTINCT unnest(list_append(@VAR('theta_grid'), @VAR('theta')))::DOUBLE AS theta
), cross_lingual AS (
  SELECT
    evidence.*,
    thetas.theta,
    coalesce(evidence.max_neuron_overlap >= thetas.theta, FALSE) AS is_cross_lingual
  FROM evidence
  CROSS JOIN thetas
)
SELECT
  model_id, -- model identity
  corpus, -- corpus traced
  lang, -- language
  uuid, -- fact id
  relation, -- relation
  is_present, -- the fact occurs in this language's corpus
  absence_reason, -- why it is predicted anyway (absent facts only)
  max_neuron_overlap, -- highest neuron overlap with another language where it is correct
  source_candidates, -- other languages where it is correct and present in the corpus
  theta, -- neuron-overlap threshold for cross-lingual
  is_cross_lingual, -- another language where it is correct shares >= theta of its active neurons
  (CASE
    WHEN is_present AND is_cross_lingual THEN 'cross_lingual_shared'
    WHEN is_present THEN 'language_independent'
    WHEN absence_reason IN ('shared_entity_tokens', 'naming_cues') THEN 'inferred'
    WHEN source_candidates IS NOT NULL THEN 'cross_lingual_transferred'
    ELSE 'unattributed'
  END) AS fact_type -- one of intermediate.int_fact_types
FROM cross_lingual
