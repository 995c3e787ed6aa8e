"""The Ray path vs the local path on the same data and the same cores, in one run.

Probing: a randomly initialised BERT (mBERT's shape by default; its vocabulary from ../shared)
probes the first --facts real mLAMA facts of English, once in this process and once on a Ray
started here with --workers CPUs (one actor per CPU). Tracing: `trace-corpus` over a WikiExtractor
JSON-lines corpus of --trace-mb MB built from ../shared's English sample (as bench/trace_speed.py
builds it), against every English mLAMA fact, with --workers local processes and then --workers Ray
actors. Also matching alone on one core (normalised segments, the automaton's pass). Prints the
ratios Ray / local, MB per CPU-second end to end (MB / (wall seconds x workers)) and the main
process's peak memory.

    .venv/bin/python bench/ray_overhead.py --facts 2000 --trace-mb 300 --workers 2
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from trace_speed import SHARED, VOCAB, RssSampler, build_corpus, load_facts  # sets sys.path to the project


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
    import ray

    from compute.models import mbert_tokenizer
    from ingest.mlama import ingest_mlama
    from warehouse.corpus_tracing import trace_corpus
    from warehouse.settings import load_settings

    text_mb = build_corpus(work / "corpus", "en", size_mb)
    tokenizer = mbert_tokenizer(VOCAB)
    result = {"text_mb": text_mb, "trace_facts": len(load_facts("en"))}
    for path in ("local", "ray"):
        settings = load_settings(work / f"trace-{path}")
        ingest_mlama(settings.build_database, SHARED / "mlama1.1", langs=["en"], progress=False)
        if path == "ray":
            ray.init(num_cpus=workers, log_to_driver=False, logging_level="warning")
        sampler = RssSampler()
        sampler.start()
        started = time.perf_counter()
        report = trace_corpus(settings.build_database, work / "corpus", "en", tokenizer, workers=workers,
                              ray="" if path == "ray" else None, progress=False)
        wall = time.perf_counter() - started
        sampler.stopped.set()
        if path == "ray":
            ray.shutdown()
        result |= {f"trace_{path}_s": wall, f"trace_{path}_mb_per_cpu_s": text_mb / (wall * workers),
                   f"trace_{path}_main_peak_mb": sampler.main_mb, "present": report.n_present}
    return result


def matching_alone(work: Path, mb: float = 20) -> dict:
    """The automaton's pass over normalised segments, one core."""
    import json

    from compute.models import mbert_tokenizer
    from compute.segments import segment
    from compute.tracing import Tracer, normalise

    tokenizer, texts, size = mbert_tokenizer(VOCAB), [], 0
    for path in sorted((work / "corpus").rglob("wiki_*")):
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
    tracer = Tracer(load_facts("en"), "en")
    started = time.process_time()
    for text in texts:
        tracer.labels_in(text)
    return {"match_mb_per_s": size / 1e6 / (time.process_time() - started)}


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
        r = probe_both(work, args.facts, args.workers, shape) | trace_both(work, args.trace_mb, args.workers)
        r |= matching_alone(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} ({args.workers} workers)")
    print(f"probe {r['facts']:,} facts ({args.layers} layers x {args.hidden}): local {r['probe_local_s']:.1f} s, "
          f"Ray {r['probe_ray_s']:.1f} s: ratio {r['probe_ray_s'] / r['probe_local_s']:.2f}x")
    print(f"trace-corpus {r['text_mb']:.0f} MB of text x {r["trace_facts"]:,} facts ({r['present']:,} present): "
          f"local {r['trace_local_s']:.1f} s, Ray {r['trace_ray_s']:.1f} s: ratio "
          f"{r['trace_ray_s'] / r['trace_local_s']:.2f}x")
    print(f"end to end per core: local {r['trace_local_mb_per_cpu_s']:.2f} MB per CPU-second, "
          f"Ray {r['trace_ray_mb_per_cpu_s']:.2f}; matching alone {r['match_mb_per_s']:.1f} MB/s on one core")
    print(f"main process peak memory: local {r['trace_local_main_peak_mb']:.0f} MB, "
          f"Ray {r['trace_ray_main_peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
