"""The Ray path vs the local path on the same data and the same cores, in one run.

Probing: a randomly initialised BERT (mBERT's shape by default; its vocabulary from ../shared)
probes the first --facts real mLAMA facts of English, once in this process and once on a Ray
started here with --workers CPUs (one actor per CPU). Tracing: `trace-corpus` over a WikiExtractor
JSON-lines corpus of --trace-mb MB built from ../shared's English sample (as bench/trace_speed.py
builds it), against every English mLAMA fact, with --workers local processes and then --workers Ray
actors, on a quarter of that corpus and then on all of it. Also matching alone on one core (the
automaton's pass over normalised segments and the pairing of labels into facts). Prints the ratios
Ray / local, MB per CPU-second end to end (CPU seconds of every process of the run: this one, the
workers and Ray's daemons; also MB / (wall seconds x workers)) and the peak memory of
the main process (and of the largest local worker) at both sizes.

    .venv/bin/python bench/ray_overhead.py --facts 2000 --trace-mb 300 --workers 2
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from trace_speed import (SHARED, VOCAB, RssSampler, build_corpus, load_facts,  # sets sys.path to the project
                         matching_seconds, TreeCpuSampler)


def probe_both(work: Path, n_facts: int, workers: int, shape: dict) -> dict:
    import ray
    import torch
    from transformers import BertConfig, BertForMaskedLM

    from compute.models import mbert_tokenizer
    from ingest.mlama import ingest_mlama
    from warehouse.probing import probe
    from warehouse.settings import load_settings

    tokenizer = mbert_tokenizer(VOCAB)
    torch.manual_seed(0)
    model = BertForMaskedLM(BertConfig(vocab_size=len(tokenizer), **shape))
    model.save_pretrained(work / "model")
    tokenizer.save_pretrained(work / "model")
    result = {}
    for path in ("local", "ray"):
        settings = load_settings(work / path)
        if path == "ray":
            ray.init(num_cpus=workers, log_to_driver=False, logging_level="warning")
        ingest_mlama(settings.build_database, SHARED / "mlama1.1", langs=["en"], progress=False)
        started = time.perf_counter()
        report = probe(settings.build_database, str(work / "model"), settings.shard_dir, langs=["en"], limit=n_facts,
                       device="cpu", progress=False, ray="" if path == "ray" else None, shard_size=250)
        result[f"probe_{path}_s"] = time.perf_counter() - started
        if path == "ray":
            ray.shutdown()
        result["facts"] = sum(report.probed.values())
    return result


def trace_both(work: Path, size_mb: float, workers: int) -> dict:
    """trace-corpus on the local and the Ray path, over a quarter of the corpus and then all of it
    (memory should not grow with the input)."""
    import ray

    from compute.models import mbert_tokenizer
    from ingest.mlama import ingest_mlama
    from warehouse.corpus_tracing import trace_corpus
    from warehouse.settings import load_settings

    tokenizer = mbert_tokenizer(VOCAB)
    result = {"trace_facts": len(load_facts("en"))}
    for size in ("quarter", "full"):
        text_mb = build_corpus(work / f"corpus-{size}", "en", size_mb / 4 if size == "quarter" else size_mb)
        for path in ("local", "ray"):
            settings = load_settings(work / f"trace-{size}-{path}")
            ingest_mlama(settings.build_database, SHARED / "mlama1.1", langs=["en"], progress=False)
            if path == "ray":
                ray.init(num_cpus=workers, log_to_driver=False, logging_level="warning")
            sampler = RssSampler()
            sampler.start()
            cpu_sampler = TreeCpuSampler()
            cpu_sampler.start()
            started = time.perf_counter()
            report = trace_corpus(settings.build_database, work / f"corpus-{size}", "en", tokenizer, workers=workers,
                                  ray="" if path == "ray" else None, progress=False)
            wall, cpu = time.perf_counter() - started, cpu_sampler.seconds()
            sampler.stopped.set()
            if path == "ray":
                ray.shutdown()
            result |= {f"{size}_mb": text_mb, f"trace_{size}_{path}_s": wall,
                       f"trace_{size}_{path}_mb_per_core_s": text_mb / (wall * workers),
                       f"trace_{size}_{path}_mb_per_cpu_s": text_mb / cpu,
                       f"trace_{size}_{path}_main_peak_mb": sampler.main_mb,
                       f"trace_{size}_{path}_worker_peak_mb": sampler.worker_mb, "present": report.n_present}
    return result


def matching_alone(work: Path, mb: float = 20) -> dict:
    """The matching step alone over normalised segments, one core."""
    import json

    from compute.models import mbert_tokenizer
    from compute.segments import segment
    from compute.tracing import Tracer, normalise

    tokenizer, texts, size = mbert_tokenizer(VOCAB), [], 0
    for path in sorted((work / "corpus-full").rglob("wiki_*")):
        if path.suffix == ".bz2":
            continue
        for line in open(path, encoding="utf-8"):
            for piece in segment(json.loads(line)["text"], tokenizer, 512):
                texts.append(normalise(piece.text, "en"))
                size += len(texts[-1].encode())
            if size >= mb * 1e6:
                break
        if size >= mb * 1e6:
            break
    seconds = matching_seconds(Tracer(load_facts("en"), "en"), list(enumerate(texts)))
    return {"match_mb_per_s": size / 1e6 / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", type=int, default=2000)
    parser.add_argument("--trace-mb", type=float, default=300)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--tmp", default=None, help="where the corpus and the warehouses go (default: the system's)")
    args = parser.parse_args()
    shape = dict(num_hidden_layers=args.layers, hidden_size=args.hidden, num_attention_heads=max(1, args.hidden // 64),
                 intermediate_size=4 * args.hidden, max_position_embeddings=512)
    work = Path(tempfile.mkdtemp(prefix="ray_overhead_", dir=args.tmp))
    try:
        r = trace_both(work, args.trace_mb, args.workers)  # first: the main process's memory is tracing's own
        r |= probe_both(work, args.facts, args.workers, shape)
        r |= matching_alone(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} ({args.workers} workers)")
    print(f"probe {r['facts']:,} facts ({args.layers} layers x {args.hidden}): local {r['probe_local_s']:.1f} s, "
          f"Ray {r['probe_ray_s']:.1f} s: ratio {r['probe_ray_s'] / r['probe_local_s']:.2f}x")
    print(f"trace-corpus {r['full_mb']:.0f} MB of text x {r['trace_facts']:,} facts ({r['present']:,} present): "
          f"local {r['trace_full_local_s']:.1f} s, Ray {r['trace_full_ray_s']:.1f} s: ratio "
          f"{r['trace_full_ray_s'] / r['trace_full_local_s']:.2f}x")
    print(f"end to end: local {r['trace_full_local_mb_per_cpu_s']:.2f} MB per CPU-second "
          f"({r['trace_full_local_mb_per_core_s']:.2f} per wall second and core), "
          f"Ray {r['trace_full_ray_mb_per_cpu_s']:.2f} ({r['trace_full_ray_mb_per_core_s']:.2f}); "
          f"matching alone {r['match_mb_per_s']:.1f} MB/s on one core")
    for path in ("local", "ray"):
        print(f"peak memory, {path}: main process {r[f'trace_quarter_{path}_main_peak_mb']:.0f} MB for "
              f"{r['quarter_mb']:.0f} MB of text, {r[f'trace_full_{path}_main_peak_mb']:.0f} MB for {r['full_mb']:.0f} MB"
              + (f"; largest worker {r['trace_quarter_local_worker_peak_mb']:.0f} and "
                 f"{r['trace_full_local_worker_peak_mb']:.0f} MB" if path == "local" else ""))

if __name__ == "__main__":
    main()
