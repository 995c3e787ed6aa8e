MODEL (
  name intermediate.int_active_neuron_layers,
  kind INCREMENTAL_BY_PARTITION,
  partitioned_by (model_id, lang),
  grain (model_id, lang, layer, layer_bin),
  description 'Computes marts.active_neuron_layers from intermediate.int_active_neurons, only for (model, lang) partitions whose input batch changed; a partition without active neurons any more is removed.',
  audits (
    not_null(columns := (model_id, lang, layer, layer_bin, n_active, share_of_active), condition := @computed_in_interval(input_batch)),
    unique_combination_of_columns(columns := (model_id, lang, layer, layer_bin), condition := @computed_in_interval(input_batch)),
    accepted_range(column := share_of_active, min_v := 0, max_v := 1, condition := @computed_in_interval(input_batch)),
    current_partitions(inputs := intermediate.int_active_neurons)
  )
);

WITH changed_partitions AS (
  @changed_partitions(intermediate.int_active_neurons, @this_model)
), models AS (
  SELECT * FROM staging.stg_models
), grid AS (
  SELECT
    changed_partitions.*,
    unnest(range(models.n_layers)) AS layer,
    models.d_ff
  FROM changed_partitions
  JOIN models USING (model_id)
), cells AS (
  SELECT grid.* EXCLUDE (d_ff), unnest(range(@VAR('layer_bins'))) AS layer_bin
  FROM grid
), counts AS (
  SELECT
    active_neurons.model_id,
    active_neurons.lang,
    active_neurons.layer,
    active_neurons.neuron_index * @VAR('layer_bins') // models.d_ff AS layer_bin,
    count(*) AS n_active
  FROM intermediate.int_active_neurons AS active_neurons
  JOIN changed_partitions USING (model_id, lang)
  JOIN models USING (model_id)
  GROUP BY ALL
)
SELECT
  cells.model_id::TEXT AS model_id, -- model identity
  cells.lang::TEXT AS lang, -- language
  cells.layer::INT AS layer, -- transformer layer, 0-based
  cells.layer_bin::INT AS layer_bin, -- bin of neuron_index within the layer (0 .. layer_bins - 1)
  coalesce(counts.n_active, 0)::BIGINT AS n_active, -- active neurons (over all facts) in this cell
  (coalesce(counts.n_active, 0) / sum(coalesce(counts.n_active, 0)) OVER (PARTITION BY cells.model_id, cells.lang))::DOUBLE AS share_of_active, -- share of the language's active neurons
  cells.input_batch::BIGINT AS input_batch, -- newest load batch behind this partition
  now()::TIMESTAMPTZ AS computed_at -- when this partition was last computed
FROM cells
LEFT JOIN counts
  ON counts.model_id = cells.model_id
  AND counts.lang = cells.lang
  AND counts.layer = cells.layer
  AND counts.layer_bin = cells.layer_bin;

/* Partitions whose active neurons are gone are not recomputed above: remove them. */
@IF(@runtime_stage = 'evaluating', @delete_stale_partitions(intermediate.int_active_neurons, @this_model));
