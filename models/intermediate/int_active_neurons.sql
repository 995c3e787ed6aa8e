MODEL (
  name intermediate.int_active_neurons,
  kind INCREMENTAL_BY_PARTITION,
  partitioned_by (model_id, lang),
  grain (model_id, lang, uuid, neuron_rank),
  description 'Computes marts.active_neurons (PROBELESS) from intermediate.int_probeless_population, only for (model, lang) partitions whose input batch changed; a partition whose population fell below two facts is removed.',
  audits (
    not_null(columns := (model_id, lang, uuid, neuron_rank, neuron_id, layer, neuron_index, score), condition := @computed_in_interval(input_batch)),
    unique_combination_of_columns(columns := (model_id, lang, uuid, neuron_rank), condition := @computed_in_interval(input_batch)),
    unique_combination_of_columns(columns := (model_id, lang, uuid, neuron_id), condition := @computed_in_interval(input_batch)),
    accepted_range(column := neuron_rank, min_v := 1, max_v := @VAR('k_neurons'), condition := @computed_in_interval(input_batch)),
    accepted_range(column := layer, min_v := 0, condition := @computed_in_interval(input_batch)),
    accepted_range(column := score, min_v := 0, condition := @computed_in_interval(input_batch)),
    probeless_population_member,
    current_partitions(inputs := intermediate.int_probeless_population)
  )
);

WITH population AS (
  SELECT * FROM intermediate.int_probeless_population
), population_sizes AS (
  SELECT model_id, lang, count(DISTINCT uuid) AS n_population
  FROM population
  GROUP BY model_id, lang
), changed_partitions AS (
  SELECT changed.*, population_sizes.n_population
  FROM (@changed_partitions(intermediate.int_probeless_population, @this_model)) AS changed
  JOIN population_sizes USING (model_id, lang)
  WHERE population_sizes.n_population >= 2
), members AS (
  /* small integer keys: sorting on them is much faster than on (model_id, lang, uuid) strings */
  SELECT
    facts.*,
    changed_partitions.input_batch,
    changed_partitions.n_population,
    dense_rank() OVER (ORDER BY facts.model_id, facts.lang) AS partition_no,
    row_number() OVER (ORDER BY facts.model_id, facts.lang, facts.uuid) AS member_no
  FROM (SELECT DISTINCT model_id, lang, uuid FROM population) AS facts
  JOIN changed_partitions
    ON changed_partitions.model_id = facts.model_id AND changed_partitions.lang = facts.lang
), neuron_values AS (
  SELECT
    members.partition_no,
    members.member_no,
    members.n_population,
    population.layer * len(population.activations) + unnest(range(len(population.activations))) AS neuron_id,
    unnest(population.activations) AS value
  FROM population
  JOIN members
    ON members.model_id = population.model_id
    AND members.lang = population.lang
    AND members.uuid = population.uuid
), prefix_sums AS (
  /* Per neuron, in value order: how many values are <= this one, their sum, and the total. */
  SELECT
    member_no,
    neuron_id,
    n_population,
    value,
    count(*) OVER by_value AS n_at_most,
    sum(value::DOUBLE) OVER by_value AS sum_at_most,
    sum(value::DOUBLE) OVER (by_value ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS total
  FROM neuron_values
  WINDOW by_value AS (PARTITION BY partition_no, neuron_id ORDER BY value)
), scores AS (
  /* sum over g of |v - v_g| = v * (2 * n_at_most - m) + total - 2 * sum_at_most, ties included */
  SELECT
    member_no,
    neuron_id,
    (value * (2 * n_at_most - n_population) + total - 2 * sum_at_most) / (n_population - 1) AS score
  FROM prefix_sums
), top_neurons AS (
  SELECT
    member_no,
    max_by({'neuron_id': neuron_id, 'score': score}, (score, -neuron_id), @VAR('k_neurons')) AS top
  FROM scores
  GROUP BY member_no
), ranked AS (
  SELECT
    members.model_id,
    members.lang,
    members.uuid,
    members.input_batch,
    unnest(top_neurons.top) AS neuron,
    unnest(range(1, len(top_neurons.top) + 1)) AS neuron_rank
  FROM top_neurons
  JOIN members USING (member_no)
), models AS (
  SELECT * FROM staging.stg_models
)
SELECT
  ranked.model_id::TEXT AS model_id, -- model identity
  ranked.lang::TEXT AS lang, -- language
  ranked.uuid::TEXT AS uuid, -- fact id
  ranked.neuron_rank::INT AS neuron_rank, -- 1 = highest PROBELESS score
  ranked.neuron.neuron_id::INT AS neuron_id, -- layer * d_ff + neuron_index
  (ranked.neuron.neuron_id // models.d_ff)::INT AS layer, -- transformer layer, 0-based
  (ranked.neuron.neuron_id % models.d_ff)::INT AS neuron_index, -- index within the layer's FFN
  ranked.neuron.score::DOUBLE AS score, -- mean |a_n(f) - a_n(g)| over the other facts g of the population
  ranked.input_batch::BIGINT AS input_batch, -- newest load batch behind this partition
  now()::TIMESTAMPTZ AS computed_at -- when this partition was last computed
FROM ranked
JOIN models
  ON models.model_id = ranked.model_id;

/* Partitions whose population changed to fewer than two facts, or to none, are not recomputed above: remove them. */
@IF(@runtime_stage = 'evaluating', @delete_stale_partitions(intermediate.int_probeless_population, @this_model));
