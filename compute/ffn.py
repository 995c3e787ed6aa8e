"""Where a transformer's FFN activations are read: the input of each layer's FFN output projection.

The projection is found structurally, whatever the family calls it: in each of the model's
n_layers blocks, among the linear maps whose input is wider than their output, the one with the
widest input. That is BERT's and XLM-R's `output.dense` (fed by `intermediate`), GPT-2's `Conv1D`
`mlp.c_proj`, BLOOM's `dense_4h_to_h`, and the gated MLPs' `down_proj` (LLaMA, Qwen, Gemma, ...),
whose input is act(gate) * up. Attention projections never qualify: they are square, widen, or
narrow from a smaller width (grouped key/value heads, Gemma's wide attention output). A forward
pre-hook on the projection sees the activations whatever module computed them.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import partial

import torch
from transformers.pytorch_utils import Conv1D


class FFNNotFoundError(ValueError):
    """A model whose FFN output projections cannot be told apart."""


def _widths(module: torch.nn.Module) -> tuple[int, int] | None:
    """(input, output) width of a linear map (nn.Linear or GPT-2's transposed Conv1D); None otherwise."""
    if isinstance(module, torch.nn.Linear):
        return module.in_features, module.out_features
    if isinstance(module, Conv1D):
        return tuple(module.weight.shape)
    return None


def _narrowing_map(block: torch.nn.Module) -> torch.nn.Module | None:
    """The block's linear map with the widest input among those that narrow; None when not unique."""
    narrowing = [(widths[0], m) for m in block.modules() if (widths := _widths(m)) and widths[0] > widths[1]]
    if not narrowing:
        return None
    widest = max(width for width, _ in narrowing)
    found = [m for width, m in narrowing if width == widest]
    return found[0] if len(found) == 1 else None


def _layers(model: torch.nn.Module, n_layers: int) -> tuple[torch.nn.ModuleList, list[torch.nn.Module]]:
    """The model's blocks and each block's FFN output projection, in layer order, all of one input
    width (d_ff). The blocks are the first ModuleList of n_layers blocks under the model's base
    model in which every block has its projection."""
    for blocks in model.base_model.modules():
        if not isinstance(blocks, torch.nn.ModuleList) or len(blocks) != n_layers:
            continue
        found = [_narrowing_map(block) for block in blocks]
        if all(found) and len({_widths(m)[0] for m in found}) == 1:
            return blocks, found
    raise FFNNotFoundError(f"cannot find the FFN output projection (one linear map narrowing from the widest input)"
                           f" in each of the {n_layers} layers")


def output_projections(model: torch.nn.Module, n_layers: int) -> list[torch.nn.Module]:
    """Each layer's FFN output projection, in layer order, all of one input width (d_ff)."""
    return _layers(model, n_layers)[1]


def layer_blocks(loaded) -> torch.nn.ModuleList:
    """The transformer blocks of a compute.models.LoadedModel, in layer order (those holding its FFNs)."""
    try:
        return _layers(loaded.model, loaded.n_layers)[0]
    except FFNNotFoundError as exc:
        raise FFNNotFoundError(f"{loaded.name_or_path}: {exc}") from None


def ffn_width(model: torch.nn.Module, n_layers: int) -> int | None:
    """d_ff: the input width of the FFN output projections; None when they cannot be found."""
    try:
        return _widths(output_projections(model, n_layers)[0])[0]
    except FFNNotFoundError:
        return None


def ffn_output_projections(loaded) -> list[torch.nn.Module]:
    """output_projections of a compute.models.LoadedModel; the error names the model."""
    try:
        return output_projections(loaded.model, loaded.n_layers)
    except FFNNotFoundError as exc:
        raise FFNNotFoundError(f"{loaded.name_or_path}: {exc}") from None


def _keep_means(out, layer, width, rows, cols, weights, called, module, args) -> None:
    """Forward pre-hook: out[:, layer] = each fact's FFN activations averaged over its positions."""
    activations = args[0]
    if activations.shape[:-1] != (out.shape[0], width):
        shape = tuple(activations.shape)
        raise RuntimeError(f"FFN input of shape {shape} is not the whole batch (chunked feed-forward?)")
    out[:, layer] = weights @ activations[rows, cols].float()
    called[layer] = True


@contextmanager
def capturing(projections, out, width, rows, cols, weights):
    """While open, a forward pass of a (batch, width) input writes layer l's means into out[:, l]:
    out[b, l] = sum over m of weights[b, m] * (layer l's FFN activations at row rows[m], column cols[m]).

    On leaving, every projection must have been called (a model that computes its FFN output
    without calling the module, e.g. BLOOM with slow_but_exact, is refused)."""
    called = [False] * len(projections)
    handles = [
        p.register_forward_pre_hook(partial(_keep_means, out, layer, width, rows, cols, weights, called))
        for layer, p in enumerate(projections)
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
    if not all(called):
        raise RuntimeError(f"the FFN output projection of layer {called.index(False)} was not called")
