AUDIT (
  name current_partitions,
  blocking true
);
-- Every row belongs to a (model_id, lang) partition computed from the newest input batch of @inputs:
-- nothing is left from inputs that changed or are gone.
SELECT * FROM (@stale_partitions(@inputs, @this_model))
