MODEL (
  name intermediate.int_probeless_population,
  kind VIEW,
  description 'The PROBELESS population of each (model, lang): the activation vectors of its correctly predicted facts (setting probeless_population = "all": of every probed fact), the latest capture of each.',
  grain (model_id, lang, uuid, layer)
);

WITH predictions AS (
  SELECT * FROM intermediate.int_mlama_predictions
), activations AS (
  SELECT *
  FROM staging.stg_activations
  QUALIFY load_batch = max(load_batch) OVER (PARTITION BY model_id, lang, uuid)
)
SELECT
  activations.model_id, -- model identity
  activations.lang, -- language
  activations.uuid, -- fact id
  activations.layer, -- transformer layer
  activations.activations, -- the layer's activation vector
  greatest(activations.load_batch, predictions.input_batch) AS input_batch -- newest load batch behind the row
FROM activations
JOIN predictions
  ON predictions.model_id = activations.model_id
  AND predictions.lang = activations.lang
  AND predictions.uuid = activations.uuid
WHERE predictions.is_correct OR (@VAR('probeless_population') = 'all' AND predictions.probe_status = 'probed')
