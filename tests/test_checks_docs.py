"""The great-expectations suites published as GX Data Docs, failures included."""
from __future__ import annotations

import re

import duckdb

from ingest.mlama import ingest_mlama
from test_sql_models import MODEL, PREDICTIONS, release_for, write_predictions
from warehouse.build import build
from warehouse.checks import run_expectations
from warehouse.cli import main
from warehouse.settings import load_settings


def test_data_docs_list_every_suite_and_show_a_failure(settings, tmp_path, capsys):
    ingest_mlama(settings.build_database, release_for(tmp_path, ["en"]), progress=False)
    write_predictions(settings, "en")
    build(settings, progress=False)
    con = duckdb.connect(str(settings.build_database))
    try:  # two masked tokens for a one-token gold object
        con.execute("INSERT INTO raw.predictions BY NAME SELECT * REPLACE (2 AS n_mask_tokens) "
                    "FROM raw.predictions WHERE model_id = ? AND uuid = 'u1'", [MODEL])
    finally:
        con.close()

    docs = tmp_path / "docs"
    results = run_expectations(settings.build_database, docs_dir=docs)

    failed = [r for r in results if not r.passed]
    assert [(r.suite, r.check) for r in failed] == [
        ("raw_predictions", "expect_column_pair_values_to_be_equal n_mask_tokens/n_gold")]
    assert failed[0].detail == f"1 unexpected of {len(PREDICTIONS['en']) + 1}"
    index = (docs / "index.html").read_text()
    checked = {r.suite for r in results if r.check != "table exists"}
    assert checked >= {"raw_mlama_facts", "raw_predictions", "marts_p_at_1"}
    for suite in checked:  # each suite's validation page, linked from the index, with its status
        assert suite in index
        [page] = (docs / "validations" / suite).rglob("*.html")
        assert page.relative_to(docs).as_posix() in index
        status = re.search(r"Status:</span>.*?</i> (\w+)", page.read_text(), re.S).group(1)
        assert status == ("Failed" if suite == "raw_predictions" else "Succeeded")
    # the default (no docs) path reports the same
    assert [r.line() for r in run_expectations(settings.build_database)] == [r.line() for r in results]

    out = tmp_path / "report"
    assert main(["--data-dir", str(settings.build_database.parent), "report", "--out", str(out)]) == 0
    assert f"data docs written: {out / 'data_docs' / 'index.html'}" in capsys.readouterr().out
    assert "raw_predictions" in (out / "data_docs" / "index.html").read_text()


def test_report_in_a_data_directory_whose_path_holds_a_dollar(tmp_path, capsys):
    """GX reads `$b` in a store path as a variable: a data directory under `a$b` must not crash the docs."""
    settings = load_settings(tmp_path / "a$b" / "data")
    ingest_mlama(settings.build_database, release_for(tmp_path, ["en"]), progress=False)
    write_predictions(settings, "en")
    build(settings, progress=False)

    assert main(["--data-dir", str(settings.build_database.parent), "report"]) == 0
    docs = settings.published_database.parent / "report" / "data_docs"
    assert f"data docs written: {docs / 'index.html'}" in capsys.readouterr().out
    index = (docs / "index.html").read_text()
    for suite in ("raw_mlama_facts", "raw_predictions", "marts_p_at_1"):
        [page] = (docs / "validations" / suite).rglob("*.html")
        assert page.relative_to(docs).as_posix() in index
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a$b", "release"]  # nothing written elsewhere
