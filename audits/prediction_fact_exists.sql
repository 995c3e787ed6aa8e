AUDIT (
  name prediction_fact_exists,
  blocking true
);
-- Every prediction refers to a fact that exists in its language.
SELECT predictions.*
FROM @this_model AS predictions
ANTI JOIN raw.mlama_facts AS facts
  ON facts.lang = predictions.lang AND facts.uuid = predictions.uuid
