MODEL (
  name intermediate.int_query_attributions,
  kind FULL,
  grain (model_id, lang, uuid, template_id, neuron_id),
  description 'The kept attributions of each query (model, lang, fact, template) attributed with ig_steps steps, for the facts of the knowledge-neuron population (correct now; or probed now, with kn_population = "all"): one row per neuron, with its attribution relative to the query''s largest.',
  audits (
    not_null(columns := (model_id, lang, uuid, template_id, neuron_id, layer, neuron_index, attribution, relative_attribution, gold_prob)),
    unique_combination_of_columns(columns := (model_id, lang, uuid, template_id, neuron_id)),
    accepted_range(column := relative_attribution, min_v := 0, max_v := 1.000001)
  )
);

WITH latest AS (
  SELECT *
  FROM staging.stg_attributions
  WHERE ig_steps = @VAR('ig_steps')
  QUALIFY row_number() OVER (PARTITION BY model_id, lang, uuid, template_id ORDER BY load_batch DESC) = 1
), population AS (
  SELECT model_id, lang, uuid, template_id
  FROM intermediate.int_predictions
  WHERE is_correct OR (@VAR('kn_population') = 'all' AND probe_status = 'probed')
), kept AS (
  SELECT
    latest.model_id,
    latest.lang,
    latest.uuid,
    latest.template_id,
    latest.gold_prob,
    latest.max_attribution,
    unnest(latest.neuron_ids) AS neuron_id,
    unnest(latest.attributions) AS attribution
  FROM latest
  SEMI JOIN population
    ON population.model_id = latest.model_id AND population.lang = latest.lang AND population.uuid = latest.uuid
    AND population.template_id = latest.template_id
), models AS (
  SELECT * FROM staging.stg_models
)
SELECT
  kept.model_id::TEXT AS model_id, -- model identity
  kept.lang::TEXT AS lang, -- language of the query
  kept.uuid::TEXT AS uuid, -- fact id
  kept.template_id::TEXT AS template_id, -- template of the query
  kept.neuron_id::INT AS neuron_id, -- layer * d_ff + neuron_index
  (kept.neuron_id // models.d_ff)::INT AS layer, -- transformer layer, 0-based
  (kept.neuron_id % models.d_ff)::INT AS neuron_index, -- index within the layer's FFN
  kept.attribution::DOUBLE AS attribution, -- integrated-gradients attribution to the gold probability
  (kept.attribution / kept.max_attribution)::DOUBLE AS relative_attribution, -- attribution / the query's largest
  kept.gold_prob::DOUBLE AS gold_prob -- the query's gold-object probability (its confidence)
FROM kept
JOIN models
  ON models.model_id = kept.model_id
