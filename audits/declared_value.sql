AUDIT (
  name declared_value,
  blocking true
);
-- Every value of @column is one of the names of the declared list @declared (a seed).
SELECT *
FROM @this_model
WHERE @column NOT IN (SELECT name FROM @declared)
