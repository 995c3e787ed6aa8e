"""Batched probing: one forward pass per batch, the LM head applied at the predicting positions only.

A masked LM predicts the object's k tokens at its k masks; a causal LM, fed the prompt and the
object, predicts object token i at the position before it (compute.queries). The model runs whole,
its own code applying whatever follows the head (Gemma 2's logit soft-capping, Cohere's logit
scale), while a pre-hook on the head hands it only the predicting positions' hidden states.
Optionally the same pass captures each fact's FFN activations there (compute.ffn)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, Iterator

import pyarrow as pa
import torch
from tqdm import tqdm

from compute.ffn import FFNNotFoundError, capturing, ffn_output_projections
from compute.models import LoadedModel, ModelLoadError
from compute.queries import Query, QueryError, build_causal_query, build_query
from compute.tracing import shared_entity_tokens
from raw import tables

FACT_COLUMNS = ("lang", "relation", "uuid", "template", "sub_label", "obj_label")
# One row per fact, as the shards and raw.predictions hold it
PREDICTION_SCHEMA = tables.PREDICTIONS.produced_schema()

ACTIVATION_DTYPES = {name: (getattr(torch, name), tables.ACTIVATION_TYPES[name]) for name in tables.ACTIVATION_TYPES}


def activation_schema(n_neurons: int, dtype: str = "float16") -> pa.Schema:
    """One row per captured fact; activations[layer * d_ff + index] is that neuron's mean over the
    predicting positions (the masks, or the positions before the object's tokens)."""
    return tables.activation_shard_schema(n_neurons, ACTIVATION_DTYPES[dtype][1])


def lm_head(model: torch.nn.Module) -> torch.nn.Module:
    """The child module of an LM that holds the output embeddings (BERT `cls`, XLM-R's and decoders' `lm_head`)."""
    decoder = model.get_output_embeddings()
    for _, child in model.named_children():
        if child is not model.base_model and any(m is decoder for m in child.modules()):
            return child
    raise ValueError(f"{type(model).__name__}: no child module holds the output embeddings")


def _fact_columns(facts: pa.Table | Iterable[dict]) -> dict[str, list]:
    """FACT_COLUMNS and template_id (absent: mLAMA's own template) of each fact, column by column."""
    if isinstance(facts, pa.Table):
        missing = [c for c in FACT_COLUMNS if c not in facts.column_names]
        if missing:
            raise ValueError(f"facts lack columns {missing}")
        columns = {c: facts.column(c).to_pylist() for c in FACT_COLUMNS}
        ids = facts.column("template_id").to_pylist() if "template_id" in facts.column_names else None
    else:
        rows = list(facts)
        columns = {c: [row[c] for row in rows] for c in FACT_COLUMNS}
        ids = [row.get("template_id", tables.MLAMA_TEMPLATE) for row in rows]
    columns["template_id"] = ids or [tables.MLAMA_TEMPLATE] * len(columns["uuid"])
    return columns


@contextmanager
def _only_at(head: torch.nn.Module, rows: torch.Tensor, cols: torch.Tensor):
    """While open, `head` gets the hidden states at (rows, cols) only, as one sequence: (1, n, hidden)."""
    handle = head.register_forward_pre_hook(lambda module, args: (args[0][rows, cols][None], *args[1:]))
    try:
        yield
    finally:
        handle.remove()


def log_probs_at(loaded: LoadedModel, head, batch: "Batch") -> torch.Tensor:
    """log_softmax over the vocabulary at the batch's predicting positions, shape (positions, vocab).

    Gradients flow unless the caller runs it under torch.inference_mode()."""
    options = {"use_cache": False} if loaded.family == "causal" else {}
    with _only_at(head, batch.rows, batch.cols):
        logits = loaded.model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, **options).logits
    return logits[0].float().log_softmax(dim=-1)


@dataclass
class Batch:
    """Queries padded on the right into one model input (a causal LM's real tokens keep positions
    0..n-1), on the model's device; predicting position m is (rows[m], cols[m]) and predicts gold[m]."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    rows: torch.Tensor
    cols: torch.Tensor
    gold: torch.Tensor

    @property
    def width(self) -> int:
        return self.input_ids.shape[1]


def gold_probs(log_probs: torch.Tensor, batch: Batch, n_rows: int) -> torch.Tensor:
    """Per row of the batch, the probability of its gold object: exp of the summed gold log-probabilities."""
    gold = log_probs.gather(1, batch.gold[:, None])[:, 0]
    return torch.zeros(n_rows, device=gold.device).index_add(0, batch.rows, gold).exp()


def full_match(log_probs: torch.Tensor, batch: Batch, n_rows: int) -> torch.Tensor:
    """Per row of the batch, whether every predicting position's argmax is its gold id (the paper's P@1)."""
    wrong = (log_probs.argmax(dim=-1) != batch.gold).long()
    return torch.zeros(n_rows, dtype=torch.long, device=wrong.device).index_add(0, batch.rows, wrong) == 0


def batch_inputs(loaded: LoadedModel, queries: list[Query], copies: int = 1) -> Batch:
    """The model input of `queries`, each repeated `copies` times in a row (query i is rows
    i * copies .. (i + 1) * copies - 1)."""
    queries = [q for q in queries for _ in range(copies)]
    width = max(len(q.input_ids) for q in queries)
    pad_id = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(queries), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(queries), width), dtype=torch.long)
    rows, cols, gold = [], [], []
    for b, q in enumerate(queries):
        input_ids[b, : len(q.input_ids)] = torch.tensor(q.input_ids)
        attention_mask[b, : len(q.input_ids)] = 1
        rows += [b] * len(q.mask_positions)
        cols += q.mask_positions
        gold += q.gold_ids
    device = loaded.device
    return Batch(input_ids.to(device), attention_mask.to(device), *(torch.tensor(v, device=device)
                                                                      for v in (rows, cols, gold)))


def least_padding_batches(lengths: list[int], batch_size: int) -> list[int]:
    """Where to cut ascending `lengths` into batches: the fewest batches of at most `batch_size`
    (ceil(n / batch_size), as plain chunks), cut so that the padded area (sum over batches of rows x
    the longest length) is least; returns the batches' end indices. Dynamic programming: after c
    batches the cut j lies in [n - (batches - c) * batch_size, c * batch_size], a window narrower
    than batch_size, so the work is at most n * batch_size."""
    n = len(lengths)
    batches = -(-n // batch_size)
    area, ends = {0: 0}, [{}]  # area[j]: least area of lengths[:j] in c batches; ends[c][j]: that c-th batch's start
    for c in range(1, batches + 1):
        window = range(max(c, n - (batches - c) * batch_size), min(n, c * batch_size) + 1)
        starts = {j: min((i for i in area if j - batch_size <= i < j), key=lambda i: area[i] + (j - i) * lengths[j - 1])
                  for j in window}
        area = {j: area[i] + (j - i) * lengths[j - 1] for j, i in starts.items()}
        ends.append(starts)
    cuts = [n] if batches else []
    for c in range(batches, 1, -1):
        cuts.append(ends[c][cuts[-1]])
    return cuts[::-1]


def build_for(loaded: LoadedModel, template: str, sub_label: str, obj_label: str) -> Query:
    """The query of one fact for the model's family (compute.queries); QueryError when it cannot be built."""
    build = build_query if loaded.family == "masked" else build_causal_query
    return build(loaded.tokenizer, template, sub_label, obj_label, loaded.max_length)


def _probe_batch(
    loaded: LoadedModel, head, batch: list[tuple[int, Query]], projections: list | None
) -> tuple[list[dict], torch.Tensor | None]:
    """Predictions for a batch of queries, in the batch's order, and with `projections` each fact's
    FFN activations averaged over its predicting positions, float32 (facts, n_layers * d_ff) on the
    model's device."""
    inputs = batch_inputs(loaded, [q for _, q in batch])
    rows = inputs.rows.tolist()
    device = loaded.device
    means = None
    with torch.inference_mode():
        if projections is None:
            log_probs = log_probs_at(loaded, head, inputs)
        else:
            means = torch.empty((len(batch), len(projections), loaded.d_ff), device=device)
            weights = torch.zeros((len(batch), len(rows)))  # weights[b, m] = 1/k when position m is fact b's
            weights[rows, list(range(len(rows)))] = torch.tensor([1.0 / len(batch[b][1].mask_positions) for b in rows])
            with capturing(projections, means, inputs.width, inputs.rows, inputs.cols, weights.to(device)):
                log_probs = log_probs_at(loaded, head, inputs)
            means = means.reshape(len(batch), -1)
    gold_t = inputs.gold
    pred = log_probs.argmax(dim=-1).tolist()
    gold_lp = log_probs.gather(1, gold_t[:, None])[:, 0].double().tolist()
    out, at = [], 0
    for _, q in batch:
        k = len(q.mask_positions)
        pred_ids = pred[at : at + k]
        out.append(
            {
                "query": q.text,
                "n_mask_tokens": k,
                "gold_token_ids": q.gold_ids,
                "pred_token_ids": pred_ids,
                "gold_text": loaded.tokenizer.decode(q.gold_ids),
                "pred_text": loaded.tokenizer.decode(pred_ids),
                "gold_log_prob": sum(gold_lp[at : at + k]),
                "is_correct": pred_ids == q.gold_ids,  # full match: the paper's P@1
            }
        )
        at += k
    return out, means


def _activation_batch(
    model_id: str, facts: dict, indices: list[int], values: torch.Tensor, dtype: str
) -> pa.RecordBatch:
    """activation_schema rows for facts[indices]; `values` (facts, neurons) is cast to `dtype`."""
    schema = activation_schema(values.shape[1], dtype)
    flat = pa.array(values.to(ACTIVATION_DTYPES[dtype][0]).cpu().numpy().reshape(-1))
    data = {
        "model_id": [model_id] * len(indices),
        "lang": [facts["lang"][i] for i in indices],
        "uuid": [facts["uuid"][i] for i in indices],
        "activations": pa.FixedSizeListArray.from_arrays(flat, values.shape[1]),
    }
    return pa.RecordBatch.from_pydict(data, schema=schema)


def _record_batch(
    loaded: LoadedModel, facts: dict, indices: list[int], rows: list[dict], probed_at
) -> pa.RecordBatch:
    """Rows for facts[indices], with the fact's query inputs; prediction columns absent from `rows` are
    null, and a fact without a prediction is not correct."""
    data = {name: [row.get(name) for row in rows] for name in PREDICTION_SCHEMA.names}
    data["model_id"] = [loaded.model_id] * len(rows)
    data["probed_at"] = [probed_at] * len(rows)
    data["is_correct"] = [bool(row.get("is_correct")) for row in rows]
    for key in (*FACT_COLUMNS, "template_id"):
        data[key] = [facts[key][i] for i in indices]
    data["labels_share_tokens"] = [
        shared_entity_tokens(facts["sub_label"][i], facts["obj_label"][i], loaded.tokenizer, facts["lang"][i])
        for i in indices
    ]
    return pa.RecordBatch.from_pydict(data, schema=PREDICTION_SCHEMA)


def probe(
    loaded: LoadedModel,
    facts: pa.Table | Iterable[dict],
    batch_size: int = 32,
    progress: bool = True,
    capture: str = "none",
    activation_dtype: str = "float16",
) -> Iterator[pa.RecordBatch] | Iterator[tuple[pa.RecordBatch, pa.RecordBatch | None]]:
    """One PREDICTION_SCHEMA row per fact: first the skipped facts (with skip_reason, null
    predictions) as one batch, then the probed facts sorted by length, in ceil(n / batch_size)
    batches (a causal LM's cut where they pad least: least_padding_batches).

    With `capture` "correct" (the facts whose is_correct is true) or "all" (every probed fact) it
    yields (predictions, activations) pairs instead: activation_schema rows of that batch's captured
    facts, from the same forward pass, in `activation_dtype`; None when the batch has none."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    if capture not in tables.CAPTURE_MODES:
        raise ValueError(f"capture must be one of {', '.join(tables.CAPTURE_MODES)}, not {capture!r}")
    keeps = capture != "none"
    if activation_dtype not in ACTIVATION_DTYPES:
        raise ValueError(f"activation_dtype must be one of {tuple(ACTIVATION_DTYPES)}, not {activation_dtype!r}")
    try:
        projections = ffn_output_projections(loaded) if keeps else None
    except FFNNotFoundError as exc:
        raise ModelLoadError(str(exc)) from None
    columns = _fact_columns(facts)
    probed_at = datetime.now(timezone.utc)
    queries, skipped = [], []
    for i in range(len(columns["uuid"])):
        try:
            template, sub, obj = columns["template"][i], columns["sub_label"][i], columns["obj_label"][i]
            queries.append((i, build_for(loaded, template, sub, obj)))
        except QueryError as exc:
            skipped.append((i, {"skip_reason": exc.reason}))
    if skipped:
        indices, rows = [i for i, _ in skipped], [r for _, r in skipped]
        predictions = _record_batch(loaded, columns, indices, rows, probed_at)
        yield (predictions, None) if keeps else predictions
    queries.sort(key=lambda iq: len(iq[1].input_ids))
    if loaded.family == "causal":
        ends = least_padding_batches([len(q.input_ids) for _, q in queries], batch_size)
    else:  # plain chunks, as the masked figures were measured
        ends = [min(end, len(queries)) for end in range(batch_size, len(queries) + batch_size, batch_size)]
    head = lm_head(loaded.model)
    with tqdm(total=len(queries), disable=not progress, unit="fact", desc="probe") as bar:
        for start, end in zip([0, *ends], ends):
            batch = queries[start:end]
            rows, means = _probe_batch(loaded, head, batch, projections)
            predictions = _record_batch(loaded, columns, [i for i, _ in batch], rows, probed_at)
            bar.update(len(batch))
            if not keeps:
                yield predictions
                continue
            keep = [b for b, r in enumerate(rows) if capture == "all" or r["is_correct"]]
            activations = (
                _activation_batch(loaded.model_id, columns, [batch[b][0] for b in keep], means[keep], activation_dtype)
                if keep
                else None
            )
            yield predictions, activations
