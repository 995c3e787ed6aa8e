AUDIT (
  name probeless_population_member,
  blocking true
);
-- Every active-neuron row belongs to a fact of the current PROBELESS population of its (model, lang)
-- (correct now; or probed now, with probeless_population = "all"), a population of at least two facts.
WITH members AS (
  SELECT DISTINCT model_id, lang, uuid FROM intermediate.int_probeless_population
), scored AS (
  SELECT members.*
  FROM members
  SEMI JOIN (SELECT model_id, lang FROM members GROUP BY model_id, lang HAVING count(*) >= 2) AS sizes
    ON sizes.model_id = members.model_id AND sizes.lang = members.lang
)
SELECT stored.*
FROM @this_model AS stored
ANTI JOIN scored
  ON scored.model_id = stored.model_id AND scored.lang = stored.lang AND scored.uuid = stored.uuid
