AUDIT (
  name correct_only_if_probed,
  blocking true
);
-- A fact can only be correct when it was probed and has at least one mask. Reads the rows computed in
-- the interval audited (computed_in_interval in macros/incremental.py).
SELECT *
FROM @this_model
WHERE is_correct AND (probe_status <> 'probed' OR n_mask_tokens IS NULL OR n_mask_tokens < 1)
  AND @computed_in_interval(input_batch)
