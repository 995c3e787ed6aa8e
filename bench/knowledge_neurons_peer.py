"""Our integrated gradients (compute.attribution) against the `knowledge-neurons` package (EleutherAI)
on the same tiny BERT and the same single-token sample facts (the package takes only those), with
the same m and the same threshold (0.2 x the largest attribution). One run; prints per-fact Jaccard,
time per fact and its ratio, and our cost per fact relative to one forward + backward pass.

The step rules differ: the package scales by linspace(0, 1, m) (both ends, so its first step is at 0
and its sum covers (m + 1) / 2 x a instead of a / 2 ... a), ours by the midpoints (j + 0.5) / m. The
run is repeated with our code on the package's rule, where the neuron sets should coincide.

    PYTHONPATH=. python bench/knowledge_neurons_peer.py [--model DIR] [--facts 40] [--steps 20]
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

import compute.attribution as attribution
from compute.models import load_model
from compute.probe import batch_inputs, build_for, gold_probs, lm_head, log_probs_at
from compute.tiny import build_tiny_model

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = 0.2


def single_token_facts(loaded, limit: int) -> list[tuple[str, str, object]]:
    """(peer prompt, object, our query) for sample facts whose object is one token, in sample order."""
    found = []
    for lang_dir in sorted((ROOT / "sample" / "mlama").iterdir()):
        templates = {r["relation"]: r["template"] for r in map(json.loads, (lang_dir / "templates.jsonl").open())}
        for path in sorted(lang_dir.glob("P*.jsonl")):
            template = templates.get(path.stem)
            for row in map(json.loads, path.open()):
                try:
                    q = build_for(loaded, template, row["sub_label"], row["obj_label"])
                except Exception:
                    continue
                if len(q.gold_ids) == 1 and template.count("[Y]") == 1:
                    prompt = template.replace("[X]", row["sub_label"].strip()).replace("[Y]", "[MASK]")
                    obj = loaded.tokenizer.convert_ids_to_tokens(q.gold_ids[0])
                    if loaded.tokenizer(prompt)["input_ids"] == q.input_ids:
                        found.append((prompt, obj, q))
    return found[:limit]


def neurons(scores: torch.Tensor, strict: bool) -> set[int]:
    flat = scores.reshape(-1)
    cut = THRESHOLD * flat.max().item()
    return set(torch.nonzero(flat > cut if strict else flat >= cut).reshape(-1).tolist())


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def ours(loaded, queries, steps: int, batch_size: int) -> tuple[list[torch.Tensor], float]:
    start = time.perf_counter()
    found = [a.attributions for a in sorted(attribution.attribute(loaded, queries, steps, batch_size, progress=False),
                                            key=lambda a: a.index)]
    return found, time.perf_counter() - start


def forward_backward(loaded, queries) -> float:
    """Seconds of one forward pass of the batch and one backward pass of its gold probabilities."""
    batch = batch_inputs(loaded, queries)
    start = time.perf_counter()
    total = gold_probs(log_probs_at(loaded, lm_head(loaded.model), batch), batch, len(queries)).sum()
    total.backward()
    took = time.perf_counter() - start
    loaded.model.zero_grad(set_to_none=True)
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=ROOT / "warehouse" / "data" / "models" / "tiny-bert")
    parser.add_argument("--facts", type=int, default=40)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    from knowledge_neurons import KnowledgeNeurons

    torch.set_num_threads(1)
    model_dir = build_tiny_model(ROOT / "sample", args.model, progress=True)
    loaded = load_model(str(model_dir), device="cpu")
    facts = single_token_facts(loaded, args.facts)
    queries = [q for _, _, q in facts]
    print(f"load average {os.getloadavg()[0]:.2f}; {len(facts)} single-token facts; m = {args.steps}; "
          f"threshold {THRESHOLD} x max; torch threads 1")

    peer = KnowledgeNeurons(loaded.model, loaded.tokenizer, model_type="bert", device="cpu")
    start = time.perf_counter()
    peer_scores = [peer.get_scores(prompt, obj, batch_size=args.steps, steps=args.steps, pbar=False)
                   for prompt, obj, _ in facts]
    peer_time = time.perf_counter() - start

    mine, my_time = ours(loaded, queries, args.steps, args.batch_size)
    midpoint = [jaccard(neurons(m, strict=False), neurons(p, strict=True)) for m, p in zip(mine, peer_scores)]

    rule = attribution.midpoints
    attribution.midpoints = lambda steps: torch.linspace(0, 1, steps)  # the package's step rule
    try:
        same_rule, _ = ours(loaded, queries, args.steps, args.batch_size)
    finally:
        attribution.midpoints = rule
    coinciding = [jaccard(neurons(m, strict=True), neurons(p, strict=True)) for m, p in zip(same_rule, peer_scores)]
    close = max((m - p).abs().max().item() / p.abs().max().item() for m, p in zip(same_rule, peer_scores))

    passes = [forward_backward(loaded, queries[i : i + args.batch_size]) for i in range(0, len(queries), args.batch_size)]
    n = len(facts)
    print(f"peer: {peer_time / n * 1000:.1f} ms per fact; ours: {my_time / n * 1000:.1f} ms per fact "
          f"(batches of {args.batch_size}): {peer_time / my_time:.1f}x faster")
    print(f"Jaccard per fact, our midpoint rule vs the package: mean {sum(midpoint) / n:.3f}, "
          f"min {min(midpoint):.3f}, facts identical {sum(j == 1.0 for j in midpoint)}/{n}")
    print(f"Jaccard per fact, our code on the package's rule: mean {sum(coinciding) / n:.3f}, "
          f"min {min(coinciding):.3f}; largest score difference {close:.1e} of the largest score")
    print(f"our attribution per batch = {my_time / sum(passes):.1f} x one forward + backward pass of the batch "
          f"(n_layers x m = {loaded.n_layers * args.steps} scaled copies per fact)")


if __name__ == "__main__":
    main()
