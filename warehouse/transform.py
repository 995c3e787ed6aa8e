"""Run the SQLMesh models over the raw tables: plan model changes, then process new data."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from sqlmesh import Context
from sqlmesh.core.context import CompletionStatus
from sqlmesh.core.console import NoopConsole, TerminalConsole, set_console
from sqlmesh.utils.errors import SQLMeshError

from warehouse.settings import ROOT, Settings

# Builds are forced: each run gets an execution time one cron interval after the last one.
CRON_STEP = timedelta(minutes=5)


class TransformError(Exception):
    """A model or a blocking audit failed; nothing was published."""


class _RecordFailures:
    """Keeps one line per failed model or audit, whatever the console shows."""

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


def _next_execution_time(ctx: Context) -> datetime:
    adapter = ctx.engine_adapter
    adapter.execute("CREATE TABLE IF NOT EXISTS raw.transform_runs (executed_for TIMESTAMPTZ, started_at TIMESTAMPTZ)")
    last = adapter.fetchone("SELECT max(executed_for) FROM raw.transform_runs")[0]
    now = datetime.now(timezone.utc)
    when = max(now, last + CRON_STEP) if last else now
    adapter.execute(f"INSERT INTO raw.transform_runs VALUES ('{when.isoformat()}', now())")
    return when


def transform(settings: Settings, progress: bool = True) -> None:
    """Apply model changes to prod, then compute what new raw data calls for."""
    ctx = context(settings, progress)
    try:
        plan = ctx.plan("prod", auto_apply=True, no_prompts=True, skip_tests=True)
        when = _next_execution_time(ctx)
        if plan.requires_backfill:  # the plan just computed everything up to now
            return
        status = ctx.run("prod", execution_time=when, end=when, ignore_cron=True, skip_janitor=True)
    except SQLMeshError as error:
        raise TransformError(_failure(ctx, str(error))) from error
    finally:
        ctx.close()
    if status == CompletionStatus.FAILURE:
        raise TransformError(_failure(ctx, "a model or a blocking audit failed"))


def _failure(ctx: Context, fallback: str) -> str:
    failures = getattr(ctx.console, "failures", [])
    return "; ".join(failures) + "; nothing was published" if failures else fallback
