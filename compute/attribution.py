"""Integrated-gradients attribution of every FFN neuron to the gold object's probability (METHOD.md,
"Knowledge neurons"), for masked and causal LMs alike.

F(a) is the model's probability of the gold object (the product over its k tokens, from the probe's
single forward pass) as a function of one layer's FFN activations a at the predicting positions,
the layers above computed normally from it. With alpha_j = (j + 0.5) / m (midpoint rule, baseline 0):

    attr(n) = sum over the predicting positions p of a_np * (1/m) * sum_j dF/da_np (alpha_j * a)

one layer scaled at a time. How it is computed, per batch of facts:
1. one pass without gradients keeps each block's input, each layer's activations at the
   predicting positions, and F(a);
2. per layer l, one pass over the m scaled copies of every fact: the blocks below l are replaced by
   a stand-in returning the kept input of block l (so they are computed once per fact, in step 1),
   a pre-hook on l's FFN output projection puts alpha_j * a at the predicting positions as a leaf
   tensor, and one backward pass of the sum of the copies' F gives every copy's gradient (each
   copy's F depends on its own row only).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Iterator, Sequence

import torch
from tqdm import tqdm

from compute.ffn import ffn_output_projections, layer_blocks
from compute.models import LoadedModel
from compute.probe import Batch, batch_inputs, full_match, gold_probs, lm_head, log_probs_at
from compute.queries import Query


@dataclass
class Attribution:
    """One query's attributions: attributions[layer, neuron_index] (float32, on the CPU), the gold
    object's probability F(a), and whether the probe's full match holds (all k argmaxes are gold)."""

    index: int  # position of the query in the list given to attribute()
    attributions: torch.Tensor
    gold_prob: float
    is_correct: bool


def midpoints(steps: int) -> torch.Tensor:
    """alpha_j = (j + 0.5) / m for j = 0 .. m - 1."""
    if steps < 1:
        raise ValueError(f"ig_steps must be at least 1, not {steps}")
    return (torch.arange(steps, dtype=torch.float32) + 0.5) / steps


def candidates(attributions: torch.Tensor, share: float) -> list[tuple[int, float]]:
    """(neuron_id, attribution) of the neurons with attribution >= share x the largest over all
    layers (neuron_id = layer * d_ff + index), highest first; none when no attribution is positive."""
    flat = attributions.reshape(-1)
    top = flat.max().item()
    if top <= 0:
        return []
    kept = torch.nonzero(flat >= share * top).reshape(-1)
    order = torch.argsort(flat[kept], descending=True, stable=True)
    return [(int(n), float(flat[n])) for n in kept[order]]


class _Replay(torch.nn.Module):
    """Stands in for a block below the scaled layer: returns the kept input of the scaled layer's
    block, in the form the block returns (a tensor, or a tuple led by it)."""

    def __init__(self, hidden: torch.Tensor, tuple_length: int | None):
        super().__init__()
        self.hidden, self.tuple_length = hidden, tuple_length

    def forward(self, *args, **kwargs):
        if self.tuple_length is None:
            return self.hidden
        return (self.hidden,) + (None,) * (self.tuple_length - 1)


@contextmanager
def _replaced(blocks: torch.nn.ModuleList, below: int, stand_in: torch.nn.Module):
    """While open, blocks[0 .. below - 1] are `stand_in`."""
    originals = [blocks[i] for i in range(below)]
    for i in range(below):
        blocks[i] = stand_in
    try:
        yield
    finally:
        for i, block in enumerate(originals):
            blocks[i] = block


@contextmanager
def _hooked(modules: Sequence[torch.nn.Module], hook, **options):
    """While open, hook(i, module, args[, kwargs]) is a forward pre-hook of modules[i]."""
    handles = [m.register_forward_pre_hook(partial(hook, i), **options) for i, m in enumerate(modules)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _first_pass(loaded: LoadedModel, head, blocks, projections, batch: Batch):
    """Without gradients: each block's input hidden states, each layer's activations at the
    predicting positions (positions, d_ff), the log-probabilities there, and the blocks' output form."""
    inputs, activations, forms = [None] * len(blocks), [None] * len(blocks), []

    def keep_input(i, module, args, kwargs):
        inputs[i] = args[0] if args else kwargs["hidden_states"]

    def keep_activations(i, module, args):
        activations[i] = args[0][batch.rows, batch.cols].float()

    form = blocks[0].register_forward_hook(
        lambda module, args, out: forms.append(len(out) if isinstance(out, tuple) else None))
    try:
        with torch.no_grad(), _hooked(blocks, keep_input, with_kwargs=True), \
                _hooked(projections, keep_activations):
            log_probs = log_probs_at(loaded, head, batch)
    finally:
        form.remove()
    return inputs, activations, log_probs, forms[0]


def _layer_gradients(loaded, head, blocks, projection, layer: int, hidden: torch.Tensor, scaled: torch.Tensor,
                     batch: Batch, tuple_length: int | None) -> torch.Tensor:
    """dF/da at the predicting positions of `batch` (the m copies of each fact), with layer `layer`'s
    activations there set to `scaled` and the blocks below replaced by `hidden` (block layer's input)."""
    leaf = scaled.detach().requires_grad_(True)

    def put(i, module, args):
        return (args[0].index_put((batch.rows, batch.cols), leaf.to(args[0].dtype)), *args[1:])

    with torch.enable_grad(), _replaced(blocks, layer, _Replay(hidden, tuple_length)), _hooked([projection], put):
        log_probs = log_probs_at(loaded, head, batch)
        total = gold_probs(log_probs, batch, batch.input_ids.shape[0]).sum()
        (gradient,) = torch.autograd.grad(total, leaf)
    return gradient


def attribute_batch(loaded: LoadedModel, queries: Sequence[Query], steps: int = 20,
                    layers: Sequence[int] | None = None) -> list[Attribution]:
    """Attributions of a batch of queries, one layer scaled at a time (`layers`: all by default;
    the others' attributions are 0)."""
    alphas = midpoints(steps).to(loaded.device)
    head, blocks, projections = lm_head(loaded.model), layer_blocks(loaded), ffn_output_projections(loaded)
    plain = batch_inputs(loaded, list(queries))
    kept, activations, log_probs, tuple_length = _first_pass(loaded, head, blocks, projections, plain)
    n = len(queries)
    probs, right = gold_probs(log_probs, plain, n), full_match(log_probs, plain, n)

    copies = batch_inputs(loaded, list(queries), copies=steps)
    # copy position e holds original position source[e] scaled by alphas[step[e]]
    source, step, start = [], [], 0
    for q in queries:
        k = len(q.mask_positions)
        for j in range(steps):
            source += range(start, start + k)
            step += [j] * k
        start += k
    source_t = torch.tensor(source, device=loaded.device)
    alpha_t = alphas[torch.tensor(step, device=loaded.device)][:, None]

    result = torch.zeros((n, loaded.n_layers, loaded.d_ff), device=loaded.device)
    for layer in range(loaded.n_layers) if layers is None else layers:
        a = activations[layer]
        hidden = kept[layer].repeat_interleave(steps, dim=0)
        gradient = _layer_gradients(loaded, head, blocks, projections[layer], layer, hidden,
                                    alpha_t * a[source_t], copies, tuple_length)
        mean_gradient = torch.zeros_like(a).index_add(0, source_t, gradient) / steps
        result[:, layer] = torch.zeros((n, a.shape[1]), device=a.device).index_add(0, plain.rows, a * mean_gradient)
    result = result.cpu()
    return [Attribution(i, result[i], float(probs[i]), bool(right[i])) for i in range(n)]


def attribute(loaded: LoadedModel, queries: Sequence[Query], steps: int = 20, batch_size: int = 4,
              progress: bool = True) -> Iterator[Attribution]:
    """attribute_batch over `queries` in batches of `batch_size` facts (each pass holds
    batch_size x steps copies), in the order given; Attribution.index is the query's position."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    with tqdm(total=len(queries), disable=not progress, unit="fact", desc="attribute") as bar:
        for start in range(0, len(queries), batch_size):
            for found in attribute_batch(loaded, queries[start : start + batch_size], steps):
                found.index += start
                yield found
            bar.update(min(batch_size, len(queries) - start))
