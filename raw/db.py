"""The build database: connection (creating the raw tables), transactions, load batches, inserts."""
from __future__ import annotations

import contextlib
import re
from pathlib import Path

import duckdb
import pyarrow as pa

from raw.tables import TABLES, Table


class DatabaseLockedError(Exception):
    """Another process holds the build database."""


def open_build_database(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A writing connection to the build database, or one line on who holds it."""
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as error:
        if "Could not set lock" not in str(error):
            raise
        holder = re.search(r"held in (.*?)\.( However|$)", str(error))
        raise DatabaseLockedError(
            f"{path} is held by another process ({holder[1] if holder else 'a DuckDB connection'}): only one "
            f"process may open the build database; readers belong on the published file") from None


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the build database, creating the raw tables (with their comments) on first use."""
    path = Path(path)
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = open_build_database(path)
    existing = {}
    for name, column in con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'raw' "
            "AND database_name = current_database() ORDER BY table_name, column_index").fetchall():
        existing.setdefault(name, []).append(column)
    missing = [table for table in TABLES if table.name not in existing]
    older = [table for table in TABLES if table.name in existing and existing[table.name] != table.names]
    if missing or older:
        with transaction(con):
            con.execute("CREATE SCHEMA IF NOT EXISTS raw")
            con.execute("CREATE SEQUENCE IF NOT EXISTS raw.load_batch_seq START 1")
            for table in missing:
                _create(con, table)
            for table in older:
                _upgrade(con, table, existing[table.name])
    return con


def _create(con, table: Table) -> None:
    con.execute(table.ddl())
    for statement in table.comments():
        con.execute(statement)


def _upgrade(con, table: Table, columns: list[str]) -> None:
    """Rebuild a raw table written by an older factroots with the declared columns, in their order:
    rows keep their values, and a column they lack takes its declared default (else NULL)."""
    kept = ", ".join(c for c in columns if c in table.names)
    con.execute(f"ALTER TABLE {table.qualified} RENAME TO {table.name}_older")
    _create(con, table)
    con.execute(f"INSERT INTO {table.qualified} BY NAME SELECT {kept} FROM raw.{table.name}_older")
    con.execute(f"DROP TABLE raw.{table.name}_older")


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """All or nothing: commit on success, roll back on any error or Ctrl-C."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def new_batch(con, kind: str, source: str, lang: str | None, content_sha256: str | None,
              n_rows: int, n_quarantined: int) -> int:
    """Record a load batch (inside the caller's transaction) and return its id."""
    return con.execute(
        "INSERT INTO raw.load_batches VALUES (nextval('raw.load_batch_seq'), ?, ?, ?, ?, ?, ?, now()) "
        "RETURNING load_batch",
        [kind, source, lang, content_sha256, n_rows, n_quarantined],
    ).fetchone()[0]


def insert(con, table: Table, rows: pa.Table, **constants) -> None:
    """Append `rows` to `table`, by column name; `constants` fill columns the rows lack (load_batch,
    shard_file, ...) and `loaded_at` defaults to now."""
    values = []
    for name in table.names:
        if name in rows.column_names:
            values.append(f'rows."{name}"')
        elif name in constants:
            values.append(f"${name}")
        elif name == "loaded_at":
            values.append("now()")
        else:
            raise ValueError(f"{table.qualified}: no value for column {name}")
    con.register("rows", rows)
    try:
        con.execute(f"INSERT INTO {table.qualified} ({', '.join(table.names)}) SELECT {', '.join(values)} FROM rows",
                    {k: v for k, v in constants.items() if k in table.names} or None)
    finally:
        con.unregister("rows")
