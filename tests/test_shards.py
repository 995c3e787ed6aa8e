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
        model_id=model_id, lang=lang, relation="P36", uuid=f"u{i}", template="[X] [Y]", template_id="mlama",
        sub_label="s", obj_label="o", query="s [MASK]", n_mask_tokens=1, gold_token_ids=[i], pred_token_ids=[i],
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


def release_and_model(tmp_path, settings):
    from compute.models import wrap_model
    from conftest import fact, write_release
    from ingest.mlama import ingest_mlama
    from test_probe import tiny_bert

    facts = [fact(f"u{i}", "Allan", obj) for i, obj in enumerate(("Paris", "Rome", "New York City"))]
    release = write_release(tmp_path / "rel", {"en": {"templates": {"P19": "[X] was born in [Y] ."},
                                                      "facts": {"P19": facts}}})
    ingest_mlama(settings.build_database, release, progress=False)
    model, tokenizer = tiny_bert()
    return wrap_model(model, tokenizer, "tiny", device="cpu")


def counts(database):
    return rows(database, "SELECT (SELECT count(*) FROM raw.predictions), (SELECT count(*) FROM raw.activations), "
                          "(SELECT count(*) FROM raw.load_batches)")[0]


def test_a_probe_resumed_after_a_crash_between_its_two_shards_duplicates_nothing(tmp_path, settings, monkeypatch):
    from warehouse.probing import probe

    loaded = release_and_model(tmp_path, settings)
    write = shards.write_shard

    def crash_before_activations(shard_dir, table, kind="predictions", name=None):
        if kind == "activations":
            raise KeyboardInterrupt
        return write(shard_dir, table, kind, name)

    monkeypatch.setattr(shards, "write_shard", crash_before_activations)
    with pytest.raises(KeyboardInterrupt):
        probe(settings.build_database, "tiny", settings.shard_dir, activations="all", progress=False, loaded=loaded)
    monkeypatch.setattr(shards, "write_shard", write)
    probe(settings.build_database, "tiny", settings.shard_dir, activations="all", progress=False, loaded=loaded)
    n_predictions, n_activations, _ = counts(settings.build_database)
    assert (n_predictions, n_activations) == (3, 3 * loaded.n_layers)
    assert rows(settings.build_database, "SELECT count(DISTINCT load_batch) FROM raw.predictions") == [(1,)]


def test_a_moved_data_directory_loads_no_shard_twice(tmp_path, settings):
    import shutil

    from warehouse.probing import probe
    from warehouse.settings import load_settings

    loaded = release_and_model(tmp_path, settings)
    probe(settings.build_database, "tiny", settings.shard_dir, activations="all", progress=False, loaded=loaded)
    before = counts(settings.build_database)
    moved = load_settings(tmp_path / "moved")
    shutil.copytree(settings.build_database.parent, moved.build_database.parent)
    report = probe(moved.build_database, "tiny", moved.shard_dir, activations="all", progress=False, loaded=loaded)
    assert report.probed == {}
    assert load_shards(moved.build_database, moved.shard_dir) == 0
    assert counts(moved.build_database) == before
