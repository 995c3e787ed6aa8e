"""Parquet shards written by the probe -> raw.predictions, raw.activations and raw.models.

Layout: <shard_dir>/<model slug>/model.json, and per language
<model slug>/<lang>/predictions-<time>.parquet and activations-<time>.parquet.
Each shard is loaded once, in its own transaction (predictions before activations); a shard that
cannot be read, has the wrong columns or does not fit the model is refused with its path, and
nothing loaded before it is lost. A shard is known by its path inside the shard folder, so a moved
or copied data directory loads nothing twice. A prediction is one query, (fact, template_id): loading
it replaces that query's earlier prediction, and for mLAMA's own template the fact's activations (a
probe run again, after a crash or a change of its labels); loading a fact's activations replaces
its earlier activations. A predictions shard written before template sets (no template_id) holds
mLAMA's own template's queries.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from raw import db, tables

# A predictions shard holds raw.predictions' rows without the loader's provenance columns.
SHARD_SCHEMA = tables.PREDICTIONS.produced_schema()
# An activations shard as loaded (the file may hold float16 vectors; they load as float32).
SCHEMAS = {"predictions": SHARD_SCHEMA, "activations": tables.activation_shard_schema()}
TABLES = {"predictions": tables.PREDICTIONS, "activations": tables.ACTIVATIONS}
MODEL_FILE = "model.json"


class ShardError(Exception):
    """A shard or model description that cannot be loaded."""


def model_dir(shard_dir: Path, model_id: str) -> Path:
    """The folder holding one model's shards."""
    return Path(shard_dir) / re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)


def write_model(shard_dir: Path, row: dict) -> Path:
    """Describe the model next to its shards, so the shards can be loaded on their own."""
    folder = model_dir(shard_dir, row["model_id"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    path.write_text(json.dumps(row, indent=1, sort_keys=True))
    return path


def write_shard(shard_dir: Path, table: pa.Table, kind: str = "predictions") -> Path:
    """Write one (model, lang) chunk of `kind`; the file appears whole or not at all."""
    model_ids, langs = set(table["model_id"].to_pylist()), set(table["lang"].to_pylist())
    if len(model_ids) != 1 or len(langs) != 1:
        raise ValueError("a shard holds exactly one model and one language")
    folder = model_dir(shard_dir, model_ids.pop()) / langs.pop()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{kind}-{stamp}.parquet"
    tmp = path.with_suffix(".tmp")
    table = table.select(SCHEMAS[kind].names)
    pq.write_table(table.cast(SHARD_SCHEMA) if kind == "predictions" else table, tmp)
    tmp.replace(path)
    return path


def _read_shard(path: Path, schema: pa.Schema) -> pa.Table:
    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several kinds for a damaged file
        raise ShardError(f"{path}: not a readable Parquet file ({str(error).splitlines()[0]})") from error
    if "template_id" in schema.names and "template_id" not in table.column_names:  # written before template sets
        table = table.append_column("template_id", pa.array([tables.MLAMA_TEMPLATE] * table.num_rows, pa.string()))
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ShardError(f"{path}: missing column(s) {', '.join(missing)}")
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ShardError(f"{path}: columns of the wrong type ({str(error).splitlines()[0]})") from error


def _register_model(con, folder: Path) -> dict:
    path = folder / MODEL_FILE
    try:
        row = json.loads(path.read_text())
        row["model_id"]
    except (OSError, ValueError, KeyError) as error:
        raise ShardError(f"{path}: no readable model description ({error})") from error
    columns = ["model_id", "name_or_path", "revision", "weights_sha256", "model_class", "tokenizer_class",
               "n_layers", "d_ff", "vocab_size", "max_length"]
    con.execute(
        f"INSERT INTO raw.models ({', '.join(columns)}, registered_at) "
        f"VALUES ({', '.join('?' * len(columns))}, now()) ON CONFLICT DO NOTHING",
        [row.get(column) for column in columns],
    )
    return row


def _check_activations(con, path: Path, table: pa.Table, model: dict) -> None:
    """Vectors as wide as the model has neurons, and only for facts that have a prediction."""
    width = (model.get("n_layers") or 0) * (model.get("d_ff") or 0)
    widths = set(pc.list_value_length(table["activations"]).to_pylist())
    if widths - {width}:
        raise ShardError(f"{path}: activation vectors of width {sorted(widths - {width})[0]}, but "
                         f"{model['model_id']} has {width} neurons (n_layers x d_ff)")
    con.register("shard_keys", table.select(["model_id", "lang", "uuid"]))
    orphans = con.execute("SELECT uuid FROM shard_keys s ANTI JOIN (SELECT * FROM raw.predictions WHERE "
                          "template_id = ?) p USING (model_id, lang, uuid) ORDER BY uuid",
                          [tables.MLAMA_TEMPLATE]).fetchall()
    con.unregister("shard_keys")
    if orphans:
        raise ShardError(f"{path}: {len(orphans)} fact(s) with activations but no prediction "
                         f"(first: uuid {orphans[0][0]})")


def _per_layer(table: pa.Table, model: dict) -> pa.Table:
    """One row per (fact, layer): DuckDB then moves d_ff values per row, not n_layers * d_ff."""
    n_layers, d_ff = model["n_layers"], model["d_ff"]
    repeat = np.repeat(np.arange(table.num_rows), n_layers)
    values = pc.list_flatten(table["activations"]).combine_chunks()
    return pa.table({
        "model_id": table["model_id"].take(repeat), "lang": table["lang"].take(repeat),
        "uuid": table["uuid"].take(repeat),
        "layer": pa.array(np.tile(np.arange(n_layers, dtype=np.int32), table.num_rows)),
        "activations": pa.FixedSizeListArray.from_arrays(values, d_ff).cast(pa.list_(pa.float32())),
    })


def _replace_queries(con, table: pa.Table, kind: str) -> None:
    """Delete what the queries of a `kind` shard replace: a prediction replaces the query's earlier
    prediction, and (mLAMA's own template) the fact's activations; activations replace activations."""
    keys = ["model_id", "lang", "uuid"] + (["template_id"] if kind == "predictions" else [])
    con.register("shard_queries", table.select(keys))
    try:
        match = f"({', '.join(keys)}) IN (SELECT ({', '.join(keys)}) FROM shard_queries)"
        con.execute(f"DELETE FROM raw.{kind} WHERE {match}")
        if kind == "predictions":
            con.execute("DELETE FROM raw.activations WHERE (model_id, lang, uuid) IN (SELECT (model_id, lang, uuid) "
                        "FROM shard_queries WHERE template_id = ?)", [tables.MLAMA_TEMPLATE])
    finally:
        con.unregister("shard_queries")


def load_shards(database: str | Path, shard_dir: str | Path) -> int:
    """Load every shard under `shard_dir` that is not loaded yet. Returns the rows loaded."""
    root = Path(shard_dir)
    con = db.connect(database)
    try:
        loaded = {row[0] for row in con.execute(
            "SELECT source FROM raw.load_batches WHERE kind IN ('predictions', 'activations')").fetchall()}
        n_rows = 0
        for kind, schema in SCHEMAS.items():
            for path in sorted(root.glob(f"*/*/{kind}-*.parquet")) if root.exists() else []:
                name = path.relative_to(root).as_posix()
                if name in loaded:
                    continue
                table = _read_shard(path, schema)
                with db.transaction(con):
                    model = _register_model(con, path.parents[1])
                    if set(table["model_id"].to_pylist()) != {model["model_id"]}:
                        raise ShardError(f"{path}: rows of another model than {model['model_id']}")
                    if kind == "activations":
                        _check_activations(con, path, table, model)
                        table = _per_layer(table, model)
                    batch = db.new_batch(con, kind, name, path.parent.name, None, table.num_rows, 0)
                    _replace_queries(con, table, kind)
                    db.insert(con, TABLES[kind], table, shard_file=name, load_batch=batch)
                n_rows += table.num_rows
        return n_rows
    finally:
        con.close()
