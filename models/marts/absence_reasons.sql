MODEL (
  name marts.absence_reasons,
  kind VIEW,
  grain (model_id, corpus, lang, uuid),
  references (model_id AS models, reason AS absence_reason_types),
  description 'Why a fact absent from the corpus is still predicted correctly (the paper''s Figure 8), first rule that holds: shared_entity_tokens (the normalised object is inside the normalised subject, or the labels share a subword token of the model), naming_cues (the relation is in the naming_relations setting), others.'
);

SELECT * FROM intermediate.int_absence_reasons
