"""PROBELESS for one language: the SQL model vs a plain numpy sort-and-prefix-sum, in one run.

Synthetic activations of mBERT's shape (default 2,000 facts x 36,864 neurons) go into a fresh
warehouse; the timed step, in a process of its own, is the SQLMesh run that computes
marts.active_neurons (and the small marts after it). numpy computes the same top-k in another
process. Peak memory is each process's maximum resident set size.

    .venv/bin/python bench/probeless_speed.py [--facts 2000] [--neurons 36864] [--memory-limit 4GB]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
K = 50


def numpy_top(activations: np.ndarray) -> tuple[np.ndarray, float]:
    """Sort each neuron's values once; prefix sums give every fact's score; top K per fact."""
    m = len(activations)
    order = np.argsort(activations, axis=0, kind="stable")
    ordered = np.take_along_axis(activations, order, axis=0).astype(np.float64)
    prefix = np.cumsum(ordered, axis=0)
    rank = np.arange(1, m + 1, dtype=np.float64)[:, None]
    sorted_scores = (ordered * (2 * rank - m) + prefix[-1] - 2 * prefix) / (m - 1)
    scores = np.empty_like(sorted_scores)
    np.put_along_axis(scores, order, sorted_scores, axis=0)
    top = np.argsort(-scores, axis=1, kind="stable")[:, :K]  # stable: ties to the lower neuron id
    return top, scores


def build_population(settings, facts: int, n_layers: int, d_ff: int) -> None:
    """One language of `facts` facts, all predicted correctly by a registered model."""
    from datetime import datetime, timezone

    import pyarrow as pa

    from ingest import shards
    from ingest.mlama import ingest_mlama

    release = settings.build_database.parent / "release" / "en"
    release.mkdir(parents=True, exist_ok=True)
    (release / "templates.jsonl").write_text(json.dumps({"relation": "P1", "template": "[X] is [Y] ."}) + "\n")
    uuids = [f"u{i:05d}" for i in range(facts)]
    (release / "P1.jsonl").write_text("".join(json.dumps(
        {"sub_uri": "Q1", "obj_uri": "Q2", "sub_label": f"s{u}", "obj_label": f"o{u}", "lineid": i, "uuid": u}) + "\n"
        for i, u in enumerate(uuids)))
    ingest_mlama(settings.build_database, release.parent, progress=False)
    shards.write_model(settings.shard_dir, {"model_id": "bench-model@0", "name_or_path": "bench-model",
                                            "weights_sha256": "0" * 64, "n_layers": n_layers, "d_ff": d_ff})
    now = datetime.now(timezone.utc)
    shards.write_shard(settings.shard_dir, pa.Table.from_pylist([dict(
        model_id="bench-model@0", lang="en", relation="P1", uuid=u, template="[X] is [Y] .", template_id="mlama",
        sub_label=f"s{u}", obj_label=f"o{u}", query="q", n_mask_tokens=1, gold_token_ids=[1], pred_token_ids=[1], gold_text=None,
        pred_text=None, gold_log_prob=None, is_correct=True, skip_reason=None, probed_at=now)
        for u in uuids],
        schema=shards.SHARD_SCHEMA))
    shards.load_shards(settings.build_database, settings.shard_dir)


def child(mode: str, workdir: Path, facts: int, neurons: int, memory_limit: str) -> dict:
    activations = np.random.default_rng(0).standard_normal((facts, neurons)).astype(np.float32) \
        if mode != "sql" else None
    if mode == "numpy":
        start = time.perf_counter()
        top, _ = numpy_top(activations)
        seconds = time.perf_counter() - start
        np.save(workdir / "numpy_top.npy", top)
        return {"seconds": seconds}
    import duckdb
    import pyarrow as pa

    from ingest import shards
    from warehouse.settings import load_settings
    from warehouse.transform import context, transform

    def run_models(settings):
        ctx = context(settings, progress=False)
        try:
            transform(ctx, settings)
        finally:
            ctx.close()

    settings = load_settings(workdir / "data")
    settings.sqlmesh_config.gateways["local"].connection.connector_config["memory_limit"] = memory_limit
    if mode == "sql":  # only the run that computes PROBELESS, in a process of its own
        start = time.perf_counter()
        run_models(settings)
        seconds = time.perf_counter() - start
        con = duckdb.connect(str(settings.build_database), read_only=True)
        rows = con.execute("SELECT uuid, list(neuron_id ORDER BY neuron_rank) FROM marts.active_neurons "
                           "GROUP BY uuid ORDER BY uuid").fetchall()
        con.close()
        np.save(workdir / "sql_top.npy", np.array([r[1] for r in rows]))
        return {"seconds": seconds}
    build_population(settings, facts, n_layers=neurons // 3072 or 1, d_ff=min(neurons, 3072))
    run_models(settings)  # everything but the activations
    shards.write_shard(settings.shard_dir, pa.table({
        "model_id": ["bench-model@0"] * facts, "lang": ["en"] * facts, "uuid": [f"u{i:05d}" for i in range(facts)],
        "activations": pa.FixedSizeListArray.from_arrays(pa.array(activations.reshape(-1)), neurons)}),
        kind="activations")
    del activations
    shards.load_shards(settings.build_database, settings.shard_dir)
    return {"seconds": 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--facts", type=int, default=2000)
    parser.add_argument("--neurons", type=int, default=36864)
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory_limit for the SQL run")
    parser.add_argument("--child", choices=["numpy", "prepare", "sql"], help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = child(args.child, Path(args.workdir), args.facts, args.neurons, args.memory_limit)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as workdir:
        results = {}
        for mode in ("numpy", "prepare", "sql"):
            out = subprocess.run([sys.executable, __file__, "--child", mode, "--workdir", workdir,
                                  "--facts", str(args.facts), "--neurons", str(args.neurons),
                                  "--memory-limit", args.memory_limit],
                                 check=True, capture_output=True, text=True).stdout
            results[mode] = json.loads(out.strip().splitlines()[-1])
        same = np.array_equal(np.load(Path(workdir) / "numpy_top.npy"), np.load(Path(workdir) / "sql_top.npy"))
    data_mb = args.facts * args.neurons * 4 / 2**20
    print(f"PROBELESS, {args.facts:,} facts x {args.neurons:,} neurons ({data_mb:,.0f} MB of float32), top {K}")
    print(f"  numpy sort + prefix sums: {results['numpy']['seconds']:7.1f} s, peak RSS "
          f"{results['numpy']['peak_rss_mb']:,.0f} MB")
    print(f"  SQL model (SQLMesh run):  {results['sql']['seconds']:7.1f} s, peak RSS "
          f"{results['sql']['peak_rss_mb']:,.0f} MB (DuckDB memory_limit {args.memory_limit})")
    print(f"  ratio SQL / numpy: {results['sql']['seconds'] / results['numpy']['seconds']:.2f}x; "
          f"same top-{K} neurons for every fact: {same}")


if __name__ == "__main__":
    main()
