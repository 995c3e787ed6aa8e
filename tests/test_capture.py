"""FFN activations captured during probing, checked against forward hooks on each layer's intermediate module."""

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from transformers import BertConfig, BertForMaskedLM

from compute.ffn import ffn_output_projections
from compute.models import ModelLoadError, wrap_model
from compute.probe import activation_schema, probe
from compute.queries import build_query
from test_probe import SIZES, fact, tiny_bert, tiny_xlmr
from tiny_tokenizers import wordpiece_tokenizer

BERT_CASES = [
    fact("a", "[X] was born in [Y] .", "Allan", "Paris"),
    fact("b", "[X] died in [Y] .", "Allan Peiper", "Doncaster"),
    fact("c", "[Y] is the capital of [X] .", "Italy", "New York City"),
    fact("d", "[X]出生于[Y]。", "北京", "上海"),
    fact("e", "[X] is [Y]", "Rome", "Italy"),
]
XLMR_CASES = [
    fact("a", "[X] was born in [Y] .", "Allan", "Alexandra"),
    fact("b", "[X] was born in [Y] .", "Allan", "北京"),
    fact("c", "[Y]出生于[X]。", "北京", "上海"),
    fact("d", "[X] was born in [Y] .", "Allan Allan", "Rome"),
]


def captured(loaded, facts, **kwargs):
    """(predictions table, activations table) of one probe run with capture."""
    pairs = list(probe(loaded, facts, progress=False, **kwargs))
    predictions = pa.Table.from_batches([p for p, _ in pairs])
    activations = [a for _, a in pairs if a is not None]
    return predictions, pa.Table.from_batches(activations) if activations else None


def reference_activations(loaded, f) -> np.ndarray:
    """One fact alone (no padding): each layer's `intermediate` output averaged over the masks, concatenated."""
    q = build_query(loaded.tokenizer, f["template"], f["sub_label"], f["obj_label"], loaded.max_length)
    outputs = []
    layers = loaded.model.base_model.encoder.layer
    handles = [layer.intermediate.register_forward_hook(lambda m, i, o: outputs.append(o)) for layer in layers]
    try:
        with torch.no_grad():
            loaded.model(input_ids=torch.tensor([q.input_ids]))
    finally:
        for handle in handles:
            handle.remove()
    return torch.cat([o[0, q.mask_positions].mean(0) for o in outputs]).numpy()


def by_uuid(activations: pa.Table) -> dict[str, np.ndarray]:
    values = activations["activations"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return dict(zip(activations["uuid"].to_pylist(), values.reshape(activations.num_rows, -1)))


@pytest.mark.parametrize("make, cases", [(tiny_bert, BERT_CASES), (tiny_xlmr, XLMR_CASES)], ids=["bert", "xlmr"])
def test_captured_activations_equal_the_intermediate_output_at_the_masks(make, cases):
    model, tokenizer = make()
    loaded = wrap_model(model, tokenizer, "tiny")
    assert ffn_output_projections(loaded) == [layer.output.dense for layer in model.base_model.encoder.layer]
    predictions, activations = captured(loaded, cases, batch_size=3, capture="all", activation_dtype="float32")
    assert activations.schema == activation_schema(2 * SIZES["intermediate_size"], "float32")
    assert set(activations["model_id"].to_pylist()) == {loaded.model_id}
    assert set(activations["lang"].to_pylist()) == {"xx"}
    values = by_uuid(activations)
    assert sorted(values) == sorted(f["uuid"] for f in cases)
    for f in cases:
        np.testing.assert_allclose(values[f["uuid"]], reference_activations(loaded, f), atol=1e-5)


def test_correct_captures_only_correct_facts_and_predictions_do_not_change():
    # a huge output bias on "Paris" makes every mask predict "Paris"
    model, tokenizer = tiny_bert()
    with torch.no_grad():
        model.get_output_embeddings().bias[tokenizer.convert_tokens_to_ids("Paris")] += 1000.0
    loaded = wrap_model(model, tokenizer, "tiny-bert-paris")
    facts = [
        fact("right", "[X] was born in [Y] .", "Allan", "Paris"),
        fact("right2", "[X] died in [Y] .", "Allan Peiper", "Paris"),
        fact("wrong", "[X] was born in [Y] .", "Allan", "Rome"),
        fact("partial", "[X] was born in [Y] .", "Allan", "Paris Rome"),
        fact("skipped", "[X] was born in [Y]ville .", "Allan", "Paris"),
    ]
    plain = pa.Table.from_batches(list(probe(loaded, facts, batch_size=2, progress=False))).drop_columns("probed_at")
    for capture, expected in (("correct", {"right", "right2"}), ("all", {"right", "right2", "wrong", "partial"})):
        predictions, activations = captured(loaded, facts, batch_size=2, capture=capture)
        assert predictions.drop_columns("probed_at").equals(plain)
        assert sorted(activations["uuid"].to_pylist()) == sorted(expected)
    pairs = list(probe(loaded, facts[2:], batch_size=2, progress=False, capture="correct"))
    assert [a for _, a in pairs] == [None, None]  # the skipped fact's batch, then a batch with no correct fact


def test_float16_is_close_to_float32():
    model, tokenizer = tiny_bert()
    loaded = wrap_model(model, tokenizer, "tiny")
    _, half = captured(loaded, BERT_CASES, capture="all")
    _, single = captured(loaded, BERT_CASES, capture="all", activation_dtype="float32")
    assert half.schema.field("activations").type.value_type == pa.float16()
    half, single = by_uuid(half), by_uuid(single)
    for uuid, values in single.items():
        assert half[uuid].dtype == np.float16
        np.testing.assert_allclose(half[uuid].astype(np.float32), values, rtol=1e-3, atol=1e-4)


def test_duckdb_reads_float16_parquet_as_float_list(tmp_path):
    model, tokenizer = tiny_bert()
    loaded = wrap_model(model, tokenizer, "tiny")
    _, activations = captured(loaded, BERT_CASES, capture="all")
    pq.write_table(activations, tmp_path / "a.parquet")
    rel = duckdb.sql(f"SELECT uuid, activations FROM '{tmp_path / 'a.parquet'}' ORDER BY uuid")
    assert rel.types[1] == "FLOAT[]"
    expected = by_uuid(activations)
    for uuid, values in rel.fetchall():
        np.testing.assert_array_equal(np.array(values, dtype=np.float32), expected[uuid].astype(np.float32))


def without_ffn_expansion():
    """A tiny BERT whose layers have no d_ff-wide FFN: intermediate is an identity, output maps hidden -> hidden."""
    model, tokenizer = tiny_bert()
    hidden = SIZES["hidden_size"]
    for layer in model.bert.encoder.layer:
        layer.intermediate = torch.nn.Identity()
        layer.output.dense = torch.nn.Linear(hidden, hidden)
    return model, tokenizer


def ffn_as_wide_as_hidden():
    """d_ff == hidden: the attention's output projection also takes d_ff inputs, so no layer has exactly one."""
    tokenizer = wordpiece_tokenizer()
    sizes = dict(SIZES, intermediate_size=SIZES["hidden_size"])
    return BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), max_position_embeddings=64, **sizes)), tokenizer


@pytest.mark.parametrize("make", [without_ffn_expansion, ffn_as_wide_as_hidden])
def test_model_without_a_findable_ffn_gives_a_one_line_error(make):
    model, tokenizer = make()
    loaded = wrap_model(model, tokenizer, "odd-bert")
    with pytest.raises(ModelLoadError) as err:
        list(probe(loaded, BERT_CASES, progress=False, capture="correct"))
    assert str(err.value).startswith("odd-bert: cannot find the FFN output projection")
    assert "in each of the 2 layers" in str(err.value) and "\n" not in str(err.value)
    assert pa.Table.from_batches(probe(loaded, BERT_CASES, progress=False)).num_rows == len(BERT_CASES)


def test_chunked_feed_forward_is_refused():
    model, tokenizer = tiny_bert()
    for layer in model.bert.encoder.layer:
        layer.chunk_size_feed_forward = 1
    loaded = wrap_model(model, tokenizer, "chunked")
    with pytest.raises(RuntimeError, match="chunked feed-forward"):
        list(probe(loaded, BERT_CASES, progress=False, capture="all"))


def test_capture_arguments_are_checked():
    model, tokenizer = tiny_bert()
    loaded = wrap_model(model, tokenizer, "tiny")
    with pytest.raises(ValueError, match="capture"):
        list(probe(loaded, BERT_CASES, capture="some"))
    with pytest.raises(ValueError, match="activation_dtype"):
        list(probe(loaded, BERT_CASES, capture="all", activation_dtype="bfloat16"))
