"""A build database written by an older factroots gains the columns declared since, its rows kept."""
from __future__ import annotations

import duckdb

from raw import db
from raw.tables import MODELS, Column, Table


def test_an_older_table_is_rebuilt_with_the_declared_columns(tmp_path):
    path = tmp_path / "build.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw")
    # raw.models as an older factroots wrote it: no `family`, and the columns in another order
    con.execute("CREATE TABLE raw.models (name_or_path TEXT, model_id TEXT, weights_sha256 TEXT, "
                "registered_at TIMESTAMPTZ)")
    con.execute("INSERT INTO raw.models VALUES ('m', 'm@000000000000', 'ab', '2026-01-01 00:00:00+00')")
    con.close()

    db.connect(path).close()
    db.connect(path).close()  # a second connect finds nothing to do

    con = duckdb.connect(str(path), read_only=True)
    columns = [c for (c,) in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'raw' "
                                         "AND table_name = 'models' ORDER BY column_index").fetchall()]
    rows = con.execute("SELECT model_id, name_or_path, weights_sha256, family FROM raw.models").fetchall()
    tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'").fetchall()}
    con.close()
    assert columns == MODELS.names
    assert rows == [("m@000000000000", "m", "ab", None)]
    assert "models_older" not in tables


def test_a_new_not_null_column_takes_its_default(tmp_path, monkeypatch):
    path = tmp_path / "build.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.notes (lang TEXT NOT NULL)")
    con.execute("INSERT INTO raw.notes VALUES ('en'), ('fr')")
    con.close()
    notes = Table("notes", "test table", (Column("lang", "TEXT", "language", True),
                                          Column("set_name", "TEXT", "set", True, "'mlama'")))
    monkeypatch.setattr(db, "TABLES", (notes,))
    db.connect(path).close()
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT lang, set_name FROM raw.notes ORDER BY lang").fetchall() == [("en", "mlama"),
                                                                                              ("fr", "mlama")]
    con.close()
