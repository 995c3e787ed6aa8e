"""Probing tiny random causal LMs of every family, checked against the full model run here one fact at a time:
its logits, greedy generation, and the FFN down projection's input read by a hook of the test's own."""

import itertools
import math
import random
from functools import cache

import numpy as np
import pyarrow as pa
import pytest
import torch
from transformers import (
    BloomConfig, BloomForCausalLM, CohereConfig, CohereForCausalLM, Gemma2Config, Gemma2ForCausalLM, GemmaConfig,
    GemmaForCausalLM, GPT2Config, GPT2ForSequenceClassification, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM,
    Qwen2Config, Qwen2ForCausalLM, T5Config, T5ForConditionalGeneration,
)

from compute.ffn import ffn_output_projections
from compute.models import ModelLoadError, load_model, model_row, wrap_model
from compute.probe import PREDICTION_SCHEMA, least_padding_batches, probe
from compute.queries import QueryError, build_causal_query
from tiny_tokenizers import byte_level_bpe_tokenizer, sentencepiece_bpe_tokenizer

TOKENIZERS = {"byte-level": cache(byte_level_bpe_tokenizer), "sentencepiece": cache(sentencepiece_bpe_tokenizer)}
SIZES = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=64,
             initializer_range=0.2)
GATED = dict(SIZES, intermediate_size=48, num_key_value_heads=1)


def special_ids(tokenizer) -> dict:
    return dict(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id)


# family -> (tokenizer, model from tokenizer, name of layer i's FFN down projection, d_ff)
FAMILIES = {
    "gpt2": ("byte-level", lambda t: GPT2LMHeadModel(GPT2Config(
        n_embd=32, n_layer=2, n_head=2, n_positions=64, initializer_range=0.2, **special_ids(t))),
        "transformer.h.{}.mlp.c_proj", 4 * 32),
    "llama": ("sentencepiece", lambda t: LlamaForCausalLM(LlamaConfig(**GATED, **special_ids(t))),
              "model.layers.{}.mlp.down_proj", 48),
    "qwen2": ("byte-level", lambda t: Qwen2ForCausalLM(Qwen2Config(**GATED, **special_ids(t))),
              "model.layers.{}.mlp.down_proj", 48),
    "bloom": ("byte-level", lambda t: BloomForCausalLM(BloomConfig(
        hidden_size=32, n_layer=2, n_head=2, seq_length=64, initializer_range=0.2, **special_ids(t))),
        "transformer.h.{}.mlp.dense_4h_to_h", 4 * 32),
    "gemma": ("sentencepiece", lambda t: GemmaForCausalLM(GemmaConfig(**GATED, head_dim=16, **special_ids(t))),
              "model.layers.{}.mlp.down_proj", 48),
    # a soft-capping as small as the logits, so that a head applied without it would be wrong
    "gemma2": ("sentencepiece", lambda t: Gemma2ForCausalLM(Gemma2Config(
        **GATED, head_dim=16, final_logit_softcapping=0.5, **special_ids(t))), "model.layers.{}.mlp.down_proj", 48),
    # Aya's family: the head's logits are scaled
    "cohere": ("byte-level", lambda t: CohereForCausalLM(CohereConfig(**GATED, logit_scale=3.0, **special_ids(t))),
               "model.layers.{}.mlp.down_proj", 48),
}


def tiny(family: str, seed: int = 0):
    style, make, _, _ = FAMILIES[family]
    tokenizer = TOKENIZERS[style]()
    torch.manual_seed(seed)
    return make(tokenizer).eval(), tokenizer


def fact(uuid, template, sub, obj):
    return dict(lang="xx", relation="P19", uuid=uuid, template=template, sub_label=sub, obj_label=obj)


# (fact, prompt tokens, object tokens) per tokenizer style, tokenized by hand
CASES = {
    "byte-level": [
        (fact("a", "[X] was born in [Y] .", "Allan", "Paris"), "Allan Ġwas Ġborn Ġin", "ĠParis"),
        (fact("b", "[X] died in [Y] .", "Allan Peiper", "Doncaster"),
         "Allan Ġ Pe i p er Ġdied Ġin Ġ", "Don c as t er"),
        (fact("c", "[X] is [Y] .", "Rome", "New York City"), "Rome Ġis Ġ", "New ĠYork ĠCity"),
        (fact("d", "[X]出生于[Y]。", "北京", "上海"), "åĮĹäº¬ åĩ ºçĶŁ äºİ", "ä¸Ĭ æµ·"),
        (fact("e", "[X] is a city in [Y]", "Rome", "Italy"), "Rome Ġis Ġa Ġcity Ġin", "ĠItaly"),
    ],
    "sentencepiece": [
        (fact("a", "[X] was born in [Y] .", "Allan", "Paris"), "<s> ▁Allan ▁was ▁born ▁in", "▁Paris"),
        (fact("b", "[X] died in [Y] .", "Allan Peiper", "Doncaster"),
         "<s> ▁Allan ▁Pe i p er ▁died ▁in", "▁Don c as t er"),
        (fact("c", "[X] is [Y] .", "Rome", "New York City"), "<s> ▁Rome ▁is", "▁New ▁York ▁City"),
        (fact("d", "[X]出生于[Y]。", "北京", "上海"), "<s> ▁北京 出 生于", "上 海"),
        (fact("e", "[X] is a city in [Y]", "Rome", "Italy"), "<s> ▁Rome ▁is ▁a ▁city ▁in", "▁Italy"),
    ],
}
SKIPPED = [
    (fact("s1", "[Y] is the capital of [X] .", "Italy", "Rome"), "object_before_subject"),
    # the text after [Y] is dropped: only a token across the prompt's end spills over the object
    (fact("s2", "[X] was born in Paris[Y] .", "Allan", "ville"), "object_not_aligned"),  # one token: Parisville
    (fact("s3", "[X] was born in [Y] .", "Allan " * 70, "Paris"), "too_long"),
]
PROMPTS = [(start, sub) for start in ("[X] was born in", "[X] died in", "The capital of [X] is", "[X] is a city in")
           for sub in ("Allan", "Rome", "Paris", "France", "Italy")]


def test_the_causal_query_feeds_all_but_the_last_object_token():
    tokenizer = TOKENIZERS["sentencepiece"]()
    f, prompt, obj = CASES["sentencepiece"][1]  # a BOS, 7 prompt tokens, 5 object tokens
    prompt_ids, gold_ids = tokenizer.convert_tokens_to_ids(prompt.split()), tokenizer.convert_tokens_to_ids(obj.split())
    q = build_causal_query(tokenizer, f["template"], f["sub_label"], f["obj_label"], max_length=12)
    assert q.input_ids == prompt_ids + gold_ids[:-1] and len(q.input_ids) == 12
    assert q.mask_positions == [7, 8, 9, 10, 11] and q.gold_ids == gold_ids
    assert q.text == "Allan Peiper died in "
    with pytest.raises(QueryError, match="too_long: 12 > 11 tokens"):
        build_causal_query(tokenizer, f["template"], f["sub_label"], f["obj_label"], max_length=11)


def generated_facts(model, tokenizer) -> list[dict]:
    """Facts that the model answers correctly: their object is its own greedy continuation of a prompt
    (1 or 2 tokens, no special token), kept when prompt + object tokenizes back into the prompt's and the new tokens."""
    facts = []
    for n, ((start, sub), k) in enumerate((p, k) for p in PROMPTS for k in (1, 2)):
        prompt = start.replace("[X]", sub)
        prompt_ids = tokenizer(prompt).input_ids
        new = generate(model, tokenizer, prompt_ids, k)
        text = tokenizer.decode(new)
        obj, space = text.strip(), " " if text.startswith(" ") else ""
        if obj and not set(new) & set(tokenizer.all_special_ids) and \
                tokenizer(prompt + space + obj).input_ids == prompt_ids + new:
            facts.append(fact(f"g{n}", start + space + "[Y] .", sub, obj))
    return facts


def generate(model, tokenizer, prompt_ids: list[int], k: int) -> list[int]:
    """Greedy decoding of k new tokens (fewer if it writes the end of text)."""
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt_ids]), attention_mask=torch.ones_like(torch.tensor([prompt_ids])),
                             max_new_tokens=k, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    return out[0, len(prompt_ids):].tolist()


def rows_by_uuid(batches) -> dict[str, dict]:
    table = pa.Table.from_batches(list(batches))
    assert table.schema == PREDICTION_SCHEMA
    return {r["uuid"]: r for r in table.to_pylist()}


def full_logits_reference(model, prompt_ids: list[int], gold_ids: list[int]) -> tuple[list[int], float]:
    """Argmax ids and summed gold log-prob at the k positions before the object's tokens, from the
    full model's logits over prompt + object alone (no padding)."""
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt_ids + gold_ids])).logits[0]
    at = [len(prompt_ids) - 1 + i for i in range(len(gold_ids))]
    log_probs = logits[at].double().log_softmax(-1)
    return log_probs.argmax(-1).tolist(), sum(log_probs[i, g].item() for i, g in enumerate(gold_ids))


@pytest.mark.parametrize("family", FAMILIES)
def test_probe_equals_full_logits_and_greedy_generation(family):
    model, tokenizer = tiny(family)
    loaded = wrap_model(model, tokenizer, f"tiny-{family}")
    assert loaded.family == "causal"
    cases = CASES[FAMILIES[family][0]]
    generated = generated_facts(model, tokenizer)
    facts = [f for f, _, _ in cases] + generated + [f for f, _ in SKIPPED]
    rows = rows_by_uuid(probe(loaded, facts, batch_size=4, progress=False))
    assert set(rows) == {f["uuid"] for f in facts}
    for f, reason in SKIPPED:
        assert (rows[f["uuid"]]["skip_reason"], rows[f["uuid"]]["is_correct"]) == (reason, False)

    hand = {f["uuid"]: (tokenizer.convert_tokens_to_ids(p.split()), tokenizer.convert_tokens_to_ids(o.split()))
            for f, p, o in cases}
    for f, prompt, _ in cases:
        row = rows[f["uuid"]]
        prompt_ids, gold_ids = hand[f["uuid"]]
        assert tokenizer.unk_token_id not in prompt_ids + gold_ids
        assert (row["gold_token_ids"], row["n_mask_tokens"]) == (gold_ids, len(gold_ids)), f
        assert row["query"] == f["template"][: f["template"].index("[Y]")].replace("[X]", f["sub_label"])
        assert row["gold_text"].strip() == f["obj_label"]

    for f in [f for f, _, _ in cases] + generated:
        row = rows[f["uuid"]]
        if f["uuid"] in hand:
            prompt_ids, gold_ids = hand[f["uuid"]]
        else:  # no special token after the text: the object is its last k tokens
            ids = tokenizer(row["query"] + f["obj_label"]).input_ids
            prompt_ids, gold_ids = ids[: -row["n_mask_tokens"]], ids[-row["n_mask_tokens"]:]
            assert row["gold_token_ids"] == gold_ids
        pred_ids, gold_log_prob = full_logits_reference(model, prompt_ids, gold_ids)
        assert row["pred_token_ids"] == pred_ids, f
        assert row["gold_log_prob"] == pytest.approx(gold_log_prob, abs=1e-4)
        assert row["is_correct"] == (pred_ids == gold_ids)
        new = generate(model, tokenizer, prompt_ids, len(gold_ids))
        assert (new == gold_ids) == row["is_correct"], f
        assert new[0] == pred_ids[0]
        for j in range(1, len(new)):  # while generation has written the gold, it writes the prediction
            if new[:j] == gold_ids[:j]:
                assert new[j] == pred_ids[j]
    assert generated and all(rows[f["uuid"]]["is_correct"] for f in generated)
    assert not all(rows[f["uuid"]]["is_correct"] for f, _, _ in cases)


def test_the_soft_capping_and_the_logit_scale_are_applied():
    """Gemma 2 caps its logits and Cohere scales them after the head: gold_log_prob is the full model's,
    not the head's alone."""
    for family in ("gemma2", "cohere"):
        model, tokenizer = tiny(family)
        f, prompt, obj = CASES[FAMILIES[family][0]][0]
        row = rows_by_uuid(probe(wrap_model(model, tokenizer, family), [f], progress=False))["a"]
        ids = torch.tensor([tokenizer.convert_tokens_to_ids(prompt.split())])
        with torch.no_grad():
            head_only = model.lm_head(model.model(input_ids=ids).last_hidden_state[0, -1]).log_softmax(-1)
        assert abs(row["gold_log_prob"] - head_only[row["gold_token_ids"][0]].item()) > 0.01


def reference_activations(model, name: str, n_layers: int, prompt_ids: list[int], k: int) -> np.ndarray:
    """Each layer's down projection input (module looked up by name) over prompt + object alone,
    averaged over the k positions before the object's tokens, concatenated."""
    inputs = []
    modules = [model.get_submodule(name.format(i)) for i in range(n_layers)]
    handles = [m.register_forward_pre_hook(lambda m, args: inputs.append(args[0])) for m in modules]
    try:
        with torch.no_grad():
            model(input_ids=torch.tensor([prompt_ids]))  # the last object token is not needed
    finally:
        for handle in handles:
            handle.remove()
    at = [len(prompt_ids) - k + i for i in range(k)]
    return torch.cat([x[0, at].mean(0) for x in inputs]).numpy()


@pytest.mark.parametrize("family", FAMILIES)
def test_captured_activations_equal_the_down_projection_input(family):
    model, tokenizer = tiny(family)
    style, _, name, d_ff = FAMILIES[family]
    loaded = wrap_model(model, tokenizer, family)
    assert (loaded.n_layers, loaded.d_ff) == (2, d_ff)
    assert ffn_output_projections(loaded) == [model.get_submodule(name.format(i)) for i in range(2)]
    pairs = list(probe(loaded, [f for f, _, _ in CASES[style]], batch_size=3, progress=False, capture="all",
                       activation_dtype="float32"))
    activations = pa.Table.from_batches([a for _, a in pairs if a is not None])
    values = activations["activations"].combine_chunks().flatten().to_numpy(zero_copy_only=False)
    captured = dict(zip(activations["uuid"].to_pylist(), values.reshape(activations.num_rows, 2 * d_ff)))
    assert sorted(captured) == sorted(f["uuid"] for f, _, _ in CASES[style])
    for f, prompt, obj in CASES[style]:
        prompt_ids = tokenizer.convert_tokens_to_ids(prompt.split())
        gold_ids = tokenizer.convert_tokens_to_ids(obj.split())
        expected = reference_activations(model, name, 2, prompt_ids + gold_ids[:-1], len(gold_ids))
        np.testing.assert_allclose(captured[f["uuid"]], expected, atol=1e-5)


def saved(folder, model, tokenizer=None):
    model.save_pretrained(folder)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("family, max_length", [("gpt2", 64), ("llama", 64), ("bloom", 64)])
def test_a_saved_causal_lm_loads_with_its_family_and_sizes(tmp_path, family, max_length):
    model, tokenizer = tiny(family)
    loaded = load_model(str(saved(tmp_path / family, model, tokenizer)), device="cpu")
    row = model_row(loaded)
    assert loaded.family == "causal"
    assert (row["model_class"], row["n_layers"], row["d_ff"], row["max_length"]) == (
        type(model).__name__, 2, FAMILIES[family][3], max_length)
    facts = [f for f, _, _ in CASES[FAMILIES[family][0]]]
    in_memory = rows_by_uuid(probe(wrap_model(model, tokenizer, family), facts, progress=False))
    for uuid, row in rows_by_uuid(probe(loaded, facts, progress=False)).items():
        assert row["gold_token_ids"] == in_memory[uuid]["gold_token_ids"]  # the BOS survives saving
        assert row["pred_token_ids"] == in_memory[uuid]["pred_token_ids"]


def test_neither_masked_nor_causal_is_refused_in_one_line(tmp_path):
    tokenizer = TOKENIZERS["byte-level"]()
    t5 = T5ForConditionalGeneration(T5Config(vocab_size=len(tokenizer), d_model=32, d_ff=64, num_layers=1,
                                             num_heads=2, d_kv=16, decoder_start_token_id=0))
    classifier = GPT2ForSequenceClassification(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=1, n_head=2,
                                                          pad_token_id=tokenizer.pad_token_id))
    for model, expected in ((t5, "T5ForConditionalGeneration is a seq2seq model, neither a masked nor a causal LM"),
                            (classifier, "GPT2ForSequenceClassification is a classifier, not a causal LM")):
        folder = saved(tmp_path / type(model).__name__, model, tokenizer)
        with pytest.raises(ModelLoadError) as error:
            load_model(str(folder), device="cpu")
        assert "\n" not in str(error.value) and str(error.value).endswith(f"{str(folder)!r}: {expected}")


def padded_area(lengths: list[int], ends: list[int]) -> int:
    return sum((end - start) * lengths[end - 1] for start, end in zip([0, *ends], ends))


def test_least_padding_batches_are_the_fewest_and_pad_least():
    """Against every way of cutting the sorted lengths into ceil(n / size) batches of at most size."""
    assert least_padding_batches([2, 2, 5, 5], 3) == [2, 4]  # plain chunks [2, 2, 5] [5] pad 4 positions more
    assert least_padding_batches([], 4) == [] and least_padding_batches([7], 4) == [1]
    rng = random.Random(0)
    for _ in range(200):
        size, lengths = rng.randint(1, 5), sorted(rng.randint(1, 9) for _ in range(rng.randint(1, 11)))
        n, batches = len(lengths), math.ceil(len(lengths) / size)
        ends = least_padding_batches(lengths, size)
        assert len(ends) == batches and ends[-1] == n
        assert all(0 < end - start <= size for start, end in zip([0, *ends], ends))
        every = [[*cuts, n] for cuts in itertools.combinations(range(1, n), batches - 1)]
        fitting = [e for e in every if all(end - start <= size for start, end in zip([0, *e], e))]
        assert padded_area(lengths, ends) == min(padded_area(lengths, e) for e in fitting)
