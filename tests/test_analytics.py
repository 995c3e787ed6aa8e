"""The dbt project in analytics/: its generated sources, and `dbt build` on a published warehouse."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from test_classification import CORRECT, FACTS, LANGS, MODEL, warehouse  # noqa: F401  (module fixture)
from warehouse.cli import main
from warehouse.dbt_sources import SOURCES_FILE, dbt_sources
from warehouse.settings import ROOT

DBT = Path(sys.executable).parent / "dbt"
FAMILY = {"en": "Germanic", "de": "Germanic", "fr": "Romance"}  # the seed's groups of the scenario's languages


def test_the_committed_sources_are_what_the_command_writes(settings, tmp_path, capsys):
    out = tmp_path / "sources.yml"
    assert main(["--data-dir", str(settings.build_database.parent), "--quiet", "dbt-sources", "--out", str(out)]) == 0
    assert f"dbt sources written: {out}" in capsys.readouterr().out
    assert out.read_text() == SOURCES_FILE.read_text() == dbt_sources(settings)


def test_sources_carry_descriptions_and_tests_from_the_grain_and_references():
    [source] = yaml.safe_load(SOURCES_FILE.read_text())["sources"]
    tables = {table["name"]: table for table in source["tables"]}
    assert {"predictions", "p_at_1", "models", "fact_classification", "fact_types"} <= set(tables)
    assert all(table["description"] and all(c["description"] for c in table["columns"]) for table in tables.values())
    tests = {c["name"]: c.get("data_tests", []) for c in tables["p_at_1"]["columns"]}
    assert tests["lang"] == ["not_null"] and tests["n_probed"] == []
    assert tests["model_id"] == ["not_null", {"relationships": {"arguments": {
        "to": "source('factroots', 'models')", "field": "model_id"}}}]
    assert tables["p_at_1"]["data_tests"] == [{"unique": {"column_name": "(model_id, lang)"}}]
    models = {c["name"]: c.get("data_tests", []) for c in tables["models"]["columns"]}
    assert models["model_id"] == ["not_null", "unique"] and "data_tests" not in tables["models"]
    fact_type = {c["name"]: c.get("data_tests", []) for c in tables["fact_classification"]["columns"]}["fact_type"]
    assert fact_type == [{"relationships": {"arguments": {"to": "source('factroots', 'fact_types')", "field": "name"}}}]


@pytest.fixture(scope="module")
def dbt_built(warehouse, tmp_path_factory):  # noqa: F811
    """`dbt build` of a copy of analytics/ against the scenario's published warehouse."""
    project = tmp_path_factory.mktemp("dbt") / "analytics"
    shutil.copytree(ROOT / "analytics", project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    published = warehouse.published_database
    before = hashlib.sha256(published.read_bytes()).hexdigest()
    env = {**os.environ, "FACTROOTS_PUBLISHED": str(published), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "FACTROOTS_ANALYTICS_DATABASE": str(project / "analytics.duckdb")}
    run = subprocess.run([str(DBT), "build", "--project-dir", ".", "--profiles-dir", "."], cwd=project, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert hashlib.sha256(published.read_bytes()).hexdigest() == before, "dbt wrote into the published file"
    return project, json.loads((project / "target" / "run_results.json").read_text())["results"]


@pytest.mark.slow
def test_every_source_test_and_model_passes(dbt_built):
    _, results = dbt_built
    assert {r["status"] for r in results} <= {"success", "pass"}, [r for r in results if r["status"] not in
                                                                    ("success", "pass")]
    ids = [r["unique_id"] for r in results]
    source_tests = [i for i in ids if i.startswith("test.") and "source_" in i]
    assert len(source_tests) > 50  # not_null, unique and relationships over every published table
    assert any("source_relationships_factroots_fact_classification_fact_type" in i for i in source_tests)
    assert {"model.factroots_analytics.p_at_1_by_family_and_script",
            "model.factroots_analytics.facts_known_everywhere"} <= set(ids)


@pytest.mark.slow
def test_the_example_models_hold_what_an_independent_computation_says(dbt_built):
    project, _ = dbt_built
    con = duckdb.connect(str(project / "analytics.duckdb"), read_only=True)
    try:
        by_family = con.execute("SELECT model_id, family, script, n_languages, n_probed, n_correct, p_at_1, "
                                "mean_p_at_1 FROM p_at_1_by_family_and_script").fetchall()
        everywhere = con.execute("SELECT model_id, uuid, n_languages FROM facts_known_everywhere").fetchall()
    finally:
        con.close()
    expected = []
    for family in sorted(set(FAMILY.values())):
        langs = [lang for lang in LANGS if FAMILY[lang] == family]
        correct = [len(CORRECT[lang]) for lang in langs]
        expected.append((MODEL, family, "Latin", len(langs), len(FACTS) * len(langs), sum(correct),
                         pytest.approx(sum(correct) / (len(FACTS) * len(langs))),
                         pytest.approx(sum(c / len(FACTS) for c in correct) / len(langs))))
    assert sorted(by_family) == expected
    known = set.intersection(*(CORRECT[lang] for lang in LANGS))
    assert sorted(everywhere) == [(MODEL, uuid, len(LANGS)) for uuid in sorted(known)]
