"""Probing tiny random masked LMs, checked against full-vocabulary logits computed here, one fact at a time."""

import random

import pyarrow as pa
import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, XLMRobertaConfig, XLMRobertaForMaskedLM

from compute.models import ModelLoadError, load_model, model_row, pick_device, wrap_model
from compute.probe import PREDICTION_SCHEMA, lm_head, probe
from tiny_tokenizers import sentencepiece_tokenizer, wordpiece_tokenizer

SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


def tiny_bert(seed=0):
    torch.manual_seed(seed)
    tokenizer = wordpiece_tokenizer()
    config = BertConfig(vocab_size=len(tokenizer), max_position_embeddings=64, **SIZES)
    return BertForMaskedLM(config), tokenizer


def tiny_xlmr(seed=0):
    torch.manual_seed(seed)
    tokenizer = sentencepiece_tokenizer()
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), max_position_embeddings=22, pad_token_id=1, bos_token_id=0, eos_token_id=2, **SIZES
    )
    return XLMRobertaForMaskedLM(config), tokenizer


def fact(uuid, template, sub, obj):
    return dict(lang="xx", relation="P19", uuid=uuid, template=template, sub_label=sub, obj_label=obj)


def rows_by_uuid(batches):
    table = pa.Table.from_batches(list(batches))
    assert table.schema == PREDICTION_SCHEMA
    rows = table.to_pylist()
    assert len({r["uuid"] for r in rows}) == len(rows)
    return {r["uuid"]: r for r in rows}


def reference(model, tokenizer, tokens, gold):
    """Argmax ids and summed gold log-prob at the masks of one hand-tokenized query, full logits."""
    ids = torch.tensor([tokenizer.convert_tokens_to_ids(tokens)])
    masks = [i for i, t in enumerate(tokens) if t == tokenizer.mask_token]
    with torch.no_grad():
        log_probs = model(input_ids=ids).logits[0, masks].log_softmax(-1)
    gold_ids = tokenizer.convert_tokens_to_ids(gold)
    return log_probs.argmax(-1).tolist(), sum(log_probs[i, g].item() for i, g in enumerate(gold_ids)), gold_ids


BERT_FACTS = [
    # fact, hand-tokenized query, gold tokens
    (fact("a", "[X] was born in [Y] .", "Allan", "Paris"), "[CLS] Allan was born in [MASK] . [SEP]", ["Paris"]),
    (
        fact("b", "[X] died in [Y] .", "Allan Peiper", "Doncaster"),
        "[CLS] Allan Pe ##ipe ##r died in [MASK] [MASK] . [SEP]", ["Don", "##caster"],
    ),
    (
        fact("c", "[Y] is the capital of [X] .", "Italy", "New York City"),
        "[CLS] [MASK] [MASK] [MASK] is the capital of Italy . [SEP]", ["New", "York", "City"],
    ),
    (fact("d", "[X]出生于[Y]。", "北京", "上海"), "[CLS] 北 京 出 生 于 [MASK] [MASK] 。 [SEP]", ["上", "海"]),
    (fact("e", "[X] is [Y]", "Rome", "Italy"), "[CLS] Rome is [MASK] [SEP]", ["Italy"]),
]

SKIPPED_FACTS = [
    (fact("s1", "[X] is the capital .", "Rome", "Italy"), "template_missing_y"),
    (fact("s2", "is the capital of [Y] .", "Rome", "Italy"), "template_missing_x"),
    (fact("s3", "[X] is the capital of [Y] .", "Rome", ""), "empty_label"),
    (fact("s4", "[X] was born in [Y]ville .", "Allan", "Paris"), "object_not_aligned"),
    (fact("s5", "[X] was born in [Y] .", "Allan " * 70, "Paris"), "too_long"),
]


@pytest.fixture(scope="module")
def bert():
    model, tokenizer = tiny_bert()
    return wrap_model(model, tokenizer, "tiny-bert")


def test_lm_head_is_found_generically():
    bert_model, _ = tiny_bert()
    xlmr_model, _ = tiny_xlmr()
    assert lm_head(bert_model) is bert_model.cls
    assert lm_head(xlmr_model) is xlmr_model.lm_head


def test_head_at_masks_matches_full_logits(bert):
    rows = rows_by_uuid(probe(bert, [f for f, _, _ in BERT_FACTS], batch_size=4, progress=False))
    for f, tokens, gold in BERT_FACTS:
        row = rows[f["uuid"]]
        pred_ids, gold_log_prob, gold_ids = reference(bert.model, bert.tokenizer, tokens.split(), gold)
        assert row["skip_reason"] is None
        assert row["gold_token_ids"] == gold_ids
        assert row["n_mask_tokens"] == len(gold)
        assert row["pred_token_ids"] == pred_ids
        assert row["gold_log_prob"] == pytest.approx(gold_log_prob, abs=1e-4)
        assert row["pred_text"] == bert.tokenizer.decode(pred_ids)
    assert rows["a"]["query"] == "Allan was born in [MASK] ."
    assert rows["b"]["gold_text"] == "Doncaster"


def test_one_row_per_fact_and_skipped_facts_carry_their_reason(bert):
    facts = [f for f, _, _ in BERT_FACTS] + [f for f, _ in SKIPPED_FACTS]
    rows = rows_by_uuid(probe(bert, pa.Table.from_pylist(facts), progress=False))
    assert set(rows) == {f["uuid"] for f in facts}
    for f, reason in SKIPPED_FACTS:
        row = rows[f["uuid"]]
        assert row["skip_reason"] == reason
        assert (row["lang"], row["relation"], row["model_id"]) == ("xx", "P19", bert.model_id)
        for column in ("query", "n_mask_tokens", "gold_token_ids", "pred_token_ids", "gold_log_prob", "pred_text"):
            assert row[column] is None
    assert all(rows[f["uuid"]]["skip_reason"] is None for f, _, _ in BERT_FACTS)
    assert len({r["probed_at"] for r in rows.values()}) == 1
    assert next(iter(rows.values()))["probed_at"].tzinfo is not None


def test_batching_and_order_do_not_change_results(bert):
    facts = [f for f, _, _ in BERT_FACTS] * 2
    facts = [dict(f, uuid=f"{f['uuid']}{i}") for i, f in enumerate(facts)]
    baseline = rows_by_uuid(probe(bert, facts, batch_size=1, progress=False))
    shuffled = facts[:]
    random.Random(0).shuffle(shuffled)
    for batch_size in (2, 7, 64):
        rows = rows_by_uuid(probe(bert, shuffled, batch_size=batch_size, progress=False))
        for uuid, row in baseline.items():
            assert rows[uuid]["pred_token_ids"] == row["pred_token_ids"]
            assert rows[uuid]["gold_log_prob"] == pytest.approx(row["gold_log_prob"], abs=1e-4)


def test_prediction_equals_gold_exactly_when_the_model_knows_the_object():
    # a huge output bias on "Paris" makes every mask predict "Paris"
    model, tokenizer = tiny_bert()
    paris = tokenizer.convert_tokens_to_ids("Paris")
    with torch.no_grad():
        model.get_output_embeddings().bias[paris] += 1000.0
    loaded = wrap_model(model, tokenizer, "tiny-bert-paris")
    facts = [
        fact("right", "[X] was born in [Y] .", "Allan", "Paris"),
        fact("wrong", "[X] was born in [Y] .", "Allan", "Rome"),
        fact("partial", "[X] was born in [Y] .", "Allan", "Paris Rome"),
    ]
    rows = rows_by_uuid(probe(loaded, facts + [fact("long", "[X] was born in [Y] .", "Allan " * 70, "Paris")],
                              progress=False))
    assert {uuid: row["is_correct"] for uuid, row in rows.items()} == \
        {"right": True, "wrong": False, "partial": False, "long": False}
    assert rows["long"]["skip_reason"] is not None
    assert rows["right"]["pred_text"] == "Paris"
    assert rows["partial"]["pred_token_ids"] == [paris, paris]
    assert rows["right"]["gold_log_prob"] == pytest.approx(0.0, abs=1e-6)
    assert rows["wrong"]["gold_log_prob"] < -900


def test_sentencepiece_model_probes_like_full_logits():
    model, tokenizer = tiny_xlmr()
    loaded = wrap_model(model, tokenizer, "tiny-xlmr")
    assert loaded.max_length == 20  # 22 positions, numbered from padding_idx + 1 = 2
    cases = [
        (fact("a", "[X] was born in [Y] .", "Allan", "Alexandra"),
         "<s> ▁Allan ▁was ▁born ▁in <mask> <mask> <mask> ▁. </s>", ["▁Al", "ex", "andra"]),
        (fact("b", "[X] was born in [Y] .", "Allan", "北京"),
         "<s> ▁Allan ▁was ▁born ▁in ▁ <mask> ▁. </s>", ["北京"]),
        (fact("c", "[Y]出生于[X]。", "北京", "上海"), "<s> ▁ <mask> 出生于 北京 。 </s>", ["上海"]),
        # 20 tokens: the longest query the position embeddings hold
        (fact("d", "[X] was born in [Y] .", "Allan " * 13, "Rome"),
         "<s> " + "▁Allan " * 13 + "▁was ▁born ▁in <mask> ▁. </s>", ["▁Rome"]),
    ]
    too_long = fact("e", "[X] was born in [Y] .", "Allan " * 14, "Rome")
    rows = rows_by_uuid(probe(loaded, [f for f, _, _ in cases] + [too_long], batch_size=3, progress=False))
    assert rows["e"]["skip_reason"] == "too_long"
    for f, tokens, gold in cases:
        row = rows[f["uuid"]]
        pred_ids, gold_log_prob, gold_ids = reference(model, tokenizer, tokens.split(), gold)
        assert row["gold_token_ids"] == gold_ids
        assert row["pred_token_ids"] == pred_ids
        assert row["gold_log_prob"] == pytest.approx(gold_log_prob, abs=1e-4)
    assert rows["a"]["gold_text"] == "Alexandra"


def test_model_identity_follows_the_weights(tmp_path):
    first, tokenizer = tiny_bert(seed=1)
    second, _ = tiny_bert(seed=2)
    same, _ = tiny_bert(seed=3)
    same.load_state_dict(first.state_dict())
    ids = [wrap_model(m, tokenizer, "tiny").model_id for m in (first, second, same)]
    assert ids[0] != ids[1]
    assert ids[0] == ids[2]

    first.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path), device="cpu")
    row = model_row(loaded)
    assert row["weights_sha256"] == wrap_model(first, tokenizer, "tiny").weights_sha256
    assert row["model_id"] == f"{tmp_path.name}@{row['weights_sha256'][:12]}"
    assert row["revision"] is None
    assert (row["model_class"], row["n_layers"], row["d_ff"], row["vocab_size"], row["max_length"]) == (
        "BertForMaskedLM", 2, 64, len(tokenizer), 64,
    )
    assert loaded.tokenizer.is_fast and not loaded.model.training


def test_unloadable_model_gives_a_one_line_error(tmp_path):
    with pytest.raises(ModelLoadError) as err:
        load_model(str(tmp_path))
    assert str(tmp_path) in str(err.value)
    assert "\n" not in str(err.value)


def test_pick_device():
    assert pick_device(None) == pick_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert pick_device("cpu") == "cpu"
    with pytest.raises(ValueError):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            pick_device("cuda")
