"""Parquet shards written by the probe, the attribution and the interventions -> raw.predictions,
raw.activations, raw.attributions, raw.interventions and raw.models.

Layout: <shard_dir>/<model slug>/model.json, and per language
<model slug>/<lang>/<kind>-<name>.parquet, kind one of SCHEMAS (<name>: the time written, or the
name of a block of a distributed run). The shard folder is a local path or a pyarrow filesystem URI
(`s3://bucket/shards`, `gs://...`, `file:///nfs/shards`), so that workers on other machines can
write where the loader reads.
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
import os
import posixpath
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from raw import db, tables

# A predictions shard holds raw.predictions' rows without the loader's provenance columns.
SHARD_SCHEMA = tables.PREDICTIONS.produced_schema()
# An activations shard as loaded (the file may hold float16 vectors; they load as float32).
SCHEMAS = {"predictions": SHARD_SCHEMA, "activations": tables.activation_shard_schema(),
           "attributions": tables.ATTRIBUTIONS.produced_schema(), "interventions": tables.INTERVENTIONS.produced_schema()}
TABLES = {"predictions": tables.PREDICTIONS, "activations": tables.ACTIVATIONS, "attributions": tables.ATTRIBUTIONS,
          "interventions": tables.INTERVENTIONS}
# What a loaded row replaces: the earlier rows of its kind with the same values of these columns
# (a prediction of mLAMA's own template also replaces its fact's activations).
KEYS = {"predictions": ("model_id", "lang", "uuid", "template_id"), "activations": ("model_id", "lang", "uuid"),
        "attributions": ("model_id", "lang", "uuid", "template_id"),
        "interventions": ("model_id", "lang", "uuid", "template_id", "set_kind", "op")}
MODEL_FILE = "model.json"


class ShardError(Exception):
    """A shard or model description that cannot be loaded."""


def filesystem(shard_dir: str | Path) -> tuple[pafs.FileSystem, str]:
    """The filesystem and root path of a shard folder: a local path, or a URI pyarrow knows."""
    if isinstance(shard_dir, str) and "://" in shard_dir:
        return pafs.FileSystem.from_uri(shard_dir)
    return pafs.LocalFileSystem(), Path(shard_dir).absolute().as_posix()


def _slug(model_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model_id)


def model_dir(shard_dir: Path, model_id: str) -> Path:
    """The folder holding one model's shards (a local shard folder)."""
    return Path(shard_dir) / _slug(model_id)


def _shown(fs: pafs.FileSystem, path: str) -> Path | str:
    """A path as returned and named in errors: a Path on the local disk, else the URI."""
    return Path(path) if isinstance(fs, pafs.LocalFileSystem) else f"{fs.type_name}://{path}"


def write_model(shard_dir: str | Path, row: dict) -> Path | str:
    """Describe the model next to its shards, so the shards can be loaded on their own."""
    fs, root = filesystem(shard_dir)
    folder = posixpath.join(root, _slug(row["model_id"]))
    fs.create_dir(folder, recursive=True)
    path = posixpath.join(folder, MODEL_FILE)
    with fs.open_output_stream(path) as out:
        out.write(json.dumps(row, indent=1, sort_keys=True).encode())
    return _shown(fs, path)


def shard_path(shard_dir: str | Path, model_id: str, lang: str, kind: str, name: str) -> tuple[pafs.FileSystem, str]:
    """Where the `kind` shard `name` of (model, lang) lives: its filesystem and path."""
    fs, root = filesystem(shard_dir)
    return fs, posixpath.join(root, _slug(model_id), lang, f"{kind}-{name}.parquet")


def write_shard(shard_dir: str | Path, table: pa.Table, kind: str = "predictions",
                name: str | None = None) -> Path | str:
    """Write one (model, lang) chunk of `kind`, named `name` (default: the time); the file appears
    whole or not at all (written under a temporary name, then renamed)."""
    model_ids, langs = set(table["model_id"].to_pylist()), set(table["lang"].to_pylist())
    if len(model_ids) != 1 or len(langs) != 1:
        raise ValueError("a shard holds exactly one model and one language")
    name = name or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    fs, path = shard_path(shard_dir, model_ids.pop(), langs.pop(), kind, name)
    fs.create_dir(posixpath.dirname(path), recursive=True)
    tmp = f"{path[:-len('.parquet')]}.{os.getpid()}.tmp"
    table = table.select(SCHEMAS[kind].names)
    pq.write_table(table if kind == "activations" else table.cast(SCHEMAS[kind]), tmp, filesystem=fs)
    fs.move(tmp, path)
    return _shown(fs, path)


def shard_exists(shard_dir: str | Path, model_id: str, lang: str, kind: str, name: str) -> bool:
    fs, path = shard_path(shard_dir, model_id, lang, kind, name)
    return fs.get_file_info(path).type == pafs.FileType.File


# Columns that shards written before them lack, and their value there
ADDED_LATER = {"template_id": tables.MLAMA_TEMPLATE, "set_md5": None}


def _read_shard(fs: pafs.FileSystem, path: str, schema: pa.Schema) -> pa.Table:
    shown = _shown(fs, path)
    try:
        table = pq.read_table(path, filesystem=fs)
    except Exception as error:  # pyarrow raises several kinds for a damaged file
        raise ShardError(f"{shown}: not a readable Parquet file ({str(error).splitlines()[0]})") from error
    for name, value in ADDED_LATER.items():
        if name in schema.names and name not in table.column_names:
            table = table.append_column(name, pa.array([value] * table.num_rows, schema.field(name).type))
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise ShardError(f"{shown}: missing column(s) {', '.join(missing)}")
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise ShardError(f"{shown}: columns of the wrong type ({str(error).splitlines()[0]})") from error


def _register_model(con, fs: pafs.FileSystem, folder: str) -> dict:
    path = posixpath.join(folder, MODEL_FILE)
    try:
        with fs.open_input_stream(path) as stream:
            row = json.loads(stream.read())
        row["model_id"]
    except (OSError, ValueError, KeyError) as error:
        raise ShardError(f"{_shown(fs, path)}: no readable model description ({error})") from error
    columns = ["model_id", "name_or_path", "revision", "weights_sha256", "family", "model_class", "tokenizer_class",
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


def _replace_rows(con, table: pa.Table, kind: str) -> None:
    """Delete the rows that the rows of `table` (of `kind`) replace: those with the same KEYS[kind];
    a prediction of mLAMA's own template also replaces its fact's activations."""
    key = ", ".join(KEYS[kind])
    con.register("shard_rows", table.select(list(KEYS[kind])))
    try:
        con.execute(f"DELETE FROM raw.{kind} WHERE ({key}) IN (SELECT ({key}) FROM shard_rows)")
        if kind == "predictions":
            con.execute("DELETE FROM raw.activations WHERE (model_id, lang, uuid) IN (SELECT (model_id, lang, uuid) "
                        "FROM shard_rows WHERE template_id = ?)", [tables.MLAMA_TEMPLATE])
    finally:
        con.unregister("shard_rows")


def _shard_names(fs: pafs.FileSystem, root: str) -> dict[str, list[str]]:
    """kind -> its shards under root, as paths relative to it (<model>/<lang>/<kind>-*.parquet), sorted.

    One listing for all kinds: a writer renames a block's predictions into place before its
    activations, so every activations shard listed has its predictions listed (or loaded before)."""
    found = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    names = sorted(posixpath.relpath(info.path, root) for info in found if info.type == pafs.FileType.File)
    return {kind: [name for name in names if re.fullmatch(rf"[^/]+/[^/]+/{kind}-[^/]*\.parquet", name)]
            for kind in SCHEMAS}


def load_shards(database: str | Path, shard_dir: str | Path) -> int:
    """Load every shard under `shard_dir` that is not loaded yet. Returns the rows loaded."""
    fs, root = filesystem(shard_dir)
    con = db.connect(database)
    try:
        loaded = {row[0] for row in con.execute(
            "SELECT source FROM raw.load_batches WHERE list_contains(?, kind)", [list(SCHEMAS)]).fetchall()}
        n_rows = 0
        listed = _shard_names(fs, root)
        for kind, schema in SCHEMAS.items():
            for name in listed[kind]:
                if name in loaded:
                    continue
                path = posixpath.join(root, name)
                shown = _shown(fs, path)
                table = _read_shard(fs, path, schema)
                folder, lang = posixpath.dirname(posixpath.dirname(path)), posixpath.basename(posixpath.dirname(path))
                with db.transaction(con):
                    model = _register_model(con, fs, folder)
                    if set(table["model_id"].to_pylist()) != {model["model_id"]}:
                        raise ShardError(f"{shown}: rows of another model than {model['model_id']}")
                    if kind == "activations":
                        _check_activations(con, shown, table, model)
                        table = _per_layer(table, model)
                    batch = db.new_batch(con, kind, name, lang, None, table.num_rows, 0)
                    _replace_rows(con, table, kind)
                    db.insert(con, TABLES[kind], table, shard_file=name, load_batch=batch)
                n_rows += table.num_rows
        return n_rows
    finally:
        con.close()
