MODEL (
  name marts.fact_classification,
  kind VIEW,
  grain (model_id, corpus, lang, uuid),
  references (model_id AS models, fact_type AS fact_types, absence_reason AS absence_reason_types),
  description 'Where each correctly predicted fact comes from (METHOD.md, "Fact classification"), at the theta setting: language_independent (present, not cross-lingual), cross_lingual_shared (present, cross-lingual), cross_lingual_transferred (absent for no visible reason, correct and present elsewhere: see source_candidates), inferred (absent, with shared entity tokens or a naming cue: see absence_reason), unattributed (the rest).'
);

SELECT * FROM intermediate.int_fact_classification
