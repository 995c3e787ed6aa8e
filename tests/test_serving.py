"""Readers of the published warehouse keep working, and stay consistent, while a build runs."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ingest.mlama import ingest_mlama
from test_sql_models import release_for, write_predictions
from warehouse.build import build

READER = textwrap.dedent("""
    import sys, time, duckdb
    path, stop_file = sys.argv[1], sys.argv[2]
    reads = failures = inconsistent = 0
    seen = set()
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                langs = {r[0] for r in con.execute("SELECT lang FROM p_at_1").fetchall()}
                probed = {r[0] for r in con.execute("SELECT DISTINCT lang FROM predictions").fetchall()}
                pairs = con.execute("SELECT count(*) FROM language_overlap").fetchone()[0]
            finally:
                con.close()
            reads += 1
            seen.add(len(langs))
            if langs != probed or pairs != len(langs) * (len(langs) - 1):
                inconsistent += 1
        except Exception as error:
            failures += 1
            print("failure:", error, file=sys.stderr)
        if failures + inconsistent > 20:
            break
        try:
            open(stop_file).close()
            break
        except OSError:
            pass
    print(reads, failures, inconsistent, sorted(seen))
""")


def test_reads_during_a_build_never_fail_and_see_the_new_data(tmp_path, settings):
    ingest_mlama(settings.build_database, release_for(tmp_path, ["en", "fr"]), progress=False)
    for lang in ("en", "fr"):
        write_predictions(settings, lang)
    build(settings, progress=False)

    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(settings.published_database), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ingest_mlama(settings.build_database, release_for(tmp_path / "more", ["de"]), progress=False)
        write_predictions(settings, "de")
        build(settings, progress=False)
        write_predictions(settings, "de")  # probed again: a second publish while the reader keeps reading
        assert build(settings, progress=False) > 0
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=60)
    reads, failures, inconsistent, seen = out.split(" ", 3)
    assert int(reads) > 0
    assert (int(failures), int(inconsistent)) == (0, 0), err
    assert seen.strip() == "[2, 3]"  # the old tables until the publish, the new ones right after
    # after the publish, a new reader sees the third language at once
    import duckdb
    con = duckdb.connect(str(settings.published_database), read_only=True)
    assert con.execute("SELECT count(*) FROM p_at_1").fetchone()[0] == 3
    con.close()


def test_bi_tools_read_through_sqlalchemy(settings, tmp_path):
    ingest_mlama(settings.build_database, release_for(tmp_path, ["en"]), progress=False)
    write_predictions(settings, "en")
    build(settings, progress=False)
    import sqlalchemy
    engine = sqlalchemy.create_engine(f"duckdb:///{settings.published_database}",
                                      connect_args={"read_only": True})
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT lang, p_at_1 FROM p_at_1")).fetchall()
        tables = sqlalchemy.inspect(connection).get_table_names()
    engine.dispose()
    assert [lang for lang, _ in rows] == ["en"]
    assert {"p_at_1", "predictions", "fact_classification"} <= set(tables)


def test_a_pooled_sqlalchemy_reader_sees_each_new_build_with_the_recipe(settings, tmp_path):
    """The README's recipe: read-only in the URL, and NullPool, so each query opens the file anew (a pooled
    connection, and any open connection of the same process, keeps reading the file it opened)."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    ingest_mlama(settings.build_database, release_for(tmp_path, ["en", "fr"]), progress=False)
    write_predictions(settings, "en")
    build(settings, progress=False)
    engine = sqlalchemy.create_engine(f"duckdb:///{settings.published_database}?access_mode=read_only",
                                      poolclass=NullPool)

    def languages():
        with engine.connect() as connection:
            return sorted(r[0] for r in connection.execute(sqlalchemy.text("SELECT lang FROM p_at_1")))

    try:
        assert languages() == ["en"]
        with engine.connect() as connection, pytest.raises(sqlalchemy.exc.DBAPIError, match="read-only mode"):
            connection.execute(sqlalchemy.text("DELETE FROM p_at_1"))
        write_predictions(settings, "fr")
        build(settings, progress=False)
        assert languages() == ["en", "fr"]
    finally:
        engine.dispose()
