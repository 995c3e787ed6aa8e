"""PROBELESS in SQL against the textbook formula in numpy, and the neuron marts built on it."""
from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from conftest import fact, rows, write_release
from ingest import shards
from ingest.mlama import ingest_mlama
from warehouse.build import build, check
from warehouse.transform import context

MODEL = "neuron-model@000000000000"
N_LAYERS, D_FF, K = 2, 64, 50
# language -> (facts correct, facts wrong); every fact has an activation vector
POPULATIONS = {"en": (7, 2), "fr": (2, 1), "de": (1, 1), "es": (3, 0)}


def textbook_top(activations: np.ndarray) -> list[list[int]]:
    """score(n, f) = mean over g != f of |a_n(f) - a_n(g)|; top K by score, ties to the lower id."""
    m = len(activations)
    tops = []
    for f in range(m):
        others = np.delete(activations, f, axis=0)
        score = np.abs(others - activations[f]).sum(axis=0) / (m - 1)
        tops.append(list(np.lexsort((np.arange(score.size), -score))[:K]))
    return tops


def load_languages(settings, folder, langs) -> dict[str, np.ndarray]:
    """Facts, predictions and activations of `langs` (POPULATIONS), through the real loaders."""
    content, activations = {}, {}
    for lang in langs:
        n_right, n_wrong = POPULATIONS[lang]
        uuids = [f"u{i}" for i in range(n_right + n_wrong)]
        content[lang] = {"templates": {"P1": "[X] is [Y] ."},
                         "facts": {"P1": [fact(u, f"s{u}", f"o{u}") for u in uuids]}}
        # small integers: many exact ties, and sums that float64 holds exactly
        rng = np.random.default_rng(sum(map(ord, lang)))
        activations[lang] = rng.integers(0, 4, size=(len(uuids), N_LAYERS * D_FF)).astype(np.float32)
    ingest_mlama(settings.build_database, write_release(folder, content), progress=False)
    shards.write_model(settings.shard_dir, {"model_id": MODEL, "name_or_path": "neuron-model",
                                            "weights_sha256": "1" * 64, "n_layers": N_LAYERS, "d_ff": D_FF})
    for lang in langs:
        n_right, n_wrong = POPULATIONS[lang]
        rows = [dict(model_id=MODEL, lang=lang, relation="P1", uuid=f"u{i}", template="[X] is [Y] .",
                     template_id="mlama", sub_label=f"su{i}", obj_label=f"ou{i}", query="q", n_mask_tokens=1,
                     gold_token_ids=[1],
                     pred_token_ids=[1] if i < n_right else [2], gold_text=None, pred_text=None,
                     gold_log_prob=None, is_correct=i < n_right, skip_reason=None,
                     probed_at=datetime.now(timezone.utc))
                for i in range(n_right + n_wrong)]
        shards.write_shard(settings.shard_dir, pa.Table.from_pylist(rows, schema=shards.SHARD_SCHEMA))
        shards.write_shard(settings.shard_dir, pa.table({
            "model_id": [MODEL] * len(rows), "lang": [lang] * len(rows), "uuid": [r["uuid"] for r in rows],
            "activations": pa.array(activations[lang].tolist(), pa.list_(pa.float32()))}), kind="activations")
    shards.load_shards(settings.build_database, settings.shard_dir)
    return activations


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    from warehouse.settings import load_settings
    tmp = tmp_path_factory.mktemp("pl")
    settings = load_settings(tmp / "data")
    activations = load_languages(settings, tmp / "rel", ["en", "fr", "de"])
    build(settings, progress=False)
    return settings, activations


def published(settings, sql, params=()):
    return rows(settings.published_database, sql, params)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_active_neurons_match_the_textbook_formula(warehouse, lang):
    settings, activations = warehouse
    n_right = POPULATIONS[lang][0]
    expected = textbook_top(activations[lang][:n_right].astype(np.float64))  # population: correct facts
    for i in range(n_right):
        got = published(settings, "SELECT neuron_id, score FROM active_neurons WHERE lang = ? AND uuid = ? "
                                   "ORDER BY neuron_rank", [lang, f"u{i}"])
        assert [n for n, _ in got] == expected[i]
        population = activations[lang][:n_right].astype(np.float64)
        scores = np.abs(np.delete(population, i, 0) - population[i]).sum(0) / (n_right - 1)
        assert [s for _, s in got] == pytest.approx(list(scores[expected[i]]))


def test_wrong_facts_and_single_fact_populations_have_no_active_neurons(warehouse):
    settings, _ = warehouse
    per_lang = dict(published(settings, "SELECT lang, count(DISTINCT uuid) FROM active_neurons GROUP BY lang"))
    assert per_lang == {"en": 7, "fr": 2}  # de has one correct fact: no scores


def test_layer_and_index_and_layer_bins(warehouse):
    settings, _ = warehouse
    bad = published(settings, "SELECT count(*) FROM active_neurons WHERE neuron_id <> layer * ? + neuron_index", [D_FF])
    assert bad == [(0,)]
    cells = published(settings, "SELECT layer, layer_bin, n_active FROM active_neuron_layers WHERE lang = 'en'")
    assert len(cells) == N_LAYERS * 16
    by_hand = published(settings, "SELECT layer, neuron_index // 4, count(*) FROM active_neurons WHERE lang = 'en' "
                                  "GROUP BY ALL")
    assert {(l, b): n for l, b, n in cells if n} == {(l, b): n for l, b, n in by_hand}


def test_neuron_overlap_and_similarity(warehouse):
    settings, _ = warehouse
    sets = {}
    for lang, uuid, neuron in published(settings, "SELECT lang, uuid, neuron_id FROM active_neurons"):
        sets.setdefault((lang, uuid), set()).add(neuron)
    got = {(uuid): j for uuid, j in published(
        settings, "SELECT uuid, jaccard FROM neuron_overlap WHERE lang_a = 'en' AND lang_b = 'fr'")}
    expected = {u: len(sets[("en", u)] & sets[("fr", u)]) / len(sets[("en", u)] | sets[("fr", u)])
                for (lang, u) in sets if lang == "fr"}
    assert got == pytest.approx(expected)
    [(n, mean)] = published(settings, "SELECT n_shared_facts, mean_jaccard FROM neuron_similarity "
                                      "WHERE lang_a = 'fr' AND lang_b = 'en'")
    assert n == 2 and mean == pytest.approx(np.mean(list(expected.values())))


def test_adding_a_language_computes_only_its_scores_and_pairs(tmp_path, settings):
    load_languages(settings, tmp_path / "a", ["en", "fr"])
    build(settings, progress=False)
    stamps = {"active_neurons": "lang || uuid || neuron_rank", "neuron_overlap": "lang_a || lang_b || uuid",
              "active_neuron_layers": "lang || layer || '/' || layer_bin"}
    query = "SELECT {key}, computed_at FROM {table}"
    before = {t: dict(published(settings, query.format(key=k, table=t))) for t, k in stamps.items()}
    load_languages(settings, tmp_path / "b", ["es"])
    build(settings, progress=False)
    after = {t: dict(published(settings, query.format(key=k, table=t))) for t, k in stamps.items()}
    for table in stamps:
        new = set(after[table]) - set(before[table])
        assert new and all("es" in key for key in new), table
        assert {key: after[table][key] for key in before[table]} == before[table], f"{table} recomputed"


def test_facts_that_leave_the_population_leave_every_neuron_table(tmp_path, settings):
    """A changed object label makes a correct fact not probed: its rows go, and so does every
    partition left with fewer than two facts (fr: 2 -> 1), not only the partitions recomputed (es: 3 -> 2)."""
    activations = load_languages(settings, tmp_path / "a", ["en", "fr", "es"])
    build(settings, progress=False)
    changed = {lang: {"templates": {"P1": "[X] is [Y] ."},
                      "facts": {"P1": [fact(f"u{i}", f"su{i}", "changed" if i == 0 else f"ou{i}")
                                       for i in range(sum(POPULATIONS[lang]))]}}
               for lang in ("fr", "es")}
    ingest_mlama(settings.build_database, write_release(tmp_path / "b", changed), progress=False)
    build(settings, progress=False)

    assert published(settings, "SELECT lang, probe_status FROM predictions WHERE uuid = 'u0' ORDER BY lang") == [
        ("en", "probed"), ("es", "not_probed"), ("fr", "not_probed")]
    facts = {(lang, uuid) for lang, uuid in published(settings, "SELECT DISTINCT lang, uuid FROM active_neurons")}
    assert facts == {("en", f"u{i}") for i in range(7)} | {("es", "u1"), ("es", "u2")}
    expected = textbook_top(activations["es"][1:3].astype(np.float64))  # es population now: u1, u2
    for i, uuid in enumerate(["u1", "u2"]):
        got = published(settings, "SELECT neuron_id FROM active_neurons WHERE lang = 'es' AND uuid = ? "
                                  "ORDER BY neuron_rank", [uuid])
        assert [n for (n,) in got] == expected[i]
    assert published(settings, "SELECT DISTINCT lang FROM active_neuron_layers ORDER BY lang") == [("en",), ("es",)]
    pairs = published(settings, "SELECT lang_a, lang_b, uuid FROM neuron_overlap ORDER BY ALL")
    assert pairs == [("en", "es", "u1"), ("en", "es", "u2"), ("es", "en", "u1"), ("es", "en", "u2")]
    assert published(settings, "SELECT lang_a, lang_b, n_shared_facts FROM neuron_similarity ORDER BY ALL") == [
        ("en", "es", 2), ("es", "en", 2)]
    lines, failed = check(settings)
    assert failed == 0, [line for line in lines if line.startswith("FAIL")]


def test_audits_catch_neuron_rows_of_facts_outside_the_population(tmp_path, settings):
    """Rows left from an older population, written behind SQLMesh's back, fail `check`."""
    load_languages(settings, tmp_path / "a", ["en", "fr", "de"])
    build(settings, progress=False)
    ctx = context(settings, progress=False)
    try:
        tables = {name: ctx.get_snapshot(f"intermediate.{name}").table_name()
                  for name in ("int_active_neurons", "int_neuron_overlap", "int_active_neuron_layers")}
    finally:
        ctx.close()
    con = duckdb.connect(str(settings.build_database))
    try:  # en u7 is wrong, de has one correct fact: neither has active neurons
        con.execute(f"INSERT INTO {tables['int_active_neurons']} SELECT * REPLACE ('u7' AS uuid) "
                    f"FROM {tables['int_active_neurons']} WHERE lang = 'en' AND uuid = 'u0'")
        con.execute(f"INSERT INTO {tables['int_neuron_overlap']} SELECT * REPLACE ('u2' AS uuid) "
                    f"FROM {tables['int_neuron_overlap']} WHERE lang_a = 'en' AND uuid = 'u0'")
        con.execute(f"INSERT INTO {tables['int_active_neuron_layers']} SELECT * REPLACE ('de' AS lang) "
                    f"FROM {tables['int_active_neuron_layers']} WHERE lang = 'en'")
    finally:
        con.close()
    lines, failed = check(settings)
    assert sorted(line for line in lines if line.startswith("FAIL")) == [
        f"FAIL sqlmesh: audits of intermediate.{name}" for name in sorted(tables)]
    assert failed == 3
