MODEL (
  name intermediate.int_mlama_predictions,
  kind VIEW,
  grain (model_id, lang, uuid),
  description 'The predictions from mLAMA''s own template (template_id ''mlama''): one per (model, lang, fact), the query of the paper. Every model of the paper''s tables (P@1, overlaps, PROBELESS, classification) reads these; a template set leaves them, and their input batch, as they were.'
);

WITH mlama AS (
  SELECT * FROM intermediate.int_predictions WHERE template_id = 'mlama'
)
SELECT
  model_id, -- model identity (models)
  lang, -- language
  relation, -- relation
  uuid, -- fact id, the same across languages
  sub_label, -- subject label
  obj_label, -- gold object label
  labels_share_tokens, -- normalised object inside the normalised subject, or the labels share a subword token
  query, -- model input with k masks
  n_mask_tokens, -- k: object tokens in the filled sentence
  gold_text, -- gold object ids decoded
  pred_text, -- predicted ids decoded
  gold_log_prob, -- log-probability of the gold object (sum over masks)
  probe_status, -- probed, skipped (see skip_reason) or not_probed yet
  skip_reason, -- why the query was not built (too_long, ...)
  is_correct, -- full match, as the probe decided it
  max(query_batch) OVER (PARTITION BY model_id, lang) AS input_batch -- newest load batch behind the (model, lang)'s mLAMA queries
FROM mlama
