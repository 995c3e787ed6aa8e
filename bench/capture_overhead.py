"""Capture overhead: probing with capture="all" vs without, in one run, and the activations' size.

A randomly initialised model of mBERT's exact shape (../shared config and vocab) probes real mLAMA
facts, as in probe_speed.py. The two runs alternate over a few slices of the facts (the order
flipping each round) so that a change in the machine's load hits both alike; CPU time (this
process) and the median of the per-round ratios are less sensitive to other jobs than the totals. Capture keeps
float32; the float16 figures cast the same values, as probe(activation_dtype="float16") does.
Sizes are of Parquet files (snappy, pyarrow's default) and of a DuckDB table with a FLOAT[]
column loaded from the float16 file.

    .venv/bin/python bench/capture_overhead.py --facts 2000 --batch-size 32
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.probe_speed import parse_args, random_mbert  # noqa: E402
from compute.probe import activation_schema, probe  # noqa: E402


def timed(batches) -> tuple[float, float, list]:
    """Wall and CPU seconds (this process) to exhaust a lazy probe, and what it yielded."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = list(batches)
    return time.perf_counter() - wall, time.process_time() - cpu, out


def sizes(activations: pa.Table, folder: Path) -> dict[str, int]:
    """Bytes of the activations as float16 and float32 Parquet, and as a DuckDB FLOAT[] table."""
    n_neurons = activations.schema.field("activations").type.list_size
    half = activations.cast(activation_schema(n_neurons, "float16"))
    out = {}
    for name, table in (("float16", half), ("float32", activations)):
        pq.write_table(table, folder / f"{name}.parquet")
        out[f"parquet {name}"] = (folder / f"{name}.parquet").stat().st_size
    con = duckdb.connect(str(folder / "a.duckdb"))
    con.execute("CREATE TABLE activations (model_id VARCHAR, lang VARCHAR, uuid VARCHAR, activations FLOAT[])")
    con.execute(f"INSERT INTO activations SELECT * FROM '{folder / 'float16.parquet'}'")
    con.execute("CHECKPOINT")
    con.close()
    out["duckdb FLOAT[] (from float16)"] = (folder / "a.duckdb").stat().st_size
    return out


def main() -> None:
    args = parse_args(16, "the two runs alternate over this many slices")
    facts, _, loaded = random_mbert(args)

    runs = {"plain": {}, "capture": dict(capture="all", activation_dtype="float32")}
    for kwargs in runs.values():  # warm-up
        list(probe(loaded, facts[: args.batch_size], batch_size=args.batch_size, progress=False, **kwargs))

    wall, cpu, ratios = {"plain": 0.0, "capture": 0.0}, {"plain": 0.0, "capture": 0.0}, []
    predictions, activations = [], []
    for r, chunk in enumerate(facts[i :: args.rounds] for i in range(args.rounds)):
        round_wall = {}
        for name in ("plain", "capture") if r % 2 == 0 else ("capture", "plain"):
            batches = probe(loaded, chunk, batch_size=args.batch_size, progress=False, **runs[name])
            round_wall[name], cpu_s, out = timed(batches)
            wall[name] += round_wall[name]
            cpu[name] += cpu_s
            if name == "capture":
                predictions += [p for p, _ in out]
                activations += [a for _, a in out if a is not None]
        ratios.append(round_wall["capture"] / round_wall["plain"])
    activations = pa.Table.from_batches(activations)
    n_probed = activations.num_rows
    n_masks = sum(pa.Table.from_batches(predictions)["n_mask_tokens"].fill_null(0).to_pylist()) / n_probed

    print(f"facts: {len(facts)} ({args.langs}), probed {n_probed}, {n_masks:.2f} masks per query")
    print(f"batch size {args.batch_size}, {args.rounds} alternating rounds, {torch.get_num_threads()} threads")
    print(f"neurons per fact: {activations.schema.field('activations').type.list_size:,}")
    for name in ("plain", "capture"):
        print(f"{name}: {wall[name]:.1f} s, {n_probed / wall[name]:.1f} facts/s (CPU {cpu[name]:.1f} s)")
    print(f"ratio capture / plain: {wall['capture'] / wall['plain']:.3f} wall, "
          f"{cpu['capture'] / cpu['plain']:.3f} CPU, {statistics.median(ratios):.3f} median over rounds")
    with tempfile.TemporaryDirectory() as folder:
        for name, size in sizes(activations, Path(folder)).items():
            print(f"{name}: {size / n_probed:,.0f} bytes per fact")


if __name__ == "__main__":
    main()
