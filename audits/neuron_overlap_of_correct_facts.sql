AUDIT (
  name neuron_overlap_of_correct_facts,
  blocking true
);
-- Every neuron-overlap row belongs to a fact correct now in both languages, with active neurons in both.
WITH correct_with_neurons AS (
  SELECT predictions.model_id, predictions.lang, predictions.uuid
  FROM intermediate.int_mlama_predictions AS predictions
  SEMI JOIN intermediate.int_active_neurons AS active_neurons
    ON active_neurons.model_id = predictions.model_id
    AND active_neurons.lang = predictions.lang
    AND active_neurons.uuid = predictions.uuid
  WHERE predictions.is_correct
)
SELECT stored.*
FROM @this_model AS stored
ANTI JOIN correct_with_neurons AS a
  ON a.model_id = stored.model_id AND a.lang = stored.lang_a AND a.uuid = stored.uuid
UNION ALL
SELECT stored.*
FROM @this_model AS stored
ANTI JOIN correct_with_neurons AS b
  ON b.model_id = stored.model_id AND b.lang = stored.lang_b AND b.uuid = stored.uuid
