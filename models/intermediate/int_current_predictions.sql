MODEL (
  name intermediate.int_current_predictions,
  kind VIEW,
  description 'The latest probe result of each (model, lang, fact, template) whose query inputs still match the fact as loaded now; results from an older template or label are dropped.',
  grain (model_id, lang, uuid, template_id)
);

WITH predictions AS (
  SELECT * FROM staging.stg_predictions
), facts AS (
  SELECT * FROM intermediate.int_facts
), matching AS (
  SELECT predictions.*
  FROM predictions
  JOIN facts
    ON facts.lang = predictions.lang
    AND facts.uuid = predictions.uuid
    AND facts.relation = predictions.relation
    AND facts.template_id = predictions.template_id
    AND facts.template = predictions.template
    AND facts.sub_label = predictions.sub_label
    AND facts.obj_label = predictions.obj_label
)
SELECT
  model_id, -- model identity
  lang, -- language
  uuid, -- fact id
  template_id, -- template the query was built from
  labels_share_tokens, -- object inside subject, or a shared subword token
  query, -- model input with k masks
  n_mask_tokens, -- k
  gold_token_ids, -- gold object ids
  pred_token_ids, -- predicted ids
  gold_text, -- gold ids decoded
  pred_text, -- predicted ids decoded
  gold_log_prob, -- log-probability of the gold object
  is_correct, -- full match, as the probe decided it
  skip_reason, -- why not probed; NULL when probed
  load_batch -- batch that loaded this result
FROM matching
QUALIFY row_number() OVER (PARTITION BY model_id, lang, uuid, template_id ORDER BY load_batch DESC) = 1
