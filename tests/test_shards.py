"""Loading probe shards: once each, all or nothing, clear errors naming the shard."""
from __future__ import annotations

from datetime import datetime, timezone

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import rows
from ingest import shards
from ingest.shards import ShardError, load_shards

MODEL = {"model_id": "m@abc", "name_or_path": "m", "weights_sha256": "f" * 64}


def table(lang="en", n=3, model_id="m@abc"):
    return pa.Table.from_pylist([dict(
        model_id=model_id, lang=lang, relation="P36", uuid=f"u{i}", template="[X] [Y]", sub_label="s",
        obj_label="o", query="s [MASK]", n_mask_tokens=1, gold_token_ids=[i], pred_token_ids=[i],
        gold_text="o", pred_text="o", gold_log_prob=-0.5, is_correct=True, skip_reason=None,
        probed_at=datetime.now(timezone.utc)) for i in range(n)], schema=shards.SHARD_SCHEMA)


def count(database):
    return rows(database, "SELECT count(*) FROM raw.predictions")[0][0]


def test_each_shard_is_loaded_once(settings):
    shards.write_model(settings.shard_dir, MODEL)
    shards.write_shard(settings.shard_dir, table("en"))
    assert load_shards(settings.build_database, settings.shard_dir) == 3
    assert load_shards(settings.build_database, settings.shard_dir) == 0
    shards.write_shard(settings.shard_dir, table("fr", 2))
    assert load_shards(settings.build_database, settings.shard_dir) == 2
    assert count(settings.build_database) == 5


def test_a_corrupted_shard_is_named_and_nothing_is_lost(settings):
    shards.write_model(settings.shard_dir, MODEL)
    good = shards.write_shard(settings.shard_dir, table("en"))
    load_shards(settings.build_database, settings.shard_dir)
    bad = good.with_name("predictions-zz-corrupt.parquet")
    bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(ShardError, match="predictions-zz-corrupt.parquet: not a readable Parquet file"):
        load_shards(settings.build_database, settings.shard_dir)
    assert count(settings.build_database) == 3


def test_a_shard_with_missing_or_mistyped_columns_is_refused(settings):
    shards.write_model(settings.shard_dir, MODEL)
    folder = shards.model_dir(settings.shard_dir, "m@abc") / "en"
    folder.mkdir(parents=True)
    pq.write_table(table().drop(["gold_token_ids"]), folder / "predictions-1.parquet")
    with pytest.raises(ShardError, match="predictions-1.parquet: missing column.*gold_token_ids"):
        load_shards(settings.build_database, settings.shard_dir)
    (folder / "predictions-1.parquet").unlink()
    good = table()
    wrong = good.set_column(good.schema.get_field_index("pred_token_ids"), "pred_token_ids", pa.array(["x", "y", "z"]))
    pq.write_table(wrong, folder / "predictions-2.parquet")
    with pytest.raises(ShardError, match="predictions-2.parquet: columns of the wrong type"):
        load_shards(settings.build_database, settings.shard_dir)
    assert count(settings.build_database) == 0


def test_a_shard_of_another_model_or_without_model_description(settings):
    shards.write_model(settings.shard_dir, MODEL)
    path = shards.write_shard(settings.shard_dir, table())
    (path.parents[1] / shards.MODEL_FILE).write_text("{not json")
    with pytest.raises(ShardError, match="model.json: no readable model description"):
        load_shards(settings.build_database, settings.shard_dir)
    shards.write_model(settings.shard_dir, MODEL)
    other = path.with_name("predictions-zz.parquet")
    pq.write_table(table(model_id="other@1"), other)
    with pytest.raises(ShardError, match="rows of another model"):
        load_shards(settings.build_database, settings.shard_dir)
    assert count(settings.build_database) == 3  # the good shard loaded before the bad one


def activations(uuids, width, model_id="m@abc"):
    return pa.table({"model_id": [model_id] * len(uuids), "lang": ["en"] * len(uuids), "uuid": uuids,
                     "activations": pa.array([[0.5] * width for _ in uuids], pa.list_(pa.float16()))})


def test_activation_shards_load_as_float32_and_are_checked(settings):
    shards.write_model(settings.shard_dir, {**MODEL, "n_layers": 2, "d_ff": 3})
    shards.write_shard(settings.shard_dir, table("en"))
    shards.write_shard(settings.shard_dir, activations(["u0", "u1"], 6), kind="activations")
    assert load_shards(settings.build_database, settings.shard_dir) == 3 + 2 * 2  # a row per fact and layer
    con = duckdb.connect(str(settings.build_database), read_only=True)
    assert con.execute("SELECT uuid, layer, activations FROM raw.activations ORDER BY uuid, layer").fetchall() == [
        ("u0", 0, [0.5] * 3), ("u0", 1, [0.5] * 3), ("u1", 0, [0.5] * 3), ("u1", 1, [0.5] * 3)]
    con.close()

    wide = shards.write_shard(settings.shard_dir, activations(["u2"], 7), kind="activations")
    with pytest.raises(ShardError, match=f"{wide.name}: activation vectors of width 7, but m@abc has 6 neurons"):
        load_shards(settings.build_database, settings.shard_dir)
    wide.unlink()
    orphan = shards.write_shard(settings.shard_dir, activations(["u2", "zz"], 6), kind="activations")
    with pytest.raises(ShardError, match=f"{orphan.name}: 1 fact.s. with activations but no prediction .first: uuid zz"):
        load_shards(settings.build_database, settings.shard_dir)
    con = duckdb.connect(str(settings.build_database), read_only=True)
    assert con.execute("SELECT count(*) FROM raw.activations").fetchone()[0] == 4  # nothing lost
    con.close()
