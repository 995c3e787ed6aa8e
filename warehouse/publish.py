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
    others carried over as they are (none changed: the file is left as it is); of a mart computed
    one partition at a time, only the partitions computed since are replaced. Returns the number
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
        carried = {name for (name,) in
                   con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()}
        for table in tables:
            source = f"{build.stem}.marts.{table.name}"
            if table.partition and table.name in carried:
                _replace_partitions(con, table, source)
                continue
            con.execute(f"CREATE OR REPLACE TABLE main.{table.name} AS SELECT * FROM {source}")
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


def _replace_partitions(con: duckdb.DuckDBPyConnection, table: PublishedTable, source: str) -> None:
    """Make a carried-over table equal its mart by partitions: a partition computed at a time the
    mart no longer holds is deleted, one the table does not hold yet is inserted; the rest (the
    same partition, computed at the same time) is already equal and stays."""
    keys = ", ".join(table.partition)
    same = " AND ".join(f"t.{column} IS NOT DISTINCT FROM k.{column}" for column in table.partition)
    con.execute(f"CREATE OR REPLACE TEMP TABLE stale AS SELECT DISTINCT {keys} FROM main.{table.name} "
                f"EXCEPT SELECT DISTINCT {keys} FROM {source}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE fresh AS SELECT DISTINCT {keys} FROM {source} "
                f"EXCEPT SELECT DISTINCT {keys} FROM main.{table.name}")
    con.execute(f"DELETE FROM main.{table.name} AS t USING stale AS k WHERE {same}")
    con.execute(f"INSERT INTO main.{table.name} BY NAME SELECT t.* FROM {source} AS t SEMI JOIN fresh AS k ON {same}")
