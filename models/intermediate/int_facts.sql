MODEL (
  name intermediate.int_facts,
  kind VIEW,
  description 'Each fact with each template of its relation in its language (mLAMA''s own and the template sets''): the inputs of one query.',
  grain (lang, uuid, template_id)
);

WITH facts AS (
  SELECT * FROM staging.stg_mlama_facts
), templates AS (
  SELECT * FROM staging.stg_mlama_templates
)
SELECT
  facts.lang, -- language
  facts.relation, -- relation
  facts.uuid, -- fact id
  facts.sub_uri, -- subject Wikidata id
  facts.obj_uri, -- object Wikidata id
  facts.sub_label, -- subject label
  facts.obj_label, -- object label
  templates.template, -- a template of the relation in this language
  templates.template_id, -- its id: 'mlama' for mLAMA's own
  greatest(facts.load_batch, templates.load_batch) AS fact_batch -- newest load batch behind the query
FROM facts
JOIN templates
  ON templates.lang = facts.lang AND templates.relation = facts.relation
