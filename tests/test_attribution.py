"""Integrated gradients on tiny random BERT and GPT-2 models (and the other causal families of
test_causal), against a plain loop written here: one fact, one layer and one step at a time, the full
model run whole, its FFN activations replaced by a hook of the test's own; and completeness (per
layer, the attributions sum to F(a) - F(0))."""

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, GPT2Config, GPT2LMHeadModel

from compute.attribution import attribute, attribute_batch, candidates
from compute.models import wrap_model
from compute.probe import build_for
from test_causal import FAMILIES, tiny as tiny_causal
from tiny_tokenizers import byte_level_bpe_tokenizer, wordpiece_tokenizer

FACTS = {  # (template, subject, object): objects of 1 and 2 tokens in both tokenizers
    "masked": [("[X] was born in [Y] .", "Allan", "Paris"), ("[X] died in [Y] .", "Allan Peiper", "Doncaster"),
               ("[X] is the capital of [Y] .", "Rome", "Italy")],
    "causal": [("[X] was born in [Y] .", "Allan", "Paris"), ("[X] is [Y] .", "Rome", "New York City"),
               ("[X] is a city in [Y]", "Rome", "Italy")],
}


def tiny(family: str):
    """A random 3-layer model of the family, with weights large enough to make F far from linear."""
    torch.manual_seed(1)
    if family == "masked":
        tokenizer = wordpiece_tokenizer()
        model = BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=3,
                                           num_attention_heads=2, intermediate_size=48, max_position_embeddings=64,
                                           initializer_range=0.15))
        name = "bert.encoder.layer.{}.output.dense"
    else:
        tokenizer = byte_level_bpe_tokenizer()
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=3, n_head=2, n_inner=48,
                                           n_positions=64, initializer_range=0.15,
                                           bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
                                           pad_token_id=tokenizer.pad_token_id))
        name = "transformer.h.{}.mlp.c_proj"
    loaded = wrap_model(model, tokenizer, f"tiny-{family}", device="cpu")
    queries = [build_for(loaded, *fact) for fact in FACTS[family]]
    return loaded, queries, [model.get_submodule(name.format(layer)) for layer in range(3)]


@pytest.fixture(scope="module", params=["masked", "causal"])
def setup(request):
    return tiny(request.param)


def gold_probability(model, projection, query, replace=None):
    """F: the gold object's probability for one query run alone; `replace(x)` returns the
    activations at its predicting positions that the layer of `projection` gets instead of x."""
    positions = torch.tensor(query.mask_positions)

    def hook(module, args):
        x = args[0].clone()
        x[0, positions] = replace(x[0, positions])
        return (x,)

    handle = projection.register_forward_pre_hook(hook) if replace else None
    try:
        logits = model(input_ids=torch.tensor([query.input_ids])).logits[0, positions]
    finally:
        if handle:
            handle.remove()
    return logits.log_softmax(-1)[torch.arange(len(positions)), torch.tensor(query.gold_ids)].sum().exp()


def activations_at(model, projection, query):
    seen = []
    gold_probability(model, projection, query, replace=lambda x: seen.append(x.detach()) or x)
    return seen[0]


def plain_loop(model, projection, query, steps):
    """attr of one layer's neurons: sum over positions of a * mean over the m midpoints of dF/da."""
    a = activations_at(model, projection, query)
    total = torch.zeros_like(a)
    for j in range(steps):
        leaf = ((j + 0.5) / steps * a).requires_grad_(True)
        gold_probability(model, projection, query, replace=lambda x: leaf).backward()
        total += leaf.grad
    return (a * total / steps).sum(0)


def test_batched_equals_a_plain_loop(setup):
    loaded, queries, projections = setup
    found = attribute_batch(loaded, queries, steps=5)
    for q, got in zip(queries, found):
        p = gold_probability(loaded.model, projections[0], q).item()
        assert got.gold_prob == pytest.approx(p, rel=1e-5)
        for layer, projection in enumerate(projections):
            expected = plain_loop(loaded.model, projection, q, steps=5)
            torch.testing.assert_close(got.attributions[layer], expected, rtol=1e-4, atol=1e-6 * p)


@pytest.mark.parametrize("family", ["llama", "bloom", "gemma2"])
def test_batched_equals_a_plain_loop_in_other_causal_families(family):
    model, tokenizer = tiny_causal(family)
    loaded = wrap_model(model, tokenizer, f"tiny-{family}", device="cpu")
    queries = [build_for(loaded, *fact) for fact in FACTS["causal"]]
    for q, got in zip(queries, attribute_batch(loaded, queries, steps=3)):
        for layer in range(loaded.n_layers):
            projection = model.get_submodule(FAMILIES[family][2].format(layer))
            expected = plain_loop(model, projection, q, steps=3)
            torch.testing.assert_close(got.attributions[layer], expected, rtol=1e-4, atol=1e-6 * got.gold_prob)


def test_attention_runs_only_where_the_scaled_layer_changes_it(setup):
    """Block l's attention runs in the first pass and in the passes scaling a layer below l: the blocks
    below the scaled one and the scaled block's modules before its FFN output projection are replayed.
    The parameters' requires_grad is as it was."""
    loaded, queries, _ = setup
    blocks = loaded.model.bert.encoder.layer if loaded.family == "masked" else loaded.model.transformer.h
    calls = [0] * len(blocks)
    handles = [(block.attention if loaded.family == "masked" else block.attn).register_forward_hook(
        lambda *_, layer=layer: calls.__setitem__(layer, calls[layer] + 1)) for layer, block in enumerate(blocks)]
    embeddings = loaded.model.get_input_embeddings().weight.requires_grad_(False)
    try:
        attribute_batch(loaded, queries, steps=2)
        assert [p is embeddings for p in loaded.model.parameters() if not p.requires_grad] == [True]
    finally:
        for handle in handles:
            handle.remove()
        embeddings.requires_grad_(True)
    assert calls == [1 + layer for layer in range(len(blocks))]


def test_completeness_per_layer_improves_with_steps(setup):
    loaded, queries, projections = setup
    errors = {}
    for steps in (2, 8, 64):
        for got, q in zip(attribute_batch(loaded, queries, steps=steps), queries):
            for layer, projection in enumerate(projections):
                with torch.no_grad():
                    gap = (gold_probability(loaded.model, projection, q)
                           - gold_probability(loaded.model, projection, q, replace=torch.zeros_like)).item()
                errors.setdefault(steps, []).append(abs(got.attributions[layer].sum().item() - gap) / abs(gap))
    assert max(errors[64]) < 0.01
    assert max(errors[64]) < max(errors[8]) < max(errors[2])


def test_batches_and_order_do_not_change_attributions(setup):
    loaded, queries, _ = setup
    together = {a.index: a.attributions for a in attribute(loaded, queries, steps=3, batch_size=3, progress=False)}
    alone = {a.index: a.attributions for a in attribute(loaded, queries, steps=3, batch_size=1, progress=False)}
    assert sorted(together) == [0, 1, 2]
    for i in together:
        torch.testing.assert_close(together[i], alone[i], rtol=1e-4, atol=1e-9)


def test_candidates_keep_a_share_of_the_largest():
    attributions = torch.tensor([[0.5, -1.0, 0.04], [1.0, 0.1, 0.2]])  # d_ff = 3
    assert candidates(attributions, 0.1) == [(3, 1.0), (0, 0.5), (5, pytest.approx(0.2)), (4, pytest.approx(0.1))]
    assert candidates(attributions, 0.3) == [(3, 1.0), (0, 0.5)]
    assert candidates(-attributions.abs(), 0.1) == []
