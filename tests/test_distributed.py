"""The Ray path on a real two-node cluster started here (1 CPU each): the same results as the local
path, fact by fact (probe, attribute, intervene, trace-corpus), and a worker killed mid-run loses
nothing and duplicates nothing."""
from __future__ import annotations

import threading
import time

import pyarrow as pa

import psutil
import pytest

from compute import distributed
from compute.models import load_model
from conftest import HAND_MADE_SETS, fact, rows, warehouse, write_release
from ingest import shards
from ingest.mlama import ingest_mlama
from raw import db
from test_model_loading import saved
from test_probe import tiny_bert
from warehouse.neurons import attribute, intervene
from warehouse.probing import Block, _probe_block, probe
from warehouse.settings import load_settings

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

PREDICTION_COLUMNS = "lang, uuid, query, n_mask_tokens, gold_token_ids, pred_token_ids, is_correct, skip_reason"


@pytest.fixture(scope="module")
def cluster():
    """A head and a second node, one CPU each; this process is the driver."""
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes.add_node(num_cpus=1)
    ray.init(address=nodes.address, log_to_driver=False, logging_level="warning")
    yield nodes
    ray.shutdown()
    nodes.shutdown()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    model, tokenizer = tiny_bert()
    return str(saved(tmp_path_factory.mktemp("model"), model, tokenizer))


def results(settings) -> tuple[list, list]:
    predictions = rows(settings.build_database, f"SELECT {PREDICTION_COLUMNS}, gold_log_prob FROM raw.predictions "
                                                "ORDER BY lang, uuid")
    activations = rows(settings.build_database, "SELECT lang, uuid, layer, activations FROM raw.activations "
                                                "ORDER BY lang, uuid, layer")
    return predictions, activations


def n_shards(settings, kind: str = "predictions") -> int:
    return len(list(settings.shard_dir.glob(f"*/*/{kind}-*.parquet")))


def _actor_processes(cluster) -> list[psutil.Process]:
    """The probe's actor processes on our cluster's nodes (descendants of their raylets only)."""
    found = []
    for node in cluster.list_all_nodes():
        for info in node.all_processes.get("raylet", []):
            for child in psutil.Process(info.process.pid).children(recursive=True):
                try:
                    if "_Actor" in " ".join(child.cmdline()):
                        found.append(child)
                except psutil.NoSuchProcess:
                    pass
    return found


@pytest.mark.slow
def test_probing_on_ray_with_a_worker_killed_mid_run_equals_the_local_path(cluster, tmp_path, model_dir):
    """One Ray run (actors start slowly on a busy machine): a worker is killed by its pid once the first
    shard is written; the results still equal the local path's fact by fact, each block written once."""
    n_facts, shard_size = 30, 4
    local, remote = warehouse(tmp_path, "local", n_facts), warehouse(tmp_path, "ray", n_facts)
    n_blocks = 2 * -(-n_facts // shard_size)   # chunks of shard_size facts, split by language
    killed = {}

    def kill_when_the_first_shard_appears():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not n_shards(remote):
            time.sleep(0.02)
        actors = _actor_processes(cluster)
        killed["shards_before"] = n_shards(remote)
        if actors:
            killed["pid"] = actors[0].pid
            actors[0].kill()   # SIGKILL, by pid

    killer = threading.Thread(target=kill_when_the_first_shard_appears)
    killer.start()
    report = probe(remote.build_database, model_dir, remote.shard_dir, activations="all", shard_size=shard_size,
                   progress=False, ray=cluster.address)
    killer.join()
    probe(local.build_database, model_dir, local.shard_dir, activations="all", shard_size=shard_size, progress=False)

    assert "pid" in killed and killed["shards_before"] < n_blocks          # it died mid-run
    assert not psutil.pid_exists(killed["pid"]) or psutil.Process(killed["pid"]).status() == psutil.STATUS_ZOMBIE
    assert report.probed == {"de": n_facts, "en": n_facts}
    (local_predictions, local_activations), (ray_predictions, ray_activations) = results(local), results(remote)
    assert len(ray_predictions) == 2 * n_facts and len(ray_activations) == 2 * n_facts * 2  # each fact and layer once
    assert [row[:-1] for row in ray_predictions] == [row[:-1] for row in local_predictions]
    assert [row[-1] for row in ray_predictions] == pytest.approx([row[-1] for row in local_predictions], abs=1e-5)
    assert [row[:3] for row in ray_activations] == [row[:3] for row in local_activations]
    for ray_row, local_row in zip(ray_activations, local_activations):
        assert ray_row[3] == pytest.approx(local_row[3], abs=1e-3)   # float16 shards
    assert n_shards(remote) == n_shards(local) == n_blocks          # each block's shard written once
    assert rows(remote.build_database, "SELECT count(*) FROM raw.load_batches WHERE kind = 'predictions'") \
        == [(n_blocks,)]


# Neuron sets as the build would give them (tiny BERT: 2 layers x 64 neurons), the same in every
# warehouse: PROBELESS top-3 and knowledge neurons per (lang, fact), language-agnostic per fact.
ATTRIBUTIONS = "SELECT lang, uuid, template_id, ig_steps, neuron_ids, gold_prob, attributions FROM raw.attributions"
INTERVENTIONS = ("SELECT lang, uuid, set_kind, set_lang, op, n_neurons, correct_before, correct_after, p_before, "
                 "p_after FROM raw.interventions")


def _same_rows(got: list[tuple], expected: list[tuple], n_exact: int) -> None:
    """The first n_exact columns equal, the others (floats, or lists of them) to float tolerance."""
    assert [row[:n_exact] for row in got] == [row[:n_exact] for row in expected]
    for got_row, expected_row in zip(got, expected):
        for got_value, expected_value in zip(got_row[n_exact:], expected_row[n_exact:]):
            assert got_value == pytest.approx(expected_value, rel=1e-4, abs=1e-7)


@pytest.mark.slow
def test_attribution_and_interventions_on_ray_equal_the_local_path(cluster, tmp_path, model_dir):
    """6 facts in en and de, blocks of 4 (4 blocks, one mixing the end of de and the start of en)."""
    n_facts, shard_size = 6, 4
    found = {}
    for name, ray_address in (("local", None), ("ray", cluster.address)):
        settings = warehouse(tmp_path, name, n_facts)
        probe(settings.build_database, model_dir, settings.shard_dir, activations="none", progress=False)
        options = dict(shard_size=shard_size, progress=False, ray=ray_address)
        attributed = attribute(settings.build_database, model_dir, settings.shard_dir, ig_steps=4, population="all",
                               **options)
        con = db.connect(settings.build_database)
        try:
            con.execute("UPDATE raw.predictions SET is_correct = true")   # the untrained model gets none right
            con.execute(HAND_MADE_SETS)
        finally:
            con.close()
        intervened = intervene(settings.build_database, model_dir, settings.shard_dir, **options)
        assert attributed.done == intervened.done == {"de": n_facts, "en": n_facts}
        found[name] = (rows(settings.build_database, f"{ATTRIBUTIONS} ORDER BY lang, uuid"),
                       rows(settings.build_database, f"{INTERVENTIONS} ORDER BY lang, uuid, set_kind, set_lang, op"),
                       n_shards(settings, "attributions"), n_shards(settings, "interventions"))

    (local_attributions, local_interventions, *local_shards), (ray_attributions, ray_interventions, *ray_shards) = \
        found["local"], found["ray"]
    assert len(ray_attributions) == 2 * n_facts and all(row[4] for row in ray_attributions)
    _same_rows(ray_attributions, local_attributions, 5)   # the same neurons kept, each attribution close
    # per fact and B: (probeless, its random control, knowledge) x 2 languages A + language-agnostic, x 2 ops
    assert len(ray_interventions) == 2 * n_facts * 7 * 2
    _same_rows(ray_interventions, local_interventions, 8)
    assert ray_shards == local_shards == [4, 4]                # each block's shard written once


def test_tracing_a_corpus_on_ray_equals_the_local_path(cluster, tmp_path):
    from test_corpus_tracing import FACTS, PRESENCE, corpus
    from test_wikipedia import word_tokenizer
    from warehouse.corpus_tracing import trace_corpus

    source = corpus(tmp_path / "web")
    found = {}
    for name, ray_address in (("local", None), ("ray", cluster.address)):
        settings = load_settings(tmp_path / name)
        release = write_release(tmp_path / f"{name}-rel", {"en": {"templates": {"P1": "[X] is in [Y] ."},
                                                                  "facts": {"P1": FACTS}}})
        ingest_mlama(settings.build_database, release, progress=False)
        report = trace_corpus(settings.build_database, source, "en", word_tokenizer(), max_tokens=4, workers=2,
                              ray=ray_address, progress=False)
        assert report.n_traced == 4 and len(report.quarantined) == 1
        found[name] = (rows(settings.build_database, PRESENCE, ["web"]),
                       rows(settings.build_database, "SELECT shard, is_quarantined, n_documents, n_segments, n_tokens, "
                                                     "n_bytes FROM raw.corpus_shards ORDER BY shard"))
    assert found["ray"] == found["local"]
    assert [row[0] for row in found["ray"][0] if row[1]] == ["u1", "u3"]


def test_a_block_retried_after_its_shards_were_written_writes_nothing(tmp_path, model_dir):
    settings = warehouse(tmp_path, "retry", 3)
    facts = rows(settings.build_database, "SELECT f.lang, f.relation, f.uuid, t.template, t.template_id, f.sub_label, "
                                          "f.obj_label FROM raw.mlama_facts f JOIN raw.mlama_templates t "
                                          "USING (lang, relation) WHERE lang = 'en'")
    table = pa.table(dict(zip(["lang", "relation", "uuid", "template", "template_id", "sub_label", "obj_label"],
                              zip(*facts))))
    loaded = load_model(model_dir, "cpu")
    block = Block("b-00000", "en", table)
    for _ in range(2):
        _probe_block(loaded, block, settings.shard_dir, "m@1", 8, "all", "float32", False)
    assert n_shards(settings) == 1 and n_shards(settings, "activations") == 1
    assert shards.shard_exists(settings.shard_dir, "m@1", "en", "activations", "b-00000")


def test_without_ray_installed_the_error_is_one_line(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ImportError, match=r"^--ray needs Ray, an optional extra: pip install -e '\.\[ray\]'$"):
        distributed.import_ray()
