"""Probe speed: factroots' probe vs a bare batched forward pass of the same model, in one run.

A randomly initialised model of mBERT's exact shape (../shared config and vocab) probes real mLAMA
facts. The bare pass is `model(input_ids, attention_mask)` (full-vocabulary logits at every
position) over the same queries in the same length-sorted batches, timed without tokenization;
the probe's time includes building the queries and decoding the predictions. The two alternate
over a few slices of the facts so that a change in the machine's load hits both alike.

    .venv/bin/python bench/probe_speed.py --facts 2000 --batch-size 32
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compute.models import mbert_tokenizer, wrap_model  # noqa: E402
from compute.probe import probe  # noqa: E402
from compute.queries import QueryError, build_query  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MBERT = SHARED / "tokenizers" / "bert-base-multilingual-cased"


def read_facts(mlama: Path, langs: list[str], relations: list[str], n: int, seed: int) -> list[dict]:
    """n facts drawn at random from the given languages and relations of the mLAMA release."""
    facts = []
    for lang in langs:
        with (mlama / lang / "templates.jsonl").open(encoding="utf-8") as f:
            templates = {t["relation"]: t["template"] for t in map(json.loads, f)}
        for relation in relations:
            path = mlama / lang / f"{relation}.jsonl"
            if relation not in templates or not path.exists():
                continue
            with path.open(encoding="utf-8") as f:
                for line in f:
                    row = json.loads(line)
                    facts.append(
                        dict(
                            lang=lang, relation=relation, uuid=row["uuid"], template=templates[relation],
                            sub_label=row["sub_label"], obj_label=row["obj_label"],
                        )
                    )
    random.Random(seed).shuffle(facts)
    return facts[:n]


def bare_batches(loaded, facts: list[dict], batch_size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The probe's inputs, length-sorted and padded into the same batches."""
    queries = []
    for f in facts:
        try:
            queries.append(build_query(loaded.tokenizer, f["template"], f["sub_label"], f["obj_label"], loaded.max_length))
        except QueryError:
            pass
    queries.sort(key=lambda q: len(q.input_ids))
    batches = []
    for start in range(0, len(queries), batch_size):
        chunk = queries[start : start + batch_size]
        width = max(len(q.input_ids) for q in chunk)
        ids = torch.full((len(chunk), width), loaded.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for b, q in enumerate(chunk):
            ids[b, : len(q.input_ids)] = torch.tensor(q.input_ids)
            mask[b, : len(q.input_ids)] = 1
        batches.append((ids, mask))
    return batches


def parse_args(rounds: int, help_rounds: str) -> argparse.Namespace:
    """The options shared by the probe benchmarks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--langs", default="en,fr,de,ru,zh,ja")
    parser.add_argument("--relations", default="P19,P20,P27,P36,P103,P106,P131,P140,P1376,P495")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=rounds, help=help_rounds)
    return parser.parse_args()


def random_mbert(args: argparse.Namespace):
    """Real facts and a randomly initialised model of mBERT's exact shape, with the real vocabulary."""
    facts = read_facts(SHARED / "mlama1.1", args.langs.split(","), args.relations.split(","), args.facts, args.seed)
    torch.manual_seed(args.seed)
    from transformers import BertConfig, BertForMaskedLM

    model = BertForMaskedLM(BertConfig.from_json_file(MBERT / "config.json"))
    return facts, model, wrap_model(model, mbert_tokenizer(MBERT / "vocab.txt"), "random-mbert", device="cpu")


def main() -> None:
    args = parse_args(4, "probe and bare pass alternate over this many slices")
    started = time.perf_counter()
    facts, model, loaded = random_mbert(args)
    hash_s = time.perf_counter() - started
    n_params = sum(p.numel() for p in model.parameters())

    list(probe(loaded, facts[: args.batch_size], batch_size=args.batch_size, progress=False))  # warm-up

    rows, batches, probe_s, bare_s = [], [], 0.0, 0.0
    for chunk in (facts[i :: args.rounds] for i in range(args.rounds)):
        started = time.perf_counter()
        for batch in probe(loaded, chunk, batch_size=args.batch_size, progress=False):
            rows += batch.to_pylist()
        probe_s += time.perf_counter() - started

        chunk_batches = bare_batches(loaded, chunk, args.batch_size)
        started = time.perf_counter()
        with torch.inference_mode():
            for ids, mask in chunk_batches:
                model(input_ids=ids, attention_mask=mask)
        bare_s += time.perf_counter() - started
        batches += chunk_batches

    probed = [r for r in rows if r["skip_reason"] is None]
    tokens = sum(int(mask.sum()) for _, mask in batches)
    padded = sum(mask.numel() for _, mask in batches)
    print(f"model: random mBERT shape, {n_params / 1e6:.0f}M parameters, built and hashed in {hash_s:.2f} s")
    print(f"facts: {len(facts)} ({args.langs}), probed {len(probed)}, skipped {len(rows) - len(probed)}")
    print(f"tokens: {tokens / len(probed):.1f} per query, padding {1 - tokens / padded:.1%}, "
          f"masks {sum(r['n_mask_tokens'] for r in probed) / len(probed):.2f} per query")
    print(f"batch size {args.batch_size}, {args.rounds} alternating rounds, {torch.get_num_threads()} threads")
    print(f"probe: {probe_s:.1f} s, {len(facts) / probe_s:.1f} facts/s")
    print(f"bare forward: {bare_s:.1f} s, {len(probed) / bare_s:.1f} facts/s")
    print(f"ratio probe / bare forward: {probe_s / bare_s:.2f}")


if __name__ == "__main__":
    main()
