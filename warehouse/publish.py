"""Publish the checked marts: a fresh DuckDB file swapped in atomically for the one users query."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from warehouse.dictionary import PublishedTable
from warehouse.settings import Settings


def _sql_string(text: str | None) -> str:
    return "'" + (text or "").replace("'", "''") + "'"


def publish(settings: Settings, marts: list[PublishedTable], changed: set[str] | None = None) -> int:
    """Copy the marts, with their descriptions as comments, into a new file, then swap it in.

    With `changed`, only those marts are copied anew into a copy of the published file, and the
    others carried over as they are (none changed: the file is left as it is). Returns the number
    of marts copied anew."""
    target = settings.published_database
    if not target.exists():
        changed = None  # nothing to carry over
    tables = [t for t in marts if changed is None or t.name in changed]
    if not tables:
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".new")
    tmp.unlink(missing_ok=True)
    if changed is not None:
        shutil.copyfile(target, tmp)
    build = settings.build_database
    con = duckdb.connect(str(tmp))
    try:
        # SQLMesh's views name the build file's catalog, so attach it under its own name.
        con.execute(f"ATTACH {_sql_string(str(build))} AS {build.stem} (READ_ONLY)")
        for table in tables:
            con.execute(f"CREATE OR REPLACE TABLE main.{table.name} AS SELECT * FROM {build.stem}.marts.{table.name}")
            con.execute(f"COMMENT ON TABLE main.{table.name} IS {_sql_string(table.description)}")
            for column, _, text in table.columns:
                con.execute(f"COMMENT ON COLUMN main.{table.name}.{column} IS {_sql_string(text)}")
        con.execute(f"DETACH {build.stem}")
        con.close()
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)
    return len(tables)
