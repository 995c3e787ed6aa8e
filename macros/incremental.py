"""Macros shared by the incremental intermediate models: which partitions (or language pairs) need
computing, and which stored ones are stale.

A partition (model_id, lang) is valid while the input_batch stored with its rows is the newest
input_batch of its inputs. `changed_*` select the partitions the inputs hold and the model does not
(new, or inputs changed); `delete_stale_*` remove, after a run, the partitions the model holds and
its inputs no longer do (inputs changed, or gone: an incremental model only ever replaces the
partitions its query returns, so a partition that becomes empty is removed here or never)."""
from sqlglot import exp
from sqlmesh import macro
from sqlmesh.utils.date import to_timestamp

PARTITION_KEYS = ("model_id", "lang", "input_batch")
PAIR_KEYS = ("model_id", "lang_a", "lang_b", "input_batch_a", "input_batch_b")


def _partitions(inputs: exp.Expression) -> str:
    """(model_id, lang, input_batch): the newest input batch of each (model, lang) of `inputs`."""
    return f"SELECT model_id, lang, max(input_batch) AS input_batch FROM {inputs.sql('duckdb')} GROUP BY model_id, lang"


def _pairs(inputs: exp.Expression) -> str:
    """Ordered pairs of different languages of one model, with the newest input batch of each."""
    return f"""
        WITH partitions AS ({_partitions(inputs)})
        SELECT a.model_id, a.lang AS lang_a, b.lang AS lang_b,
               a.input_batch AS input_batch_a, b.input_batch AS input_batch_b
        FROM partitions AS a
        JOIN partitions AS b ON b.model_id = a.model_id AND b.lang <> a.lang"""


def _same(keys: tuple[str, ...], left: str, right: str) -> str:
    return " AND ".join(f"{left}.{key} = {right}.{key}" for key in keys)


def _changed(latest: str, this_model: exp.Expression, keys: tuple[str, ...]) -> exp.Expression:
    return exp.maybe_parse(f"""
        SELECT latest.*
        FROM ({latest}) AS latest
        ANTI JOIN (SELECT DISTINCT {', '.join(keys)} FROM {this_model.sql('duckdb')}) AS done
          ON {_same(keys, 'done', 'latest')}
    """, dialect="duckdb")


def _stale(latest: str, this_model: exp.Expression, keys: tuple[str, ...], delete: bool) -> exp.Expression:
    action = "DELETE" if delete else "SELECT stored.*"
    return exp.maybe_parse(f"""
        {action} FROM {this_model.sql('duckdb')} AS stored
        WHERE NOT EXISTS (SELECT 1 FROM ({latest}) AS latest WHERE {_same(keys, 'latest', 'stored')})
    """, dialect="duckdb")


@macro()
def changed_partitions(evaluator, inputs: exp.Expression, this_model: exp.Expression) -> exp.Expression:
    """(model_id, lang, input_batch) of the partitions of `inputs` (rows with model_id, lang,
    input_batch) whose newest input batch is not yet in `this_model`: new, or inputs changed."""
    return _changed(_partitions(inputs), this_model, PARTITION_KEYS)


@macro()
def changed_pairs(evaluator, inputs: exp.Expression, this_model: exp.Expression) -> exp.Expression:
    """Ordered pairs of different languages of one model, from `inputs` (rows with model_id, lang,
    input_batch), that are new in `this_model` or involve a language whose inputs changed."""
    return _changed(_pairs(inputs), this_model, PAIR_KEYS)


@macro()
def delete_stale_partitions(evaluator, inputs: exp.Expression, this_model: exp.Expression) -> exp.Expression:
    """Delete the rows of `this_model` whose (model_id, lang, input_batch) is not the newest of `inputs`."""
    return _stale(_partitions(inputs), this_model, PARTITION_KEYS, delete=True)


@macro()
def delete_stale_pairs(evaluator, inputs: exp.Expression, this_model: exp.Expression) -> exp.Expression:
    """Delete the rows of `this_model` whose language pair and input batches are not those of `inputs`."""
    return _stale(_pairs(inputs), this_model, PAIR_KEYS, delete=True)


@macro()
def stale_partitions(evaluator, inputs: exp.Expression, this_model: exp.Expression) -> exp.Expression:
    """The rows `delete_stale_partitions` deletes (none, after a run): for the audit current_partitions."""
    return _stale(_partitions(inputs), this_model, PARTITION_KEYS, delete=False)


@macro()
def computed_in_interval(evaluator, *batch_columns: exp.Expression) -> exp.Expression:
    """TRUE for the rows whose newest input batch (the greatest of `batch_columns`) falls in the
    interval being run or audited, for an audit's `condition`. SQLMesh's clock gives load batch b the
    interval [start + b * step, start + (b + 1) * step) of the model's start and cron
    (warehouse/transform.py): in a build's run, the audit of a partitioned model checks the
    partitions that run computed (the others passed when theirs did); `factroots check`, auditing
    from the model's start, checks every row."""
    start, this_model = evaluator.locals.get("start_millis"), evaluator.locals.get("this_model")
    if start is None or not isinstance(this_model, exp.Table):  # no interval, or not a model's table: every row
        return exp.true()
    models = [snapshot.node for snapshot in (evaluator.snapshots or {}).values()  # a table's name ends in its version
              if snapshot.is_model and snapshot.categorized and this_model.name.endswith(f"__{snapshot.version}")
              and exp.to_table(snapshot.table_name()).name == this_model.name]
    if len(models) != 1:
        return exp.true()
    first = (start - to_timestamp(models[0].start)) // models[0].interval_unit.milliseconds
    newest = batch_columns[0] if len(batch_columns) == 1 else exp.func("greatest", *batch_columns)
    return exp.GTE(this=newest, expression=exp.Literal.number(first))
