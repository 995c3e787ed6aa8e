"""The tiny causal LM built from the bundled sample: a GPT-2 with a byte-level BPE, cached like the tiny BERT."""

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from compute.models import load_model
from compute.probe import probe
from compute.tiny import STAMP, build_tiny_causal_model, build_tiny_model

SAMPLE = Path(__file__).resolve().parents[1] / "sample"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(copy of the sample, tiny causal model built from it in 1 nominal second)."""
    root = tmp_path_factory.mktemp("tiny-causal")
    sample = root / "sample"
    shutil.copytree(SAMPLE, sample)
    return sample, build_tiny_causal_model(sample, root / "model", seconds=1, progress=False)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def sample_facts(lang: str) -> list[dict]:
    """The sample's facts of one language, each with its relation's template."""
    folder = SAMPLE / "mlama" / lang
    templates = {row["relation"]: row["template"] for row in read_jsonl(folder / "templates.jsonl")}
    return [dict(lang=lang, relation=path.stem, template=templates[path.stem], uuid=row["uuid"],
                 sub_label=row["sub_label"], obj_label=row["obj_label"])
            for path in sorted(folder.glob("P*.jsonl")) for row in read_jsonl(path)]


def test_model_and_tokenizer_load_offline_as_a_causal_lm(built, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, out = built
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert type(model).__name__ == "GPT2LMHeadModel" and model.config.vocab_size == len(tokenizer)
    assert tokenizer.is_fast and tokenizer.eos_token == tokenizer.pad_token == "<|endoftext|>"
    enc = tokenizer("The capital of France is Paris .", return_offsets_mapping=True)
    assert tokenizer.convert_ids_to_tokens(enc.input_ids)[0] == "The"  # no special token added
    assert tokenizer.decode(enc.input_ids) == "The capital of France is Paris ."
    loaded = load_model(str(out), device="cpu")
    assert (loaded.family, loaded.n_layers, loaded.d_ff, loaded.max_length) == ("causal", 4, 512, 128)


def test_every_sample_label_is_spelled_back(built):
    tokenizer = AutoTokenizer.from_pretrained(built[1])
    for lang in ("en", "fr", "de"):
        for fact in sample_facts(lang):
            for label in (fact["sub_label"], fact["obj_label"]):
                assert tokenizer.decode(tokenizer(" " + label).input_ids) == " " + label


def test_cache_reused_then_invalidated_and_never_taken_for_the_bert(built, tmp_path):
    sample, out = built
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert build_tiny_causal_model(sample, out, seconds=1, progress=False) == out
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    stamp = json.loads((out / STAMP).read_text())
    assert stamp["family"] == "causal"
    build_tiny_model(sample, out, seconds=1, progress=False)  # the same folder asked for the BERT: rebuilt
    assert json.loads((out / STAMP).read_text())["family"] == "masked"
    assert json.loads((out / STAMP).read_text())["hash"] != stamp["hash"]
    build_tiny_causal_model(sample, out, seconds=1, progress=False)
    assert json.loads((out / STAMP).read_text()) | {"train_seconds": 0} == stamp | {"train_seconds": 0}


@pytest.mark.slow
def test_the_default_build_answers_some_sample_facts_in_every_language(default_gpt2):
    loaded = load_model(str(default_gpt2), device="cpu")
    for lang in ("en", "fr", "de"):
        rows = pa.Table.from_batches(list(probe(loaded, sample_facts(lang), progress=False))).to_pylist()
        assert all(row["skip_reason"] is None for row in rows)
        assert any(row["is_correct"] for row in rows), lang
