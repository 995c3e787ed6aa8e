"""A causal LM beside a masked one through the whole warehouse: probe summary, tracing with its own
tokenizer, every mart, and the refusal of a model whose FFN cannot be found.

The two tiny random models are made to "know" one object: every position predicts "Paris" (the
masked LM by a huge output bias, the causal LM by a final layer norm that outputs one direction
and an LM head that maps it to "Paris"), so the correct facts are known here without the models."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel

from compute.models import wrap_model
from compute.segments import segment
from compute.tracing import shared_entity_tokens
from conftest import fact, rows, write_release
from ingest.mlama import ingest_mlama
from ingest.wikipedia import ingest_wikipedia
from test_probe import tiny_bert
from tiny_tokenizers import byte_level_bpe_tokenizer
from warehouse.cli import main
from warehouse.probing import probe

LANGS = ("en", "fr")
FACTS = {"u1": ("P19", "Allan", "Paris"), "u2": ("P19", "Allan Peiper", "Rome"), "u3": ("P19", "Rome", "Paris"),
         "u4": ("P36", "France", "Paris"), "u5": ("P36", "Italy", "Rome")}
TEMPLATES = {"en": {"P19": "[X] was born in [Y] .", "P36": "the capital of [X] is [Y] ."},
             "fr": {"P19": "[X] was born in [Y] .", "P36": "[Y] is the capital of [X] ."}}  # [Y] first
# The corpus states u1 and u4 in English, u1 only in French
TEXTS = {"en": ["Allan was born in Paris.", "the capital of France is Paris."], "fr": ["Allan was born in Paris."]}


def gpt2(tokenizer, n_inner: int | None = None, seed: int = 0) -> GPT2LMHeadModel:
    torch.manual_seed(seed)
    return GPT2LMHeadModel(GPT2Config(
        vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_inner=n_inner, n_positions=64,
        tie_word_embeddings=False, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)).eval()


def knows_paris_masked():
    model, tokenizer = tiny_bert()
    with torch.no_grad():
        model.get_output_embeddings().bias[tokenizer.convert_tokens_to_ids("Paris")] += 1000.0
    return wrap_model(model, tokenizer, "tiny-bert", device="cpu")


def knows_paris_causal():
    tokenizer = byte_level_bpe_tokenizer()
    model = gpt2(tokenizer)
    with torch.no_grad():
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.zero_()
        model.transformer.ln_f.bias[0] = 1.0
        model.lm_head.weight[tokenizer.convert_tokens_to_ids("ĠParis"), 0] = 1000.0
    return wrap_model(model, tokenizer, "tiny-gpt2", device="cpu")


def load_facts(tmp: Path, settings) -> None:
    release = {lang: {"templates": TEMPLATES[lang], "facts": {}} for lang in LANGS}
    for lang in LANGS:
        for uuid, (relation, sub, obj) in FACTS.items():
            release[lang]["facts"].setdefault(relation, []).append(fact(uuid, sub, obj))
    ingest_mlama(settings.build_database, write_release(tmp / "rel", release), progress=False)


def expected_correct(lang: str, family: str) -> set[str]:
    """Facts whose object is "Paris" and that the family can be asked in that language."""
    return {uuid for uuid, (relation, _, obj) in FACTS.items() if obj == "Paris"
            and not (family == "causal" and TEMPLATES[lang][relation].index("[Y]") < TEMPLATES[lang][relation].index("[X]"))}


def probeless_top(vectors: dict[str, np.ndarray], k: int = 50) -> dict[str, set[int]]:
    """PROBELESS by hand: a neuron's score for a fact is the sum of |v - v_g| over the other facts g;
    the k highest, ties to the lower neuron id."""
    uuids = sorted(vectors)
    values = np.stack([vectors[u] for u in uuids]).astype(np.float64)
    top = {}
    for i, uuid in enumerate(uuids):
        score = np.abs(values[i] - values).sum(axis=0)
        order = sorted(range(len(score)), key=lambda n: (-score[n], n))
        top[uuid] = set(order[:k])
    return top


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory):
    from warehouse.build import build
    from warehouse.settings import load_settings
    from warehouse.tracing import trace

    tmp = tmp_path_factory.mktemp("decoders")
    settings = load_settings(tmp / "data")
    load_facts(tmp, settings)
    causal = knows_paris_causal()
    for lang in LANGS:  # segments cut with the causal model's own byte-level tokenizer
        folder = tmp / "wiki" / lang / "AA"
        folder.mkdir(parents=True)
        docs = [{"id": str(i), "title": "", "url": "", "text": text} for i, text in enumerate(TEXTS[lang])]
        (folder / "wiki_00").write_text("\n".join(json.dumps(d) for d in docs) + "\n")
        ingest_wikipedia(settings.build_database, tmp / "wiki" / lang, lang, causal.tokenizer, workers=1,
                         progress=False)
    trace(settings.build_database, progress=False)
    reports = {family: probe(settings.build_database, loaded.name_or_path, settings.shard_dir, progress=False,
                             loaded=loaded)
               for family, loaded in (("masked", knows_paris_masked()), ("causal", causal))}
    build(settings, progress=False)
    return settings, reports


@pytest.mark.slow
def test_the_causal_probe_counts_object_before_subject_per_language(side_by_side):
    settings, reports = side_by_side
    assert reports["causal"].object_before_subject == {"en": 0, "fr": 2}
    assert reports["causal"].summary_lines()[1] == \
        "  not probed, [Y] before [X] in the template (object_before_subject): en 0, fr 2"
    assert len(reports["masked"].summary_lines()) == 1  # a masked LM asks every template
    assert rows(settings.published_database, "SELECT lang, uuid FROM predictions WHERE model_id = ? AND "
                "skip_reason = 'object_before_subject' ORDER BY ALL", [reports["causal"].model_id]) == \
        [("fr", "u4"), ("fr", "u5")]


# marts filled by `attribute` and `intervene`, which this warehouse does not run (tests/test_demo.py does)
NEEDS_ATTRIBUTION = {"knowledge_neurons", "knowledge_neuron_overlap", "language_agnostic_neurons", "method_agreement",
                     "interventions", "intervention_summary", "intervention_by_fact_type"}


@pytest.mark.slow
def test_every_mart_holds_both_models(side_by_side):
    settings, reports = side_by_side
    ids = {family: report.model_id for family, report in reports.items()}
    con = duckdb.connect(str(settings.published_database), read_only=True)
    try:
        marts = [t for (t,) in con.execute("SELECT DISTINCT table_name FROM duckdb_columns() "
                                           "WHERE column_name = 'model_id' ORDER BY 1").fetchall()
                 if t not in NEEDS_ATTRIBUTION]
        assert len(marts) >= 15
        for mart in marts:
            found = {m for (m,) in con.execute(f"SELECT DISTINCT model_id FROM {mart}").fetchall()}
            assert found == set(ids.values()), mart
        assert dict(con.execute("SELECT family, model_id FROM models").fetchall()) == ids
    finally:
        con.close()


@pytest.mark.slow
def test_p_at_1_and_language_overlap_of_both_models_match_a_hand_count(side_by_side):
    settings, reports = side_by_side
    for family, report in reports.items():
        correct = {lang: expected_correct(lang, family) for lang in LANGS}
        n_probed = {lang: 5 - (2 if family == "causal" and lang == "fr" else 0) for lang in LANGS}
        got = rows(settings.published_database, "SELECT lang, n_probed, n_correct, p_at_1 FROM p_at_1 "
                   "WHERE model_id = ? ORDER BY lang", [report.model_id])
        assert got == [(lang, n_probed[lang], len(correct[lang]), pytest.approx(len(correct[lang]) / n_probed[lang]))
                       for lang in LANGS], family
        jaccard = len(correct["en"] & correct["fr"]) / len(correct["en"] | correct["fr"])
        assert rows(settings.published_database, "SELECT jaccard FROM language_overlap WHERE model_id = ? AND "
                    "lang_a = 'en' AND lang_b = 'fr'", [report.model_id]) == [(pytest.approx(jaccard),)]
    assert expected_correct("fr", "causal") == {"u1", "u3"}  # the hand count is not vacuous


@pytest.mark.slow
def test_neuron_overlap_of_both_models_matches_probeless_by_hand(side_by_side):
    settings, reports = side_by_side
    for report in reports.values():
        activations = {}
        for lang, uuid, layer, values in rows(settings.build_database, "SELECT lang, uuid, layer, activations "
                                              "FROM raw.activations WHERE model_id = ?", [report.model_id]):
            activations.setdefault(lang, {}).setdefault(uuid, {})[layer] = values
        top = {lang: probeless_top({u: np.concatenate([layers[l] for l in sorted(layers)])
                                    for u, layers in by_fact.items()}) for lang, by_fact in activations.items()}
        expected = {uuid: len(top["en"][uuid] & top["fr"][uuid]) / len(top["en"][uuid] | top["fr"][uuid])
                    for uuid in set(top["en"]) & set(top["fr"])}
        got = dict(rows(settings.published_database, "SELECT uuid, jaccard FROM neuron_overlap WHERE model_id = ? "
                        "AND lang_a = 'en' AND lang_b = 'fr'", [report.model_id]))
        assert got == pytest.approx(expected) and len(got) >= 2


def test_labels_share_word_initial_tokens_of_a_byte_level_bpe():
    tokenizer = byte_level_bpe_tokenizer()
    # "Rome" starts one label and follows a space in the other: "Rome" and "ĠRome" are different tokens
    assert tokenizer.tokenize("Allan Rome")[-1] == "ĠRome" and tokenizer.tokenize("Rome") == ["Rome"]
    assert shared_entity_tokens("Allan Rome", "Rome", tokenizer, "en")
    assert shared_entity_tokens("Rome Allan", "Allan Rome", tokenizer, "en")
    assert not shared_entity_tokens("Allan Rome", "Paris", tokenizer, "en")  # a space alone is no shared token


def test_a_byte_level_bpe_cuts_segments_within_max_tokens_at_word_starts():
    tokenizer = byte_level_bpe_tokenizer()
    text = " ".join(["Allan was born in Paris.", "Rome is a city in Italy."] * 6)
    segments = list(segment(text, tokenizer, max_tokens=9))
    assert len(segments) > 3
    assert " ".join(s.text for s in segments) == text  # only white space dropped at the cuts
    for s in segments:
        assert s.n_tokens <= 9 and s.text in ("Allan was born in Paris.", "Rome is a city in Italy.")
        as_in_the_document = (" " if s.start else "") + s.text  # a word after a space carries it: "ĠRome"
        assert s.n_tokens == len(tokenizer(as_in_the_document).input_ids)


def test_a_causal_lm_without_a_findable_ffn_is_refused_in_one_line_and_nothing_is_lost(tmp_path, settings, capsys):
    load_facts(tmp_path, settings)
    tokenizer = byte_level_bpe_tokenizer()
    folder = tmp_path / "square-ffn"  # n_inner == n_embd: the FFN's output projection does not narrow
    gpt2(tokenizer, n_inner=32).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    data = ["--data-dir", str(settings.build_database.parent), "--quiet"]
    assert main(data + ["probe", "--model", str(folder), "--device", "cpu", "--activations", "none"]) == 0
    capsys.readouterr()
    before = rows(settings.build_database, "SELECT count(*), count(DISTINCT model_id) FROM raw.predictions")
    shards = sorted(p.relative_to(settings.shard_dir) for p in settings.shard_dir.rglob("*.parquet"))
    assert before == [(10, 1)]
    assert main(data + ["probe", "--model", str(folder), "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot find the FFN output projection" in err[0]
    assert "square-ffn" in err[0] and "--activations none" in err[0]
    assert rows(settings.build_database, "SELECT count(*), count(DISTINCT model_id) FROM raw.predictions") == before
    assert sorted(p.relative_to(settings.shard_dir) for p in settings.shard_dir.rglob("*.parquet")) == shards
