"""What `probe --model` accepts: one model per weights, and one plain line for what it refuses."""
from __future__ import annotations

import os

import pytest
from transformers import BertConfig, BertForSequenceClassification, BertModel

from compute.models import ModelLoadError, load_model
from conftest import fact, rows, write_release
from ingest.mlama import ingest_mlama
from test_probe import SIZES, tiny_bert
from tiny_tokenizers import wordpiece_tokenizer
from warehouse.probing import probe


def saved(folder, model, tokenizer=None):
    model.save_pretrained(folder)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    return folder


def refusal(name) -> str:
    with pytest.raises(ModelLoadError) as error:
        load_model(str(name), device="cpu")
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"cannot load language model {str(name)!r}: ")
    return message


def config(tokenizer):
    return BertConfig(vocab_size=len(tokenizer), max_position_embeddings=64, **SIZES)


def test_a_checkpoint_without_a_masked_lm_head_is_refused(tmp_path):
    tokenizer = wordpiece_tokenizer()
    for kind, model in (("bare", BertModel(config(tokenizer))),
                        ("classifier", BertForSequenceClassification(config(tokenizer)))):
        message = refusal(saved(tmp_path / kind, model, tokenizer))
        assert "initialised at random (first: cls.predictions" in message


def test_a_directory_without_its_tokenizer_is_refused(tmp_path):
    model, _ = tiny_bert()
    message = refusal(saved(tmp_path / "weights-only", model))
    assert message.endswith(": the tokenizer has 5 tokens but the model 40 embeddings: not the model's tokenizer")


def test_corrupt_weights_and_missing_paths_are_one_line(tmp_path):
    model, tokenizer = tiny_bert()
    folder = saved(tmp_path / "corrupt", model, tokenizer)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    refusal(folder)
    assert refusal(tmp_path / "nowhere").endswith(": no such directory")


def test_the_same_weights_under_three_names_are_one_model(tmp_path, settings, monkeypatch):
    release = write_release(tmp_path / "rel", {
        "en": {"templates": {"P19": "[X] was born in [Y] ."},
               "facts": {"P19": [fact("u1", "Allan", "Paris"), fact("u2", "Allan", "Rome")]}}})
    ingest_mlama(settings.build_database, release, progress=False)
    model, tokenizer = tiny_bert()
    folder = saved(tmp_path / "models" / "tiny", model, tokenizer)
    copy = saved(tmp_path / "models" / "renamed-copy", model, tokenizer)
    first = probe(settings.build_database, str(folder), settings.shard_dir, device="cpu", progress=False)
    assert sum(first.probed.values()) == 2
    monkeypatch.chdir(tmp_path / "models")
    for name in ("tiny", "./tiny/", os.path.relpath(copy)):
        again = probe(settings.build_database, name, settings.shard_dir, device="cpu", progress=False)
        assert (again.model_id, again.probed, again.n_already) == (first.model_id, {}, 2)
    assert rows(settings.build_database, "SELECT count(*), count(DISTINCT model_id) FROM raw.predictions") == [(2, 1)]
    assert rows(settings.build_database, "SELECT model_id FROM raw.models") == [(first.model_id,)]
    assert first.model_id.startswith("tiny@")
