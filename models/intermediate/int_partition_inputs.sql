MODEL (
  name intermediate.int_partition_inputs,
  kind VIEW,
  description 'One row per (model, lang) that has been probed, with the newest load batch behind it. The incremental models recompute a partition only when this number changes.',
  grain (model_id, lang)
);

WITH prediction_batches AS (
  SELECT model_id, lang, max(load_batch) AS batch
  FROM staging.stg_predictions
  GROUP BY model_id, lang
), fact_batches AS (
  SELECT lang, max(fact_batch) AS batch
  FROM intermediate.int_facts
  GROUP BY lang
)
SELECT
  prediction_batches.model_id, -- model identity
  prediction_batches.lang, -- language
  greatest(prediction_batches.batch, fact_batches.batch) AS input_batch -- newest batch of facts or predictions
FROM prediction_batches
JOIN fact_batches
  ON fact_batches.lang = prediction_batches.lang
