"""A build checks, computes and publishes only what changed since the last good build."""
from __future__ import annotations

import duckdb
import pytest

from ingest.mlama import ingest_mlama
from ingest.sizes import ingest_sizes
import test_sql_models
from test_sql_models import release_for, write_predictions
from warehouse import build as build_module
from warehouse.build import CheckError, build, check
from warehouse.checks import CheckResult, run_expectations
from warehouse.settings import ROOT, load_settings
from warehouse.transform import TransformError, context


def published_differences(settings) -> dict[str, int]:
    """Rows that differ, per table, between the published file and the build database's marts."""
    con = duckdb.connect(str(settings.published_database), read_only=True)
    try:
        con.execute(f"ATTACH '{settings.build_database}' AS {settings.build_database.stem} (READ_ONLY)")
        build_db = settings.build_database.stem
        marts = {t for (t,) in con.execute("SELECT view_name FROM duckdb_views() WHERE database_name = ? "
                                           "AND schema_name = 'marts'", [build_db]).fetchall()}
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                            "WHERE database_name = current_database()").fetchall()}
        assert tables == marts
        return {t: con.execute(f"SELECT count(*) FROM ((FROM main.{t} EXCEPT ALL FROM {build_db}.marts.{t}) "
                               f"UNION ALL (FROM {build_db}.marts.{t} EXCEPT ALL FROM main.{t}))").fetchone()[0]
                for t in sorted(tables)}
    finally:
        con.close()


@pytest.fixture
def built(tmp_path, settings, monkeypatch):
    """A warehouse of two languages, built once; build_module.publish records what each build publishes."""
    ingest_mlama(settings.build_database, release_for(tmp_path, ["en", "fr"]), progress=False)
    for lang in ("en", "fr"):
        write_predictions(settings, lang)
    n_marts = build(settings, progress=False)
    published = []
    real_publish = build_module.publish
    monkeypatch.setattr(build_module, "publish",
                        lambda s, tables, marts: published.append(marts) or real_publish(s, tables, marts))
    return settings, n_marts, published


def test_a_build_with_nothing_new_publishes_nothing(built):
    settings, n_marts, published = built
    assert n_marts == len(list((ROOT / "models" / "marts").glob("*.sql")))  # the first build publishes every mart
    stamp = settings.published_database.stat()
    assert build(settings, progress=False) == 0
    assert published == []
    after = settings.published_database.stat()
    assert (after.st_ino, after.st_mtime_ns) == (stamp.st_ino, stamp.st_mtime_ns)


def test_a_new_language_publishes_the_marts_that_read_its_tables(tmp_path, built):
    settings, n_marts, published = built
    ingest_mlama(settings.build_database, release_for(tmp_path / "more", ["de"]), progress=False)
    write_predictions(settings, "de")
    n = build(settings, progress=False)
    [marts] = published
    assert n == len(marts) < n_marts
    assert {"p_at_1", "predictions", "language_overlap", "fact_classification"} <= marts
    assert not marts & {"corpora", "paper_p_at_1", "fact_types"}  # read no mLAMA or predictions table
    assert set(published_differences(settings).values()) == {0}


def test_a_language_probed_again_replaces_its_published_partitions(built, monkeypatch):
    settings, _, published = built
    monkeypatch.setitem(test_sql_models.PREDICTIONS, "en", [  # every probed en fact now predicted wrong
        (relation, uuid, gold, None if gold is None else [token + 100 for token in gold])
        for relation, uuid, gold, _ in test_sql_models.PREDICTIONS["en"]])
    write_predictions(settings, "en")
    build(settings, progress=False)
    assert "predictions" in published[0]
    assert set(published_differences(settings).values()) == {0}
    with duckdb.connect(str(settings.published_database), read_only=True) as con:
        by_lang = dict(con.execute("SELECT lang, count(*) FILTER (is_correct) || '/' || count(*) "
                                   "FROM predictions GROUP BY lang").fetchall())
    n_en, n_fr = (len(test_sql_models.PREDICTIONS[lang]) for lang in ("en", "fr"))
    n_fr_correct = sum(gold is not None and gold == pred for _, _, gold, pred in test_sql_models.PREDICTIONS["fr"])
    assert by_lang == {"en": f"0/{n_en}", "fr": f"{n_fr_correct}/{n_fr}"}


def test_new_sizes_publish_only_what_reads_them(tmp_path, built):
    settings, _, published = built

    def last_run(model):  # the end of the last interval SQLMesh ran the model for
        with duckdb.connect(str(settings.build_database), read_only=True) as con:
            return con.execute("SELECT max(end_ts) FROM sqlmesh._intervals WHERE name = ?",
                               [f'"{settings.build_database.stem}"."intermediate"."{model}"']).fetchone()[0]

    before = {model: last_run(model) for model in ("int_p_at_1", "int_correlations")}
    (tmp_path / "sizes.csv").write_text("lang,articles\nen,6.1\nfr,2.5\n")
    ingest_sizes(settings.build_database, tmp_path / "sizes.csv")
    build(settings, progress=False)
    assert published == [{"correlations", "quarantine"}]
    assert set(published_differences(settings).values()) == {0}
    assert last_run("int_p_at_1") == before["int_p_at_1"]  # reads no sizes: not run again
    assert last_run("int_correlations") > before["int_correlations"]
    with duckdb.connect(str(settings.published_database), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM correlations WHERE measure LIKE '% articles, across languages'").fetchone()[0] > 0


def test_changed_settings_check_and_publish_everything(built):
    settings, n_marts, published = built
    (settings.data_dir / "factroots.toml").write_text("theta = 0.5\n")
    assert build(load_settings(settings.data_dir), progress=False) == n_marts
    assert published == [None]


def test_marts_of_a_failed_build_are_published_by_the_next_good_one(tmp_path, built, monkeypatch):
    settings, _, published = built
    ingest_mlama(settings.build_database, release_for(tmp_path / "more", ["de"]), progress=False)
    write_predictions(settings, "de")
    real_checks = build_module.run_expectations

    def failing_mart_checks(database, layers, **kwargs):
        return [CheckResult("marts_p_at_1", "made to fail", False)] if layers == ("marts",) else \
            real_checks(database, layers, **kwargs)

    monkeypatch.setattr(build_module, "run_expectations", failing_mart_checks)
    with pytest.raises(CheckError):
        build(settings, progress=False)
    assert published == []
    monkeypatch.setattr(build_module, "run_expectations", real_checks)
    build(settings, progress=False)  # SQLMesh has nothing left to compute; the marts are still new
    assert "p_at_1" in published[0]
    assert set(published_differences(settings).values()) == {0}
    langs = duckdb.connect(str(settings.published_database), read_only=True).execute(
        "SELECT list(lang ORDER BY lang) FROM p_at_1").fetchone()[0]
    assert langs == ["de", "en", "fr"]


def test_raw_checks_read_the_batches_since_the_last_good_build(built):
    settings, _, _ = built
    con = duckdb.connect(str(settings.build_database))
    try:  # a bad prediction (two masks for a one-token object) in an old batch, and one in a new batch
        checked = con.execute("SELECT max(newest_batch) FROM raw.builds").fetchone()[0]
        bad = "INSERT INTO raw.predictions BY NAME SELECT * REPLACE (2 AS n_mask_tokens{}) " \
              "FROM raw.predictions WHERE lang = 'en' AND uuid = 'u1' LIMIT 1"
        con.execute(bad.format(""))
        con.execute("INSERT INTO raw.load_batches VALUES (nextval('raw.load_batch_seq'), 'predictions', 'by hand', "
                    "'fr', NULL, 1, 0, now())")
        new = con.execute("SELECT currval('raw.load_batch_seq')").fetchone()[0]
    finally:
        con.close()
    failed = lambda since: [r.suite for r in run_expectations(settings.build_database, ("raw",), since=since)  # noqa
                            if not r.passed]
    assert failed(0) == ["raw_predictions"]    # `factroots check` reads every row
    assert failed(checked) == []               # the old batch was checked by the last good build
    con = duckdb.connect(str(settings.build_database))
    con.execute(bad.format(f", {new} AS load_batch"))
    con.close()
    assert failed(checked) == ["raw_predictions"]
    with pytest.raises(CheckError, match="raw-data"):
        build(settings, progress=False)


def _physical_table(settings, model: str) -> str:
    ctx = context(settings, progress=False)
    try:
        return ctx.get_snapshot(model).table_name()
    finally:
        ctx.close()


def test_a_build_audits_the_partitions_it_computed_and_check_audits_every_row(tmp_path, built):
    """A bad row in a partition computed before (written behind SQLMesh's back) is not a later
    build's to audit; `check`, and a build after a change of settings, audit every row."""
    settings, _, _ = built
    table = _physical_table(settings, "intermediate.int_fact_consistency")
    with duckdb.connect(str(settings.build_database)) as con:
        con.execute(f"UPDATE {table} SET consistency = 2 WHERE lang = 'fr'")
    ingest_mlama(settings.build_database, release_for(tmp_path / "more", ["de"]), progress=False)
    write_predictions(settings, "de")
    build(settings, progress=False)
    lines, failed = check(settings)
    assert [line for line in lines if line.startswith("FAIL")] == [
        "FAIL sqlmesh: audits of intermediate.int_fact_consistency"]
    (settings.data_dir / "factroots.toml").write_text("theta = 0.5\n")
    with pytest.raises(CheckError, match="SQLMesh audit.*int_fact_consistency"):
        build(load_settings(settings.data_dir), progress=False)


def test_a_build_audits_every_partition_of_the_batches_since_the_last_good_build(built):
    """A bad row whose input batch is one the build computes fails the build's audits."""
    settings, _, published = built
    table = _physical_table(settings, "intermediate.int_fact_consistency")
    write_predictions(settings, "en")  # en probed again: a new batch, en's partitions computed anew
    with duckdb.connect(str(settings.build_database)) as con:
        newest = con.execute("SELECT max(load_batch) FROM raw.load_batches").fetchone()[0]
        con.execute(f"INSERT INTO {table} SELECT * REPLACE ('xx' AS lang, 2.0 AS consistency, {newest} AS input_batch) "
                    f"FROM {table} WHERE lang = 'fr'")
    with pytest.raises(TransformError, match="int_fact_consistency.*accepted_range"):
        build(settings, progress=False)
    assert published == []
