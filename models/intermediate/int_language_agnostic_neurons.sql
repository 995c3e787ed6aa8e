MODEL (
  name intermediate.int_language_agnostic_neurons,
  kind FULL,
  grain (model_id, uuid, neuron_id),
  description 'Computes marts.language_agnostic_neurons (METHOD.md, "Language-agnostic knowledge neurons"): laa_score = the confidence-weighted mean over the fact''s attributed (lang, template) queries of attribution / largest (a neuron below attribution_floor in a query counts 0 there), kept when at least laa_threshold and a knowledge neuron in at least laa_min_languages languages.',
  audits (
    not_null(columns := (model_id, uuid, neuron_id, layer, neuron_index, laa_score, n_languages)),
    unique_combination_of_columns(columns := (model_id, uuid, neuron_id)),
    accepted_range(column := laa_score, min_v := @VAR('laa_threshold'), max_v := 1.000001),
    accepted_range(column := n_languages, min_v := @VAR('laa_min_languages'))
  )
);

WITH attributions AS (
  SELECT * FROM intermediate.int_query_attributions
), queries AS (
  SELECT DISTINCT model_id, uuid, lang, template_id, gold_prob
  FROM attributions
), weights AS (
  SELECT model_id, uuid, sum(gold_prob) AS total_weight
  FROM queries
  GROUP BY ALL
), scores AS (
  SELECT
    attributions.model_id,
    attributions.uuid,
    attributions.neuron_id,
    attributions.layer,
    attributions.neuron_index,
    sum(attributions.gold_prob * attributions.relative_attribution) / any_value(weights.total_weight) AS laa_score
  FROM attributions
  JOIN weights USING (model_id, uuid)
  GROUP BY ALL
), languages AS (
  SELECT model_id, uuid, neuron_id, count(DISTINCT lang) AS n_languages
  FROM intermediate.int_knowledge_neurons
  GROUP BY ALL
)
SELECT
  scores.model_id::TEXT AS model_id, -- model identity
  scores.uuid::TEXT AS uuid, -- fact id
  scores.neuron_id::INT AS neuron_id, -- layer * d_ff + neuron_index
  scores.layer::INT AS layer, -- transformer layer, 0-based
  scores.neuron_index::INT AS neuron_index, -- index within the layer's FFN
  scores.laa_score::DOUBLE AS laa_score, -- confidence-weighted mean relative attribution over the fact's queries
  languages.n_languages::INT AS n_languages -- languages where it is a knowledge neuron of the fact
FROM scores
JOIN languages USING (model_id, uuid, neuron_id)
WHERE scores.laa_score >= @VAR('laa_threshold') AND languages.n_languages >= @VAR('laa_min_languages')
