"""Parquet shards written by the probe -> raw.predictions (and the model's row in raw.models).

Layout: <shard_dir>/predictions/<model slug>/model.json and <model slug>/<lang>/part-*.parquet.
Each shard is loaded once, in its own transaction; a shard that cannot be read or has the wrong
columns is refused with its path and nothing else changes.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from compute.probe import PREDICTION_SCHEMA
from warehouse import db

# What a shard holds: the probe's output plus the query inputs it was built from.
SHARD_SCHEMA = PREDICTION_SCHEMA.insert(4, pa.field("template", pa.string())) \
    .insert(5, pa.field("sub_label", pa.string())).insert(6, pa.field("obj_label", pa.string()))
MODEL_FILE = "model.json"


class ShardError(Exception):
    """A shard or model description that cannot be loaded."""


def model_dir(shard_dir: Path, model_id: str) -> Path:
    """The folder holding one model's shards."""
    return Path(shard_dir) / "predictions" / re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)


def write_model(shard_dir: Path, row: dict) -> Path:
    """Describe the model next to its shards, so the shards can be loaded on their own."""
    folder = model_dir(shard_dir, row["model_id"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    path.write_text(json.dumps(row, indent=1, sort_keys=True))
    return path


def write_shard(shard_dir: Path, table: pa.Table) -> Path:
    """Write one (model, lang) chunk of predictions; the file appears whole or not at all."""
    model_ids, langs = set(table["model_id"].to_pylist()), set(table["lang"].to_pylist())
    if len(model_ids) != 1 or len(langs) != 1:
        raise ValueError("a shard holds exactly one model and one language")
    folder = model_dir(shard_dir, model_ids.pop()) / langs.pop()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"part-{stamp}.parquet"
    tmp = path.with_suffix(".tmp")
    pq.write_table(table.select(SHARD_SCHEMA.names).cast(SHARD_SCHEMA), tmp)
    tmp.replace(path)
    return path


def _read_shard(path: Path) -> pa.Table:
    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several kinds for a damaged file
        raise ShardError(f"{path}: not a readable Parquet file ({str(error).splitlines()[0]})") from error
    missing = [name for name in SHARD_SCHEMA.names if name not in table.column_names]
    if missing:
        raise ShardError(f"{path}: missing column(s) {', '.join(missing)}")
    try:
        return table.select(SHARD_SCHEMA.names).cast(SHARD_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ShardError(f"{path}: columns of the wrong type ({str(error).splitlines()[0]})") from error


def _register_model(con, folder: Path) -> str:
    path = folder / MODEL_FILE
    try:
        row = json.loads(path.read_text())
        model_id = row["model_id"]
    except (OSError, ValueError, KeyError) as error:
        raise ShardError(f"{path}: no readable model description ({error})") from error
    columns = ["model_id", "name_or_path", "revision", "weights_sha256", "model_class", "tokenizer_class",
               "n_layers", "d_ff", "vocab_size", "max_length"]
    con.execute(
        f"INSERT INTO raw.models ({', '.join(columns)}, registered_at) "
        f"VALUES ({', '.join('?' * len(columns))}, now()) ON CONFLICT DO NOTHING",
        [row.get(column) for column in columns],
    )
    return model_id


def load_shards(database: str | Path, shard_dir: str | Path) -> int:
    """Load every shard under `shard_dir` that is not loaded yet. Returns the rows loaded."""
    root = Path(shard_dir) / "predictions"
    paths = sorted(root.glob("*/*/part-*.parquet")) if root.exists() else []
    con = db.connect(database)
    try:
        loaded = {row[0] for row in con.execute(
            "SELECT source FROM raw.load_batches WHERE kind = 'predictions'").fetchall()}
        n_rows = 0
        for path in paths:
            if str(path) in loaded:
                continue
            table = _read_shard(path)
            with db.transaction(con):
                model_id = _register_model(con, path.parents[1])
                if set(table["model_id"].to_pylist()) != {model_id}:
                    raise ShardError(f"{path}: rows of another model than {model_id}")
                batch = db.new_batch(con, "predictions", str(path), path.parent.name, None, table.num_rows, 0)
                con.register("shard", table)
                con.execute("INSERT INTO raw.predictions SELECT *, ?, ?, now() FROM shard", [str(path), batch])
                con.unregister("shard")
            n_rows += table.num_rows
        return n_rows
    finally:
        con.close()
