"""Causal checks of neuron sets (METHOD.md, "Interventions"): a set's FFN activations at a query's
predicting positions are multiplied by a factor (0 suppresses, 2 enhances) through pre-hooks on the
FFN output projections, and the gold object's probability and full match are read from the same
single forward pass as the probe's. Queries with different sets and factors share a batch."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from tqdm import tqdm

from compute.ffn import ffn_output_projections
from compute.models import LoadedModel
from compute.probe import Batch, batch_inputs, full_match, gold_probs, lm_head, log_probs_at
from compute.queries import Query

# op -> factor on the set's activations
OPS = {"suppress": 0.0, "enhance": 2.0}


@dataclass(frozen=True)
class Edit:
    """Multiply the activations of `neurons` (ids layer * d_ff + index) at `query`'s predicting
    positions by `factor`; no neurons leaves the model as it is."""

    query: Query
    neurons: tuple[int, ...] = ()
    factor: float = 1.0


@dataclass(frozen=True)
class Outcome:
    gold_prob: float   # the model's probability of the gold object (product over its k tokens)
    is_correct: bool   # full match: every predicting position's argmax is the gold id


def _multipliers(edits: Sequence[Edit], batch: Batch, d_ff: int) -> dict[int, torch.Tensor]:
    """layer -> (predicting positions, d_ff) factors, for the layers some edit touches."""
    positions: dict[int, list[int]] = {}
    for m, row in enumerate(batch.rows.tolist()):
        positions.setdefault(row, []).append(m)
    found: dict[int, torch.Tensor] = {}
    for row, edit in enumerate(edits):
        for neuron in edit.neurons:
            layer, index = divmod(int(neuron), d_ff)
            if layer not in found:
                found[layer] = torch.ones((len(batch.rows), d_ff), device=batch.rows.device)
            found[layer][positions[row], index] = edit.factor
    return found


@contextmanager
def scaling(projections: Sequence[torch.nn.Module], multipliers: dict[int, torch.Tensor], batch: Batch):
    """While open, layer l's FFN activations at the batch's predicting positions are multiplied by
    multipliers[l] (positions, d_ff) in every forward pass."""

    def scale(layer, module, args):
        x = args[0]
        at = (batch.rows, batch.cols)
        return (x.index_put(at, x[at] * multipliers[layer].to(x.dtype)), *args[1:])

    handles = [projections[layer].register_forward_pre_hook(lambda m, a, layer=layer: scale(layer, m, a))
               for layer in multipliers]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


@torch.inference_mode()
def outcome_batch(loaded: LoadedModel, edits: Sequence[Edit]) -> list[Outcome]:
    """The gold object's probability and full match of each edit's query, with its edit applied."""
    batch = batch_inputs(loaded, [e.query for e in edits])
    multipliers = _multipliers(edits, batch, loaded.d_ff)
    with scaling(ffn_output_projections(loaded), multipliers, batch):
        log_probs = log_probs_at(loaded, lm_head(loaded.model), batch)
    probs, right = gold_probs(log_probs, batch, len(edits)).tolist(), full_match(log_probs, batch, len(edits)).tolist()
    return [Outcome(p, r) for p, r in zip(probs, right)]


def outcomes(loaded: LoadedModel, edits: Sequence[Edit], batch_size: int = 32,
             progress: bool = True) -> Iterator[Outcome]:
    """outcome_batch over `edits` in batches of `batch_size`, in the order given."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    with tqdm(total=len(edits), disable=not progress, unit="query", desc="intervene") as bar:
        for start in range(0, len(edits), batch_size):
            chunk = edits[start : start + batch_size]
            yield from outcome_batch(loaded, chunk)
            bar.update(len(chunk))
