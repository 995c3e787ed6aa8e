"""Integrated-gradients attribution of every FFN neuron to the gold object's probability (METHOD.md,
"Knowledge neurons"), for masked and causal LMs alike.

F(a) is the model's probability of the gold object (the product over its k tokens, from the probe's
single forward pass) as a function of one layer's FFN activations a at the predicting positions,
the layers above computed normally from it. With alpha_j = (j + 0.5) / m (midpoint rule, baseline 0):

    attr(n) = sum over the predicting positions p of a_np * (1/m) * sum_j dF/da_np (alpha_j * a)

one layer scaled at a time. How it is computed, per batch of facts (attribute() sorts them by length
and cuts the batches where they pad least):
1. one pass without gradients keeps each block's input, the outputs of each block's modules that
   return before its FFN output projection is called (they do not depend on the scaled activations),
   each layer's activations at the predicting positions, and F(a);
2. per layer l, one pass over the m scaled copies of every fact, the parameters frozen: the blocks
   below l are replaced by a stand-in returning the kept input of block l, and block l's modules
   before its projection by stand-ins returning their kept outputs (so all of these run once per
   fact, in step 1); a pre-hook on l's FFN output projection puts alpha_j * a at the predicting
   positions as a leaf tensor, and one backward pass of the sum of the copies' F gives every copy's
   gradient (each copy's F depends on its own row only).
"""
from __future__ import annotations

from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Iterator, Sequence

import torch
from tqdm import tqdm

from compute.ffn import ffn_output_projections, layer_blocks
from compute.models import LoadedModel
from compute.probe import Batch, batch_inputs, full_match, gold_probs, least_padding_batches, lm_head, log_probs_at
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
    """Stands in for a module whose output is known: returns `output`, whatever it is given."""

    def __init__(self, output):
        super().__init__()
        self.output = output

    def forward(self, *args, **kwargs):
        return self.output


@contextmanager
def _replaced(stand_ins: dict[tuple[torch.nn.Module, str], torch.nn.Module]):
    """While open, child `name` of `parent` is `stand_in`, for each (parent, name): stand_in."""
    originals = {(parent, name): getattr(parent, name) for parent, name in stand_ins}
    for (parent, name), stand_in in stand_ins.items():
        setattr(parent, name, stand_in)
    try:
        yield
    finally:
        for (parent, name), module in originals.items():
            setattr(parent, name, module)


@contextmanager
def _frozen(model: torch.nn.Module):
    """While open, no parameter requires a gradient, so autograd records nothing for the weights."""
    thawed = [p for p in model.parameters() if p.requires_grad]
    for p in thawed:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in thawed:
            p.requires_grad_(True)


def _repeatable(output, n_rows: int) -> bool:
    """Whether `output` is a tensor of n_rows rows, or a tuple of such tensors and Nones."""
    if isinstance(output, tuple):
        return all(o is None or _repeatable(o, n_rows) for o in output)
    return isinstance(output, torch.Tensor) and output.dim() > 0 and output.shape[0] == n_rows


def _repeated(output, times: int):
    """`output` (_repeatable) with each row repeated `times` times in a row."""
    if isinstance(output, tuple):
        return tuple(None if o is None else o.repeat_interleave(times, dim=0) for o in output)
    return output.repeat_interleave(times, dim=0)


@contextmanager
def _recording_before(block: torch.nn.Module, projection: torch.nn.Module, n_rows: int, found: dict):
    """While open, a forward pass fills `found` (name in the block: output) with the outputs of the
    block's outermost submodules that are called once and return before `projection` is called:
    they depend only on the block's inputs (a module containing the projection returns after it),
    so scaling the projection's input leaves them as they are (e.g. BERT's `attention` and
    `intermediate`; GPT-2's `ln_1`, `attn`, `ln_2`, `mlp.c_fc`, `mlp.act`)."""
    calls, outputs, projected = Counter(), {}, []

    def record(name, module, args, output):
        calls[name] += 1
        if not projected:
            outputs[name] = output

    handles = [projection.register_forward_pre_hook(lambda *_: projected.append(True))]
    handles += [m.register_forward_hook(partial(record, name)) for name, m in block.named_modules() if name]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
    once = {name for name, out in outputs.items() if calls[name] == 1 and _repeatable(out, n_rows)}
    found.update({name: out for name, out in outputs.items() if name in once
                  and not any(name.startswith(outer + ".") for outer in once)})


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
    """Without gradients: each block's input hidden states and its outputs before the projection
    (_recording_before), each layer's activations at the predicting positions (positions, d_ff),
    the log-probabilities there, and the blocks' output form."""
    n = len(blocks)
    inputs, before, activations, forms = [None] * n, [{} for _ in range(n)], [None] * n, []

    def keep_input(i, module, args, kwargs):
        inputs[i] = args[0] if args else kwargs["hidden_states"]

    def keep_activations(i, module, args):
        activations[i] = args[0][batch.rows, batch.cols].float()

    form = blocks[0].register_forward_hook(
        lambda module, args, out: forms.append(len(out) if isinstance(out, tuple) else None))
    rows = batch.input_ids.shape[0]
    try:
        with torch.no_grad(), _hooked(blocks, keep_input, with_kwargs=True), \
                _hooked(projections, keep_activations), ExitStack() as recording:
            for block, projection, found in zip(blocks, projections, before):
                recording.enter_context(_recording_before(block, projection, rows, found))
            log_probs = log_probs_at(loaded, head, batch)
    finally:
        form.remove()
    return inputs, before, activations, log_probs, forms[0]


def _layer_gradients(loaded, head, projection, scaled: torch.Tensor, batch: Batch,
                     stand_ins: dict) -> torch.Tensor:
    """dF/da at the predicting positions of `batch` (the m copies of each fact), with the
    activations there set to `scaled` at `projection` and the modules in `stand_ins` replayed."""
    leaf = scaled.detach().requires_grad_(True)

    def put(i, module, args):
        return (args[0].index_put((batch.rows, batch.cols), leaf.to(args[0].dtype)), *args[1:])

    with torch.enable_grad(), _replaced(stand_ins), _hooked([projection], put):
        log_probs = log_probs_at(loaded, head, batch)
        total = gold_probs(log_probs, batch, batch.input_ids.shape[0]).sum()
        (gradient,) = torch.autograd.grad(total, leaf)
    return gradient


def _stand_ins(blocks, layer: int, hidden: torch.Tensor, tuple_length: int | None, before: dict,
               steps: int) -> dict:
    """The blocks below `layer` returning `hidden` (block layer's input, in the blocks' output form),
    and block layer's submodules that return before its projection replaying their outputs, repeated."""
    below = _Replay(hidden if tuple_length is None else (hidden,) + (None,) * (tuple_length - 1))
    found = {(blocks, str(i)): below for i in range(layer)}
    for name, output in before.items():
        outer, _, child = name.rpartition(".")
        found[(blocks[layer].get_submodule(outer), child)] = _Replay(_repeated(output, steps))
    return found


def attribute_batch(loaded: LoadedModel, queries: Sequence[Query], steps: int = 20,
                    layers: Sequence[int] | None = None) -> list[Attribution]:
    """Attributions of a batch of queries, one layer scaled at a time (`layers`: all by default;
    the others' attributions are 0)."""
    alphas = midpoints(steps).to(loaded.device)
    head, blocks, projections = lm_head(loaded.model), layer_blocks(loaded), ffn_output_projections(loaded)
    plain = batch_inputs(loaded, list(queries))
    kept, before, activations, log_probs, tuple_length = _first_pass(loaded, head, blocks, projections, plain)
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
    with _frozen(loaded.model):
        for layer in range(loaded.n_layers) if layers is None else layers:
            a = activations[layer]
            stand_ins = _stand_ins(blocks, layer, kept[layer].repeat_interleave(steps, dim=0), tuple_length,
                                   before[layer], steps)
            gradient = _layer_gradients(loaded, head, projections[layer], alpha_t * a[source_t], copies, stand_ins)
            mean_gradient = torch.zeros_like(a).index_add(0, source_t, gradient) / steps
            result[:, layer] = torch.zeros((n, a.shape[1]), device=a.device).index_add(0, plain.rows, a * mean_gradient)
    result = result.cpu()
    return [Attribution(i, result[i], float(probs[i]), bool(right[i])) for i in range(n)]


def attribute(loaded: LoadedModel, queries: Sequence[Query], steps: int = 20, batch_size: int = 8,
              progress: bool = True) -> Iterator[Attribution]:
    """attribute_batch over `queries` sorted by length, in the fewest batches of at most `batch_size`
    facts cut where they pad least (each pass holds batch_size x steps copies); Attribution.index is
    the query's position in `queries`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    order = sorted(range(len(queries)), key=lambda i: len(queries[i].input_ids))
    ends = least_padding_batches([len(queries[i].input_ids) for i in order], batch_size)
    with tqdm(total=len(queries), disable=not progress, unit="fact", desc="attribute") as bar:
        for start, end in zip([0, *ends], ends):
            for found in attribute_batch(loaded, [queries[i] for i in order[start:end]], steps):
                found.index = order[start + found.index]
                yield found
            bar.update(end - start)
