"""On the real data in ../shared: all of mLAMA, and a probe with the real mBERT tokenizer."""
from __future__ import annotations

import json
from collections import Counter

import duckdb
import pytest

from conftest import SHARED_DATA, needs_shared
from ingest.mlama import ingest_mlama
from warehouse.build import build
from warehouse.probing import probe

pytestmark = [needs_shared, pytest.mark.shared]
MLAMA = SHARED_DATA / "mlama1.1"
LANGS = ["en", "de", "ja"]


def line_counts():
    """Facts and templates per language, counted straight from the files."""
    facts, templates = Counter(), Counter()
    for path in MLAMA.glob("*/*.jsonl"):
        n = sum(1 for line in path.read_bytes().split(b"\n") if line.strip())
        (templates if path.name == "templates.jsonl" else facts)[path.parent.name] += n
    return facts, templates


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from warehouse.settings import load_settings
    settings = load_settings(tmp_path_factory.mktemp("real") / "data")
    report = ingest_mlama(settings.build_database, MLAMA, progress=False)
    return settings, report


def test_all_45_languages_load_with_the_files_row_counts(loaded):
    settings, report = loaded
    facts, templates = line_counts()
    assert len(report.loaded) == 45 and report.problems == []
    con = duckdb.connect(str(settings.build_database), read_only=True)
    got_facts = dict(con.execute("SELECT lang, count(*) FROM raw.mlama_facts GROUP BY lang").fetchall())
    got_templates = dict(con.execute("SELECT lang, count(*) FROM raw.mlama_templates GROUP BY lang").fetchall())
    con.close()
    assert got_facts == dict(facts)
    assert got_templates == dict(templates)


def tiny_mbert(settings):
    """A 2-layer random BERT with mBERT's real vocabulary whose output bias favours a few frequent
    single-token objects, so that some facts come out right."""
    import torch
    from transformers import BertConfig, BertForMaskedLM
    from compute.models import mbert_tokenizer, wrap_model

    tokenizer = mbert_tokenizer(SHARED_DATA / "tokenizers" / "bert-base-multilingual-cased" / "vocab.txt")
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                       num_attention_heads=2, intermediate_size=64))
    con = duckdb.connect(str(settings.build_database), read_only=True)
    common = [label for (label,) in con.execute(
        "SELECT obj_label FROM raw.mlama_facts WHERE lang IN ('en', 'de', 'ja') "
        "GROUP BY ALL ORDER BY count(*) DESC LIMIT 40").fetchall()]
    con.close()
    favoured = [ids[0] for ids in (tokenizer(label, add_special_tokens=False)["input_ids"] for label in common)
                if len(ids) == 1][:3]
    with torch.no_grad():
        model.get_output_embeddings().bias[favoured] = 50.0
    return wrap_model(model, tokenizer, "tiny-random-mbert")


def test_probe_three_languages_and_recompute_p_at_1(loaded):
    settings, _ = loaded
    model = tiny_mbert(settings)
    report = probe(settings.build_database, model.name_or_path, settings.shard_dir, langs=LANGS,
                   limit=120, batch_size=32, progress=False, loaded=model)
    assert report.probed == {lang: 120 for lang in LANGS}
    again = probe(settings.build_database, model.name_or_path, settings.shard_dir, langs=LANGS,
                  limit=120, progress=False, loaded=model)
    assert again.probed == {} and again.n_already == 360  # resumable: nothing probed twice
    build(settings, progress=False)

    # independent recomputation from the raw predictions (the shards' rows)
    con = duckdb.connect(str(settings.build_database), read_only=True)
    raw = con.execute("SELECT lang, uuid, gold_token_ids, pred_token_ids, skip_reason FROM raw.predictions").fetchall()
    con.close()
    expected = {}
    for lang, uuid, gold, pred, skipped in raw:
        n, c = expected.get(lang, (0, 0))
        expected[lang] = (n + (skipped is None), c + (skipped is None and list(gold) == list(pred)))
    assert sum(c for _, c in expected.values()) > 0, "the favoured objects should make some facts correct"

    con = duckdb.connect(str(settings.published_database), read_only=True)
    got = {lang: (n, c, p) for lang, n, c, p in con.execute(
        "SELECT lang, n_probed, n_correct, p_at_1 FROM p_at_1").fetchall()}
    [(model_id,)] = con.execute("SELECT model_id FROM models").fetchall()
    con.close()
    assert model_id == model.model_id
    for lang in LANGS:
        n, c = expected[lang]
        assert got[lang] == (n, c, pytest.approx(c / n))
