"""What a build costs: nothing new and one language added, against a full rebuild, in one run.

The warehouse holds the 45 languages of ../shared's mLAMA 1.1 (every fact), the Wikipedia samples
of ../shared traced with the mBERT tokenizer, and the predictions and activations ("all" facts,
PROBELESS over all probed facts) of a small random BERT with mBERT's vocabulary on the first
`--limit` facts per language. The language added is a 46th: ../shared has no mLAMA folder for Basque,
so English's facts are loaded again as `eu` (the cost of a language does not depend on its words).
Loading and probing are not timed: only `build` (raw checks, SQLMesh, mart checks, publish), with
its stages. Last, a load batch that loads no rows is recorded (as a language's sizes file would be,
were it empty): what any new batch costs before its data, the floor of an incremental build.

    .venv/bin/python bench/build_cost.py [--limit 100] [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compute.models import mbert_tokenizer, wrap_model  # noqa: E402
from ingest.mlama import ingest_mlama  # noqa: E402
from ingest.wikipedia import ingest_wikipedia  # noqa: E402
import warehouse.build as build_module  # noqa: E402
from raw import db  # noqa: E402
from warehouse.probing import probe  # noqa: E402
from warehouse.settings import load_settings  # noqa: E402
from warehouse.tracing import trace  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
MBERT = SHARED / "tokenizers" / "bert-base-multilingual-cased"
ADDED = ("eu", "en")  # (new language code, shared language whose facts it gets)


def small_bert(tokenizer):
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=256, max_position_embeddings=512)
    return wrap_model(BertForMaskedLM(config), tokenizer, "small-random-bert", device="cpu")


STAGES = {"run_expectations": "checks", "context": "SQLMesh", "transform": "SQLMesh", "publish": "publish"}
stage_seconds: dict[str, float] = {}


def _time_stages() -> None:
    """Wrap the build's steps (warehouse.build's names for them) to add up their seconds by stage."""
    for name, stage in STAGES.items():
        def timed_step(*args, _step=getattr(build_module, name), _stage=stage, **kwargs):
            started = time.perf_counter()
            try:
                return _step(*args, **kwargs)
            finally:
                stage_seconds[_stage] = stage_seconds.get(_stage, 0.0) + time.perf_counter() - started
        setattr(build_module, name, timed_step)


def timed(label: str, step) -> float:
    stage_seconds.clear()
    started = time.perf_counter()
    step()
    seconds = time.perf_counter() - started
    stages = ", ".join(f"{stage} {s:.1f}" for stage, s in stage_seconds.items())
    print(f"{label}: {seconds:.1f} s ({stages})", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100, help="facts probed per language")
    parser.add_argument("--data-dir", type=Path, help="keep the warehouse here (default: a temporary folder)")
    args = parser.parse_args()
    _time_stages()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="factroots-build-cost-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "factroots.toml").write_text('probeless_population = "all"\n')
    settings = load_settings(data_dir)
    database, shard_dir = settings.build_database, settings.shard_dir
    tokenizer = mbert_tokenizer(MBERT / "vocab.txt")
    loaded = small_bert(tokenizer)

    started = time.perf_counter()
    ingest_mlama(database, SHARED / "mlama1.1", progress=False)
    for corpus in sorted((SHARED / "wiki").iterdir()):
        ingest_wikipedia(database, corpus, corpus.name, tokenizer, dump_date="2026-11-01", workers=1, progress=False)
    trace(database, progress=False)
    probe(database, "small-random-bert", shard_dir, limit=args.limit, activations="all", progress=False,
          loaded=loaded)
    print(f"loaded 45 languages, traced and probed in {time.perf_counter() - started:.0f} s (not timed)")

    def run_build():
        build_module.build(settings, progress=False)

    full = timed("full build (first build of the loaded warehouse)", run_build)
    nothing = timed("build with nothing new", run_build)

    extra = data_dir / "extra-mlama"
    shutil.copytree(SHARED / "mlama1.1" / ADDED[1], extra / ADDED[0], dirs_exist_ok=True)
    ingest_mlama(database, extra, progress=False)
    probe(database, "small-random-bert", shard_dir, langs=[ADDED[0]], limit=args.limit, activations="all",
          progress=False, loaded=loaded)
    added = timed("build after adding one language", run_build)
    with db.connect(database) as con:
        con.execute("INSERT INTO raw.load_batches SELECT max(load_batch) + 1, 'sizes', 'bench: no rows', NULL, NULL, "
                    "0, 0, now() FROM raw.load_batches")
    empty = timed("build after a batch of no rows", run_build)

    print(json.dumps({"full_s": round(full, 2), "nothing_new_s": round(nothing, 2), "one_language_s": round(added, 2),
                      "empty_batch_s": round(empty, 2),
                      "nothing_new_ratio": round(nothing / full, 3), "one_language_ratio": round(added / full, 3),
                      "empty_batch_ratio": round(empty / full, 3),
                      "targets": {"nothing_new_ratio": 0.2, "one_language_ratio": 0.3},
                      "load_average": os.getloadavg()[0]}, indent=1))
    if not args.data_dir:
        shutil.rmtree(data_dir)


if __name__ == "__main__":
    main()
