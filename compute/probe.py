"""Batched probing: one forward pass per batch, the LM head applied at the mask positions only."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Iterator

import pyarrow as pa
import torch
from tqdm import tqdm

from compute.models import LoadedModel
from compute.queries import Query, QueryError, build_query

FACT_COLUMNS = ("lang", "relation", "uuid", "template", "sub_label", "obj_label")

PREDICTION_SCHEMA = pa.schema(
    [
        ("model_id", pa.string()),
        ("lang", pa.string()),
        ("relation", pa.string()),
        ("uuid", pa.string()),
        ("query", pa.string()),
        ("n_mask_tokens", pa.int32()),
        ("gold_token_ids", pa.list_(pa.int32())),
        ("pred_token_ids", pa.list_(pa.int32())),
        ("gold_text", pa.string()),
        ("pred_text", pa.string()),
        ("gold_log_prob", pa.float64()),
        ("skip_reason", pa.string()),
        ("probed_at", pa.timestamp("us", tz="UTC")),
    ]
)


def lm_head(model: torch.nn.Module) -> torch.nn.Module:
    """The child module of a *ForMaskedLM that holds the output embeddings (BERT `cls`, XLM-R `lm_head`)."""
    decoder = model.get_output_embeddings()
    for _, child in model.named_children():
        if child is not model.base_model and any(m is decoder for m in child.modules()):
            return child
    raise ValueError(f"{type(model).__name__}: no child module holds the output embeddings")


def _fact_columns(facts: pa.Table | Iterable[dict]) -> dict[str, list]:
    if isinstance(facts, pa.Table):
        missing = [c for c in FACT_COLUMNS if c not in facts.column_names]
        if missing:
            raise ValueError(f"facts lack columns {missing}")
        return {c: facts.column(c).to_pylist() for c in FACT_COLUMNS}
    rows = list(facts)
    return {c: [row[c] for row in rows] for c in FACT_COLUMNS}


@torch.inference_mode()
def _mask_log_probs(base, head, input_ids, attention_mask, rows, cols) -> torch.Tensor:
    """log_softmax over the vocabulary at the (rows, cols) mask positions, shape (n_masks, vocab).

    The encoder runs on the whole batch; only the mask positions' hidden states go through the
    head. FFN activations at the masks would be captured by forward hooks on each layer's
    intermediate module, registered around the `base` call and gathered at (rows, cols)."""
    hidden = base(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return head(hidden[rows, cols]).float().log_softmax(dim=-1)


def _probe_batch(loaded: LoadedModel, head, batch: list[tuple[int, Query]]) -> list[dict]:
    """Predictions for a batch of queries, in the batch's order."""
    width = max(len(q.input_ids) for _, q in batch)
    pad_id = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    rows, cols, gold = [], [], []
    for b, (_, q) in enumerate(batch):
        input_ids[b, : len(q.input_ids)] = torch.tensor(q.input_ids)
        attention_mask[b, : len(q.input_ids)] = 1
        rows += [b] * len(q.mask_positions)
        cols += q.mask_positions
        gold += q.gold_ids
    device = loaded.device
    rows_t, cols_t = torch.tensor(rows, device=device), torch.tensor(cols, device=device)
    log_probs = _mask_log_probs(
        loaded.model.base_model, head, input_ids.to(device), attention_mask.to(device), rows_t, cols_t
    )
    gold_t = torch.tensor(gold, device=device)
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
            }
        )
        at += k
    return out


def _record_batch(model_id: str, facts: dict, indices: list[int], rows: list[dict], probed_at) -> pa.RecordBatch:
    """Rows for facts[indices]; prediction columns absent from `rows` are null."""
    data = {name: [row.get(name) for row in rows] for name in PREDICTION_SCHEMA.names}
    data["model_id"] = [model_id] * len(rows)
    data["probed_at"] = [probed_at] * len(rows)
    for key in ("lang", "relation", "uuid"):
        data[key] = [facts[key][i] for i in indices]
    return pa.RecordBatch.from_pydict(data, schema=PREDICTION_SCHEMA)


def probe(
    loaded: LoadedModel, facts: pa.Table | Iterable[dict], batch_size: int = 32, progress: bool = True
) -> Iterator[pa.RecordBatch]:
    """One PREDICTION_SCHEMA row per fact: first the skipped facts (with skip_reason, null
    predictions) as one batch, then the probed facts in batches of similar length."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    columns = _fact_columns(facts)
    probed_at = datetime.now(timezone.utc)
    queries, skipped = [], []
    for i in range(len(columns["uuid"])):
        try:
            template, sub, obj = columns["template"][i], columns["sub_label"][i], columns["obj_label"][i]
            queries.append((i, build_query(loaded.tokenizer, template, sub, obj, loaded.max_length)))
        except QueryError as exc:
            skipped.append((i, {"skip_reason": exc.reason}))
    if skipped:
        yield _record_batch(loaded.model_id, columns, [i for i, _ in skipped], [r for _, r in skipped], probed_at)
    queries.sort(key=lambda iq: len(iq[1].input_ids))
    head = lm_head(loaded.model)
    with tqdm(total=len(queries), disable=not progress, unit="fact", desc="probe") as bar:
        for start in range(0, len(queries), batch_size):
            batch = queries[start : start + batch_size]
            rows = _probe_batch(loaded, head, batch)
            yield _record_batch(loaded.model_id, columns, [i for i, _ in batch], rows, probed_at)
            bar.update(len(batch))
