"""Run the SQLMesh models over the raw tables: plan model changes, then process new data."""
from __future__ import annotations

import logging
import warnings
from datetime import datetime, timedelta

from sqlmesh import Context
from sqlmesh.core.context import CompletionStatus
from sqlmesh.core.console import NoopConsole, TerminalConsole, set_console
from sqlmesh.core.node import IntervalUnit
from sqlmesh.utils.date import to_datetime
from sqlmesh.utils.errors import SQLMeshError

from warehouse.checks import CheckResult
from warehouse.settings import ROOT, Settings

# SQLMesh's built-in accepted_range audit compiles `<number> is not None` each time it runs.
warnings.filterwarnings("ignore", message='"is not" with a literal', category=SyntaxWarning)


class TransformError(Exception):
    """A model or a blocking audit failed; nothing was published."""


class _RecordFailures:
    """Keeps one line per failed unit test, model or audit, whatever the console shows."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.failures: list[str] = []

    def log_failed_models(self, errors) -> None:
        for error in errors:
            name = (getattr(error.node, "name", None) or getattr(error.node, "snapshot_name", "?")).replace('"', "")
            cause = error.__cause__ or error
            detail = " ".join(str(cause).split())[:300]
            self.failures.append(f"{name}: {type(cause).__name__}: {detail}")
        super().log_failed_models(errors)

    def log_test_results(self, result, target_dialect: str) -> None:
        for test, _ in result.failures + result.errors:
            self.failures.append(f"unit test {test.test_name} ({test.path.name}) failed")
        super().log_test_results(result, target_dialect)


class QuietConsole(_RecordFailures, NoopConsole):
    pass


class ProgressConsole(_RecordFailures, TerminalConsole):
    pass


def context(settings: Settings, progress: bool = True) -> Context:
    """A SQLMesh context on this project and the settings' build database.

    SQLMesh's console (its plan tree and a line per model run) shows only with `progress` and the
    "sqlmesh" logger at INFO (`factroots --verbose`); otherwise failures are recorded, not shown."""
    sqlmesh_logger = logging.getLogger("sqlmesh")
    verbose = progress and sqlmesh_logger.isEnabledFor(logging.INFO)
    set_console(ProgressConsole() if verbose else QuietConsole())
    if not verbose:
        sqlmesh_logger.setLevel(logging.ERROR)
    return Context(paths=ROOT, config=settings.sqlmesh_config)


def _clock(ctx: Context, settings: Settings) -> datetime:
    """SQLMesh's execution time: the models' start plus one cron step (model_defaults.cron) per load
    batch so far, so batch b is the interval [start + b * step, start + (b + 1) * step).

    A build with no new batch finds every interval done and computes nothing; a new batch is a
    new interval, whose run lets the incremental models find the partitions that changed (and
    their audits check only those: macros/incremental.py, computed_in_interval)."""
    defaults = settings.sqlmesh_config.model_defaults
    newest = ctx.engine_adapter.fetchone("SELECT coalesce(max(load_batch), 0) FROM raw.load_batches")[0]
    step = timedelta(seconds=IntervalUnit.from_cron(defaults.cron).seconds)
    return to_datetime(defaults.start) + (newest + 1) * step


def transform(ctx: Context, settings: Settings, plan: bool = True, changed: set[str] | None = None) -> None:
    """Unit-test and apply model changes to prod, then compute what new load batches call for.

    `plan=False` skips the first step, for a project unchanged since it was last applied. With
    `changed` (the raw tables written since the last build), only the models that read one of them
    are run, and of those no view without audits (a view reads its inputs when queried): the other
    models' inputs are as they were, so their tables are too."""
    selected = None if changed is None else [
        model.name for model in ctx.models.values()
        if (model.kind.is_materialized or model.audits) and raw_sources(ctx, model) & changed]
    try:
        clock = _clock(ctx, settings)
        if plan:
            ctx.plan("prod", auto_apply=True, no_prompts=True, execution_time=clock)
        if selected == []:
            return
        status = ctx.run("prod", execution_time=clock, end=clock, ignore_cron=True, skip_janitor=True,
                         select_models=selected, no_auto_upstream=True)
    except SQLMeshError as error:
        raise TransformError(_failure(ctx, str(error))) from error
    if status == CompletionStatus.FAILURE:
        raise TransformError(_failure(ctx, "a model or a blocking audit failed"))


def audit_everything(ctx: Context, settings: Settings) -> list[CheckResult]:
    """Every model's SQLMesh audits over all its rows: from the models' start, not just the
    partitions a run computed. One result per model with audits."""
    start, end = settings.sqlmesh_config.model_defaults.start, _clock(ctx, settings)
    results = []
    for model in ctx.models.values():
        if not model.audits:
            continue
        try:
            passed = ctx.audit(start=start, end=end, models=iter([model.name]))
            detail = ""
        except Exception as error:  # an audit over a model never built
            passed, detail = False, str(error).splitlines()[0]
        results.append(CheckResult("sqlmesh", f"audits of {model.name}", passed, detail))
    return results


def raw_sources(ctx: Context, model) -> set[str]:
    """The raw tables a model reads, directly or through other models: {"raw.table", ...}."""
    upstream = [ctx.get_model(name) for name in ctx.dag.upstream(model.fqn)]
    return {source.name for source in upstream if source.schema_name == "raw"}


def mart_sources(ctx: Context) -> dict[str, set[str]]:
    """Each mart's raw sources: {mart name: {"raw.table", ...}}."""
    return {mart.name.removeprefix("marts."): raw_sources(ctx, mart)
            for mart in ctx.models.values() if mart.schema_name == "marts"}


def _failure(ctx: Context, fallback: str) -> str:
    failures = getattr(ctx.console, "failures", [])
    return "; ".join(failures) + "; nothing was published" if failures else fallback
