"""The whole build: check new raw data, run the models (with their audits), check the marts, publish."""
from __future__ import annotations

import contextlib

import duckdb

from raw import db
from warehouse import changes
from warehouse.checks import CheckResult, run_expectations
from warehouse.dictionary import describe_marts
from warehouse.publish import publish
from warehouse.settings import Settings
from warehouse.transform import audit_everything, context, mart_sources, transform


class CheckError(Exception):
    """Data-quality checks failed; the published warehouse was left as it was."""


def _require(results: list[CheckResult], stage: str) -> None:
    failed = [r for r in results if not r.passed]
    if failed:
        raise CheckError(f"{len(failed)} {stage} check(s) failed, nothing published; first: {failed[0].line()}")


def build(settings: Settings, progress: bool = True) -> int:
    """Check what is new, compute it, check the marts it changed, publish them. Any failed check
    leaves the published file untouched.

    Only the load batches since the last good build are checked, and only the marts that depend on
    the raw tables they wrote are checked and published anew (SQLMesh audits a partitioned model's
    new partitions); everything when the project or the settings changed since (warehouse.changes).
    Returns the number of marts published anew."""
    with contextlib.closing(db.connect(settings.build_database)) as con:  # one clear line when held
        now, last = changes.current_state(con, settings), changes.last_build(con)
        incremental = last is not None and last.project_sha256 == now.project_sha256 \
            and settings.published_database.exists()
        since = last.newest_batch if incremental else 0
        changed = changes.changed_tables(con, since) if incremental else None
    if incremental and now.newest_batch == since:
        return 0
    _require(run_expectations(settings.build_database, ("raw",), since=since), "raw-data")
    ctx = context(settings, progress)
    try:
        transform(ctx, settings, plan=not incremental, changed=changed)  # an unchanged project has nothing to plan
        if not incremental and last is not None:  # rows computed before still meet the changed project's audits
            _require(audit_everything(ctx, settings), "SQLMesh audit")
        sources, tables = mart_sources(ctx), describe_marts(ctx)
    finally:
        ctx.close()
    marts = None if changed is None else {mart for mart, raw in sources.items() if raw & changed}
    _require(run_expectations(settings.build_database, ("marts",), marts=marts), "mart")
    n_published = publish(settings, tables, marts)
    with contextlib.closing(db.connect(settings.build_database)) as con:
        changes.record_build(con, now, n_published)
    return n_published


def check(settings: Settings) -> tuple[list[str], int]:
    """Run every SQLMesh audit and great-expectations suite against the build database.

    Returns one line per check followed by the tally, and the number of checks that failed."""
    db.connect(settings.build_database).close()  # a held database is one error, not every audit failing
    ctx = context(settings, progress=False)
    try:
        results = audit_everything(ctx, settings)
    finally:
        ctx.close()
    results += run_expectations(settings.build_database)
    failed = sum(not r.passed for r in results)
    return [r.line() for r in results] + [f"{len(results) - failed} passed, {failed} failed"], failed


def summary(settings: Settings) -> list[str]:
    """A few lines on what the published warehouse holds."""
    path = settings.published_database
    if not path.exists():
        return [f"{path}: nothing published yet (run `factroots build`)"]
    con = duckdb.connect(str(path), read_only=True)
    try:
        lines = [f"published warehouse: {path}"]
        for model_id, family, n_lang, n_probed, n_correct, micro, macro in con.execute(
                "SELECT model_id, family, n_languages, n_probed, n_correct, p_at_1_micro, p_at_1_macro_languages "
                "FROM p_at_1_overall LEFT JOIN models USING (model_id) ORDER BY model_id").fetchall():
            lines.append(f"{model_id} ({family or 'unknown'} LM): {n_lang} languages, "
                         f"{n_correct:,}/{n_probed:,} facts correct, "
                         f"P@1 {micro:.3f} (micro), {macro:.3f} (mean over languages)")
            for lang, n, c, p in con.execute(
                    "SELECT lang, n_probed, n_correct, p_at_1 FROM p_at_1 WHERE model_id = ? "
                    "ORDER BY p_at_1 DESC, lang LIMIT 10", [model_id]).fetchall():
                lines.append(f"  {lang:>4}  P@1 {p:.3f}  ({c:,}/{n:,})")
            for lang, n_absent, n_facts, types in con.execute(
                    "SELECT a.lang, a.n_absent, a.n_facts, string_agg(c.fact_type || ' ' || c.n, ', ' "
                    "ORDER BY c.fact_type) FROM absence_rates a LEFT JOIN (SELECT lang, fact_type, count(*) AS n "
                    "FROM fact_classification WHERE model_id = $1 GROUP BY ALL) c USING (lang) "
                    "WHERE a.model_id = $1 GROUP BY ALL ORDER BY a.lang", [model_id]).fetchall():
                lines.append(f"  {lang:>4}  absent from the corpus: {n_absent}/{n_facts} facts; "
                             f"correct facts by type: {types or 'none'}")
        n_quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
        lines.append(f"quarantined input rows: {n_quarantined:,} (table quarantine)")
        return lines
    finally:
        con.close()
