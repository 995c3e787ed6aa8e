"""The SQL models against independent computations on a hand-made warehouse (no model needed)."""
from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from conftest import fact, rows, write_release
from ingest import shards
from ingest.mlama import ingest_mlama
from warehouse import build as build_module
from warehouse.build import CheckError, build
from warehouse.transform import TransformError

MODEL = "hand-model@000000000000"
TEMPLATES = {"en": {"P36": "The capital of [X] is [Y] .", "P17": "[X] is located in [Y] ."},
             "fr": {"P36": "La capitale de [X] est [Y] .", "P17": "[X] se trouve en [Y] ."},
             "de": {"P36": "Die Hauptstadt von [X] ist [Y] .", "P17": "[X] liegt in [Y] ."}}
# (relation, uuid, gold ids, predicted ids) per language; None marks a fact skipped as too long.
PREDICTIONS = {
    "en": [("P36", "u1", [5], [5]), ("P36", "u2", [6, 7], [6, 7]), ("P36", "u3", [8], [9]),
           ("P17", "u4", [3, 4, 5], [3, 4, 6]), ("P17", "u5", [2], [2]), ("P17", "u6", None, None)],
    "fr": [("P36", "u1", [5], [5]), ("P36", "u2", [6, 7], [6, 1]), ("P36", "u3", [8], [8]),
           ("P17", "u4", [3], [3]), ("P17", "u5", [2, 2], [2, 2])],
    "de": [("P36", "u1", [5], [4]), ("P36", "u2", [6], [6]), ("P17", "u4", [3, 1], [3, 1]),
           ("P17", "u7", [9], [9])],
}


def release_for(tmp_path, langs):
    content = {}
    for lang in langs:
        facts = {}
        for relation, uuid, _, _ in PREDICTIONS[lang]:
            facts.setdefault(relation, []).append(fact(uuid, f"sub-{uuid}-{lang}", f"obj-{uuid}-{lang}"))
        content[lang] = {"templates": TEMPLATES[lang], "facts": facts}
    return write_release(tmp_path / "release", content)


def write_predictions(settings, lang):
    shards.write_model(settings.shard_dir, {"model_id": MODEL, "name_or_path": "hand-model",
                                            "weights_sha256": "0" * 64, "n_layers": 1, "d_ff": 4})
    rows = []
    for relation, uuid, gold, pred in PREDICTIONS[lang]:
        rows.append(dict(model_id=MODEL, lang=lang, relation=relation, uuid=uuid,
                         template=TEMPLATES[lang][relation], template_id="mlama", sub_label=f"sub-{uuid}-{lang}",
                         obj_label=f"obj-{uuid}-{lang}", query=None if gold is None else "q",
                         n_mask_tokens=None if gold is None else len(gold), gold_token_ids=gold,
                         pred_token_ids=pred, gold_text=None, pred_text=None, gold_log_prob=None,
                         is_correct=gold is not None and gold == pred,
                         skip_reason="too_long" if gold is None else None,
                         probed_at=datetime.now(timezone.utc)))
    shards.write_shard(settings.shard_dir, pa.Table.from_pylist(rows, schema=shards.SHARD_SCHEMA))
    shards.load_shards(settings.build_database, settings.shard_dir)


def published(settings, sql, params=()):
    return rows(settings.published_database, sql, params)


def expected_correct(lang):
    return {uuid for _, uuid, gold, pred in PREDICTIONS[lang] if gold is not None and gold == pred}


def probed(lang):
    return {uuid for _, uuid, gold, _ in PREDICTIONS[lang] if gold is not None}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    from warehouse.settings import load_settings
    tmp_path = tmp_path_factory.mktemp("wh")
    settings = load_settings(tmp_path / "data")
    ingest_mlama(settings.build_database, release_for(tmp_path, ["en", "fr", "de"]), progress=False)
    for lang in PREDICTIONS:
        write_predictions(settings, lang)
    build(settings, progress=False)
    return settings


def test_p_at_1_micro_and_macro_match_a_hand_computation(warehouse):
    got = {lang: (n_probed, n_correct, p, macro) for lang, n_probed, n_correct, p, macro in published(
        warehouse, "SELECT lang, n_probed, n_correct, p_at_1, p_at_1_macro_relations FROM p_at_1")}
    for lang, predictions in PREDICTIONS.items():
        correct, done = expected_correct(lang), probed(lang)
        per_relation = {}
        for relation, uuid, gold, _ in predictions:
            if gold is not None:
                per_relation.setdefault(relation, []).append(uuid in correct)
        macro = np.mean([np.mean(v) for v in per_relation.values()])
        assert got[lang][:2] == (len(done), len(correct))
        assert got[lang][2] == pytest.approx(len(correct) / len(done))
        assert got[lang][3] == pytest.approx(macro)
    # en: u1, u2, u5 right of 5 probed (u6 skipped as too long)
    assert got["en"][2] == pytest.approx(3 / 5)


def test_overall_and_by_k(warehouse):
    [(n_lang, micro, macro)] = published(warehouse, "SELECT n_languages, p_at_1_micro, p_at_1_macro_languages "
                                                    "FROM p_at_1_overall")
    per_lang = [len(expected_correct(l)) / len(probed(l)) for l in PREDICTIONS]
    assert n_lang == 3
    assert micro == pytest.approx(sum(len(expected_correct(l)) for l in PREDICTIONS) /
                                  sum(len(probed(l)) for l in PREDICTIONS))
    assert macro == pytest.approx(np.mean(per_lang))
    by_k = dict(((lang, k), (n, c)) for lang, k, n, c in published(
        warehouse, "SELECT lang, n_mask_tokens, n_probed, n_correct FROM p_at_1_by_k"))
    assert by_k[("en", 1)] == (3, 2) and by_k[("en", 2)] == (1, 1) and by_k[("en", 3)] == (1, 0)


def test_language_overlap_is_the_jaccard_of_correct_facts_over_shared_facts(warehouse):
    got = {(a, b): (n, j) for a, b, n, j in published(
        warehouse, "SELECT lang_a, lang_b, n_shared_facts, jaccard FROM language_overlap")}
    assert len(got) == 6  # both orders of the three pairs
    for a in PREDICTIONS:
        for b in PREDICTIONS:
            if a == b:
                continue
            shared = {u for _, u, _, _ in PREDICTIONS[a]} & {u for _, u, _, _ in PREDICTIONS[b]}
            ca, cb = expected_correct(a) & shared, expected_correct(b) & shared
            assert got[(a, b)] == (len(shared), pytest.approx(len(ca & cb) / len(ca | cb)))


def test_pearson_correlations_match_numpy(warehouse):
    rows = published(warehouse, "SELECT p_at_1, mean_n_mask_tokens FROM p_at_1 ORDER BY lang")
    expected = np.corrcoef([r[0] for r in rows], [r[1] for r in rows])[0, 1]
    [(n, r)] = published(warehouse, "SELECT n_points, pearson_r FROM correlations WHERE measure LIKE '%across languages'")
    assert n == 3 and r == pytest.approx(expected)


def test_published_tables_carry_their_descriptions(warehouse):
    [(comment,)] = published(warehouse, "SELECT comment FROM duckdb_columns() "
                                        "WHERE table_name = 'predictions' AND column_name = 'is_correct'")
    assert "full match" in comment


def test_adding_a_language_computes_only_its_partitions(tmp_path, settings):
    ingest_mlama(settings.build_database, release_for(tmp_path, ["en", "fr"]), progress=False)
    for lang in ("en", "fr"):
        write_predictions(settings, lang)
    build(settings, progress=False)
    stamps = "SELECT {key}, computed_at FROM {table}"
    before = {t: dict(published(settings, stamps.format(key=k, table=t))) for t, k in
              [("p_at_1", "lang"), ("predictions", "lang || uuid"), ("language_overlap", "lang_a || lang_b")]}

    ingest_mlama(settings.build_database, release_for(tmp_path / "more", ["de"]), progress=False)
    write_predictions(settings, "de")
    build(settings, progress=False)
    after = {t: dict(published(settings, stamps.format(key=k, table=t))) for t, k in
             [("p_at_1", "lang"), ("predictions", "lang || uuid"), ("language_overlap", "lang_a || lang_b")]}
    for table in before:
        new_keys = set(after[table]) - set(before[table])
        assert new_keys and all("de" in key for key in new_keys)
        for key, stamp in before[table].items():
            assert after[table][key] == stamp, f"{table} {key} was recomputed"
    assert len(after["language_overlap"]) == 6


def test_a_failed_audit_publishes_nothing(tmp_path, settings, monkeypatch):
    ingest_mlama(settings.build_database, release_for(tmp_path, ["en"]), progress=False)
    write_predictions(settings, "en")
    build(settings, progress=False)
    before = published(settings, "SELECT * FROM p_at_1")
    con = duckdb.connect(str(settings.build_database))
    con.execute("INSERT INTO raw.load_batches VALUES (nextval('raw.load_batch_seq'), 'mlama', 'by hand', 'en', "
                "NULL, 1, 0, now())")  # a duplicate uuid that bypassed ingest's checks
    con.execute("INSERT INTO raw.mlama_facts SELECT * REPLACE (currval('raw.load_batch_seq') AS load_batch) "
                "FROM raw.mlama_facts LIMIT 1")
    con.close()
    with pytest.raises(CheckError, match="compound_columns_to_be_unique"):
        build(settings, progress=False)
    monkeypatch.setattr(build_module, "run_expectations", lambda *a, **k: [])  # let the audits catch it
    with pytest.raises(TransformError, match="stg_mlama_facts.*unique_combination_of_columns"):
        build(settings, progress=False)
    assert published(settings, "SELECT * FROM p_at_1") == before
