"""A model's work over the warehouse's facts in blocks, in this process or on Ray: what probe,
attribute and intervene share.

The facts to do are cut into blocks (`blocks`). A pool of workers each loads the model once
(`model_workers`: this process, or one Ray actor per GPU, or per CPU without GPUs); a worker
computes a block's tables and writes them as shards named after the block (`write_block`),
skipping a block whose shards are there (a block Ray retried after its worker died), so each is
written once. This process loads each block's shards into DuckDB as the block finishes (`run`),
with ingest/shards.py's loader, so an interrupted run resumes where it stopped.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from compute import distributed
from compute.models import load_model, model_row
from ingest import shards
from raw import db


@dataclass(frozen=True)
class Block:
    """Facts of one language done together; their shards are named after the block."""
    name: str
    lang: str
    facts: pa.Table


def blocks(todo: pa.Table, shard_size: int) -> list[Block]:
    """Chunks of `shard_size` facts in todo's order, split by language."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    found = []
    for start in range(0, todo.num_rows, shard_size):
        chunk = todo.slice(start, shard_size)
        for lang in sorted(set(chunk["lang"].to_pylist())):
            found.append(Block(f"{stamp}-{len(found):05d}", lang, chunk.filter(pc.equal(chunk["lang"], lang))))
    return found


def _load(model: str, device: str | None):
    return load_model(model, device=device)


@contextmanager
def model_workers(database: str | Path, model: str, shard_dir: str | Path, device: str | None = None,
                  loaded=None, ray: str | None = None):
    """A pool of workers (compute.distributed) each holding the model, once the shards an
    interrupted run left are loaded. `loaded`: an in-memory model, for this process only; `ray`:
    a Ray address (None: this process)."""
    if loaded is not None and ray is not None:
        raise ValueError("an in-memory model cannot be sent to Ray workers: give its path")
    shards.load_shards(database, shard_dir)
    setup = partial(_load, model, device) if loaded is None else (lambda: loaded)
    with distributed.workers(setup, ray) as pool:
        yield pool


def register_model(pool, database: str | Path, shard_dir: str | Path) -> dict:
    """The model's row (compute.models.model_row), its id the one the warehouse knows its weights by
    (the same weights under another name keep their first id), written beside the shards."""
    row = pool.ask(model_row)
    con = db.connect(database)
    try:
        known = con.execute("SELECT min(model_id) FROM raw.models WHERE weights_sha256 = ?",
                            [row["weights_sha256"]]).fetchone()[0]
    finally:
        con.close()
    row["model_id"] = known or row["model_id"]
    shards.write_model(shard_dir, row)
    return row


def write_block(loaded, block: Block, shard_dir: str | Path, model_id: str, kinds: tuple[str, ...],
                tables: Callable, progress: bool = False) -> int:
    """Compute one block and write its shards: `tables(loaded, block, progress)` gives (its count of
    facts done, {kind: table}), written in the order of `kinds` under the block's name (an empty
    table is not written). A block whose shards of every kind are there is not computed again; it
    counts its facts then."""
    if all(shards.shard_exists(shard_dir, model_id, block.lang, kind, block.name) for kind in kinds):
        return block.facts.num_rows
    n_done, found = tables(replace(loaded, model_id=model_id), block, progress)
    for kind in kinds:
        if found.get(kind) is not None and found[kind].num_rows:
            shards.write_shard(shard_dir, found[kind], kind, name=block.name)
    return n_done


def run(pool, work: Callable, todo: list[Block], database: str | Path, shard_dir: str | Path, desc: str,
        progress: bool) -> dict[str, int]:
    """work(state, block, progress=...) over the blocks on the pool, loading each block's shards into
    `database` as it finishes; returns lang -> facts done. Progress shows per batch in this process
    (work's own bar), per block on Ray."""
    done: dict[str, int] = {}
    work = partial(work, progress=progress and not pool.remote)
    with tqdm(total=sum(b.facts.num_rows for b in todo), unit="query", desc=desc,
              disable=not progress or not pool.remote) as bar:
        for block, n_done in pool.map(work, todo):
            shards.load_shards(database, shard_dir)
            done[block.lang] = done.get(block.lang, 0) + n_done
            bar.update(block.facts.num_rows)
    return done
