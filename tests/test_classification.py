"""Tracing and fact classification end to end on a hand-made scenario with one expected outcome per fact."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pytest

from conftest import fact, rows, write_release
from ingest import shards
from ingest.mlama import ingest_mlama
from ingest.sizes import ingest_sizes
from ingest.wikipedia import ingest_wikipedia
from tiny_tokenizers import wordpiece_tokenizer
from warehouse.build import build
from warehouse.tracing import trace

MODEL = "class-model@000000000000"
LANGS = ["de", "en", "fr"]
FACTS = ["f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8"]
RELATION = {"f5": "P17"}  # a naming relation; the others are P36
CORRECT = {"en": {"f1", "f2", "f3", "f6", "f7", "f8"}, "fr": {"f1", "f3", "f7", "f8"},
           "de": {"f4", "f5", "f7", "f8"}}
STATED = {"en": {"f1", "f2", "f3", "f7", "f8"}, "fr": {"f1", "f7", "f8"}, "de": {"f7", "f8"}}
SHARES_TOKENS = {"f4"}  # object inside the subject
# Each correct fact's activations light up one block of 50 neurons; f1 uses the same block in en
# and fr (overlap 1), f3 different blocks (overlap 0), f7 and f8 the same block everywhere.
BLOCK = {("en", "f3"): 1, ("fr", "f3"): 2, "f1": 0, "f2": 3, "f4": 4, "f5": 5, "f6": 6, "f7": 7, "f8": 8}
D_FF = 50 * 9
EXPECTED = {
    ("en", "f1"): "cross_lingual_shared", ("en", "f2"): "language_independent",
    ("en", "f3"): "language_independent", ("en", "f6"): "unattributed",
    ("en", "f7"): "cross_lingual_shared", ("en", "f8"): "cross_lingual_shared",
    ("fr", "f1"): "cross_lingual_shared", ("fr", "f3"): "cross_lingual_transferred",
    ("fr", "f7"): "cross_lingual_shared", ("fr", "f8"): "cross_lingual_shared",
    ("de", "f4"): "inferred", ("de", "f5"): "inferred",
    ("de", "f7"): "cross_lingual_shared", ("de", "f8"): "cross_lingual_shared",
}


def labels(uuid):
    return ("Paris Hilton", "Paris") if uuid in SHARES_TOKENS else (f"subject {uuid}", f"object {uuid}")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    from warehouse.settings import load_settings
    tmp = tmp_path_factory.mktemp("cls")
    settings = load_settings(tmp / "data")
    release = {lang: {"templates": {"P36": "[X] : [Y] .", "P17": "[X] in [Y] ."},
                      "facts": {}} for lang in LANGS}
    for lang in LANGS:
        for uuid in FACTS:
            release[lang]["facts"].setdefault(RELATION.get(uuid, "P36"), []).append(fact(uuid, *labels(uuid)))
    ingest_mlama(settings.build_database, write_release(tmp / "rel", release), progress=False)

    for lang in LANGS:  # one document per stated fact, plus f6's labels in two different documents
        folder = tmp / "wiki" / lang / "AA"
        folder.mkdir(parents=True)
        docs = [{"id": u, "title": "", "url": "", "text": "{} is where {} is.".format(*labels(u))}
                for u in sorted(STATED[lang])]
        docs += [{"id": "x", "title": "", "url": "", "text": "subject f6 alone."},
                 {"id": "y", "title": "", "url": "", "text": "object f6 elsewhere."}]
        (folder / "wiki_00").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
        ingest_wikipedia(settings.build_database, tmp / "wiki" / lang, lang, wordpiece_tokenizer(),
                         workers=1, progress=False)
    trace(settings.build_database, progress=False)

    shards.write_model(settings.shard_dir, {"model_id": MODEL, "name_or_path": "class-model",
                                            "weights_sha256": "2" * 64, "n_layers": 1, "d_ff": D_FF})
    now = datetime.now(timezone.utc)
    for lang in LANGS:
        rows, vectors = [], []
        for uuid in FACTS:
            sub, obj = labels(uuid)
            right = uuid in CORRECT[lang]
            rows.append(dict(model_id=MODEL, lang=lang, relation=RELATION.get(uuid, "P36"), uuid=uuid,
                             template="[X] in [Y] ." if uuid in RELATION else "[X] : [Y] .", template_id="mlama",
                             sub_label=sub, obj_label=obj, labels_share_tokens=uuid in SHARES_TOKENS, query="q",
                             n_mask_tokens=1, gold_token_ids=[1], pred_token_ids=[1] if right else [2], gold_text=None,
                             pred_text=None, gold_log_prob=None, is_correct=right, skip_reason=None,
                             probed_at=now))
            if right:
                vector = np.zeros(D_FF, np.float32)
                block = BLOCK.get((lang, uuid), BLOCK.get(uuid))
                vector[block * 50:(block + 1) * 50] = 100.0
                vectors.append((uuid, vector))
        shards.write_shard(settings.shard_dir, pa.Table.from_pylist(rows, schema=shards.SHARD_SCHEMA))
        shards.write_shard(settings.shard_dir, pa.table({
            "model_id": [MODEL] * len(vectors), "lang": [lang] * len(vectors), "uuid": [u for u, _ in vectors],
            "activations": pa.array([v.tolist() for _, v in vectors], pa.list_(pa.float32()))}), "activations")
    shards.load_shards(settings.build_database, settings.shard_dir)
    sizes = tmp / "sizes.csv"
    sizes.write_text("lang,articles_size\nen,100\nfr,50\nde,10\nxx,5\n")
    ingest_sizes(settings.build_database, sizes, "paper")
    build(settings, progress=False)
    return settings


def published(settings, sql, params=()):
    return rows(settings.published_database, sql, params)


def test_presence_flags(warehouse):
    got = {(lang, uuid): present for lang, uuid, present in published(
        warehouse, "SELECT lang, uuid, is_present FROM fact_classification")}
    for (lang, uuid), present in got.items():
        assert present == (uuid in STATED[lang]), (lang, uuid)


def test_every_classification_outcome(warehouse):
    got = {(lang, uuid): fact_type for lang, uuid, fact_type in published(
        warehouse, "SELECT lang, uuid, fact_type FROM fact_classification")}
    assert got == EXPECTED
    [(sources,)] = published(warehouse, "SELECT source_candidates FROM fact_classification "
                                        "WHERE lang = 'fr' AND uuid = 'f3'")
    assert sources == ["en"]


def test_absence_reasons_and_rates(warehouse):
    reasons = {(lang, uuid): reason for lang, uuid, reason in published(
        warehouse, "SELECT lang, uuid, reason FROM absence_reasons")}
    assert reasons == {("de", "f4"): "shared_entity_tokens", ("de", "f5"): "naming_cues",
                       ("en", "f6"): "others", ("fr", "f3"): "others"}
    rates = {lang: (rate, rate_correct) for lang, rate, rate_correct in published(
        warehouse, "SELECT lang, absence_rate, absence_rate_correct FROM absence_rates")}
    for lang in LANGS:
        absent = set(FACTS) - STATED[lang]
        assert rates[lang] == (pytest.approx(len(absent) / len(FACTS)),
                               pytest.approx(len(absent & CORRECT[lang]) / len(CORRECT[lang])))


def test_sensitivity_over_theta(warehouse):
    rows = published(warehouse, "SELECT theta, fact_type, n_facts FROM classification_sensitivity "
                                "WHERE lang = 'en' ORDER BY theta, fact_type")
    assert sorted({theta for theta, _, _ in rows}) == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    at_03 = {t: n for theta, t, n in rows if theta == pytest.approx(0.3)}
    assert at_03 == {"cross_lingual_shared": 3, "language_independent": 2, "unattributed": 1}


def test_correlation_with_a_user_size_table(warehouse):
    p_at_1 = dict(published(warehouse, "SELECT lang, p_at_1 FROM p_at_1"))
    sizes = {"en": 100, "fr": 50, "de": 10}
    expected = np.corrcoef([p_at_1[l] for l in LANGS], [sizes[l] for l in LANGS])[0, 1]
    [(n, r)] = published(warehouse, "SELECT n_points, pearson_r FROM correlations "
                                    "WHERE measure = 'p_at_1 vs paper articles_size, across languages'")
    assert n == 3 and r == pytest.approx(expected)
    [(count,)] = published(warehouse, "SELECT count(*) FROM quarantine WHERE problem = 'unknown_language'")
    assert count == 1
