MODEL (
  name intermediate.int_knowledge_neurons,
  kind FULL,
  grain (model_id, lang, uuid, neuron_id),
  description 'Computes marts.knowledge_neurons: the knowledge neurons of (model, lang, fact), the neurons whose attribution is at least kn_threshold x the largest for at least kn_query_share of the fact''s attributed templates (with one template, that template''s set).',
  audits (
    not_null(columns := (model_id, lang, uuid, neuron_id, layer, neuron_index, n_templates, template_share)),
    unique_combination_of_columns(columns := (model_id, lang, uuid, neuron_id)),
    accepted_range(column := template_share, min_v := 0, max_v := 1)
  )
);

WITH attributions AS (
  SELECT * FROM intermediate.int_query_attributions
), templates AS (
  SELECT model_id, lang, uuid, count(DISTINCT template_id) AS n_templates
  FROM attributions
  GROUP BY ALL
), per_query AS (
  SELECT model_id, lang, uuid, neuron_id, layer, neuron_index, relative_attribution
  FROM attributions
  WHERE relative_attribution >= @VAR('kn_threshold')
), per_fact AS (
  SELECT
    per_query.model_id,
    per_query.lang,
    per_query.uuid,
    per_query.neuron_id,
    per_query.layer,
    per_query.neuron_index,
    templates.n_templates,
    count(*) AS n_found,
    avg(per_query.relative_attribution) AS mean_relative_attribution
  FROM per_query
  JOIN templates USING (model_id, lang, uuid)
  GROUP BY ALL
)
SELECT
  model_id::TEXT AS model_id, -- model identity
  lang::TEXT AS lang, -- language
  uuid::TEXT AS uuid, -- fact id
  neuron_id::INT AS neuron_id, -- layer * d_ff + neuron_index
  layer::INT AS layer, -- transformer layer, 0-based
  neuron_index::INT AS neuron_index, -- index within the layer's FFN
  n_templates::INT AS n_templates, -- templates of the fact attributed in this language
  (n_found / n_templates)::DOUBLE AS template_share, -- share of them where the neuron is a knowledge neuron
  mean_relative_attribution::DOUBLE AS mean_relative_attribution -- its mean attribution / largest over those templates
FROM per_fact
WHERE n_found / n_templates >= @VAR('kn_query_share')
