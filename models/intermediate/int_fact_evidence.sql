MODEL (
  name intermediate.int_fact_evidence,
  kind VIEW,
  description 'Everything the fact classification looks at, per correct (model, corpus, lang, fact): presence, the absence reason, the highest neuron overlap with another language where the fact is correct, and the other languages where it is correct and present.',
  grain (model_id, corpus, lang, uuid)
);

WITH correct AS (
  SELECT model_id, lang, uuid, relation FROM intermediate.int_mlama_predictions WHERE is_correct
), traced AS (
  SELECT correct.*, presence.corpus, presence.is_present
  FROM correct
  JOIN staging.stg_fact_presence AS presence
    ON presence.lang = correct.lang AND presence.uuid = correct.uuid
), overlap AS (
  SELECT model_id, lang_a AS lang, uuid, max(jaccard) AS max_neuron_overlap
  FROM intermediate.int_neuron_overlap
  GROUP BY ALL
), sources AS (
  SELECT
    traced.model_id,
    traced.corpus,
    traced.lang,
    traced.uuid,
    list(other.lang ORDER BY other.lang) AS source_candidates
  FROM traced
  JOIN traced AS other
    ON other.model_id = traced.model_id
    AND other.corpus = traced.corpus
    AND other.uuid = traced.uuid
    AND other.lang <> traced.lang
  WHERE other.is_present
  GROUP BY ALL
)
SELECT
  traced.model_id, -- model identity
  traced.corpus, -- corpus traced
  traced.lang, -- language
  traced.uuid, -- fact id
  traced.relation, -- relation
  traced.is_present, -- the fact occurs in this language's corpus
  reasons.reason AS absence_reason, -- why it is predicted anyway (absent facts only)
  overlap.max_neuron_overlap, -- highest neuron overlap with another language where it is correct
  sources.source_candidates -- other languages where it is correct and present in the corpus
FROM traced
LEFT JOIN intermediate.int_absence_reasons AS reasons
  ON reasons.model_id = traced.model_id
  AND reasons.corpus = traced.corpus
  AND reasons.lang = traced.lang
  AND reasons.uuid = traced.uuid
LEFT JOIN overlap
  ON overlap.model_id = traced.model_id AND overlap.lang = traced.lang AND overlap.uuid = traced.uuid
LEFT JOIN sources
  ON sources.model_id = traced.model_id
  AND sources.corpus = traced.corpus
  AND sources.lang = traced.lang
  AND sources.uuid = traced.uuid
