"""Publish the checked marts: a fresh DuckDB file swapped in atomically for the one users query."""
from __future__ import annotations

import os
from pathlib import Path

import duckdb

from warehouse.settings import Settings
from warehouse.transform import context


def _sql_string(text: str | None) -> str:
    return "'" + (text or "").replace("'", "''") + "'"


def mart_descriptions(settings: Settings) -> dict[str, tuple[str, dict[str, str]]]:
    """{table: (description, {column: description})} for every model in the marts schema."""
    ctx = context(settings, progress=False)
    try:
        return {
            model.name.split(".")[-1].strip('"'): (model.description or "", dict(model.column_descriptions))
            for model in ctx.models.values() if model.schema_name == "marts"
        }
    finally:
        ctx.close()


def publish(settings: Settings) -> Path:
    """Copy every mart, with its descriptions as comments, into a new file, then swap it in."""
    marts = mart_descriptions(settings)
    target = settings.published_database
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".new")
    tmp.unlink(missing_ok=True)
    build = settings.build_database
    con = duckdb.connect(str(tmp))
    try:
        # SQLMesh's views name the build file's catalog, so attach it under its own name.
        con.execute(f"ATTACH {_sql_string(str(build))} AS {build.stem} (READ_ONLY)")
        for table, (description, columns) in sorted(marts.items()):
            con.execute(f"CREATE TABLE main.{table} AS SELECT * FROM {build.stem}.marts.{table}")
            con.execute(f"COMMENT ON TABLE main.{table} IS {_sql_string(description)}")
            for column, text in columns.items():
                con.execute(f"COMMENT ON COLUMN main.{table}.{column} IS {_sql_string(text)}")
        con.execute(f"DETACH {build.stem}")
        con.close()
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    return target
