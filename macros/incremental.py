"""Macros shared by the incremental intermediate models: which partitions (or language pairs) need computing."""
from sqlglot import exp
from sqlmesh import macro


@macro()
def changed_partitions(evaluator, inputs: exp.Expression, this_model: exp.Expression) -> exp.Expression:
    """Rows of `inputs` (model_id, lang, input_batch, ...) whose (model_id, lang, input_batch) is
    not yet in `this_model`: partitions that are new or whose inputs changed."""
    return exp.maybe_parse(f"""
        SELECT inputs.*
        FROM {inputs.sql('duckdb')} AS inputs
        ANTI JOIN (SELECT DISTINCT model_id, lang, input_batch FROM {this_model.sql('duckdb')}) AS done
          ON done.model_id = inputs.model_id AND done.lang = inputs.lang AND done.input_batch = inputs.input_batch
    """, dialect="duckdb")


@macro()
def changed_pairs(evaluator, partitions: exp.Expression, this_model: exp.Expression) -> exp.Expression:
    """Ordered pairs of different languages of one model, from `partitions` (model_id, lang,
    input_batch), that are new in `this_model` or involve a language whose inputs changed."""
    return exp.maybe_parse(f"""
        WITH partitions AS ({partitions.sql('duckdb')}),
        pairs AS (
          SELECT a.model_id, a.lang AS lang_a, b.lang AS lang_b,
                 a.input_batch AS input_batch_a, b.input_batch AS input_batch_b
          FROM partitions AS a
          JOIN partitions AS b ON b.model_id = a.model_id AND b.lang <> a.lang
        )
        SELECT pairs.*
        FROM pairs
        ANTI JOIN (SELECT DISTINCT model_id, lang_a, lang_b, input_batch_a, input_batch_b
                   FROM {this_model.sql('duckdb')}) AS done
          ON done.model_id = pairs.model_id AND done.lang_a = pairs.lang_a AND done.lang_b = pairs.lang_b
         AND done.input_batch_a = pairs.input_batch_a AND done.input_batch_b = pairs.input_batch_b
    """, dialect="duckdb")
