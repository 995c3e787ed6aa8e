"""Decoder probe speed: factroots' causal probe vs a bare batched forward pass of the same model, in one run.

A randomly initialised model of Qwen2.5-0.5B's published shape (24 layers, hidden 896, FFN 4864,
14 heads, 2 key/value heads, 151,936 tied embeddings) probes real English mLAMA facts. Its
tokenizer is a byte-level BPE trained here on the English facts' sentences (a real one cannot be
downloaded), its vocabulary padded with unreachable entries to the model's. The bare pass is
`model(**batch)` (logits at every position) over each fact's prompt + object tokens, length-sorted
and cut into plain chunks of the batch size, timed without tokenization; the probe's time includes
building the queries and decoding the predictions. The probe cuts its batches where they pad least
(compute.probe.least_padding_batches, as many batches as plain chunks); to tell that saving from
the probe's own (one token less per fact, the LM head at the predicting positions only), the bare
pass is also timed on batches cut the same way, and the decoder's body alone (no LM head) on the
probe's own inputs: the floor of any exact probe of these batches. They alternate over a few
slices of the facts so that a change in the machine's load hits all alike.

    .venv/bin/python bench/causal_probe_speed.py --facts 300 --batch-size 32 --threads 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.probe_speed import SHARED, read_facts  # noqa: E402
from compute.models import wrap_model  # noqa: E402
from compute.probe import least_padding_batches, probe  # noqa: E402
from compute.queries import QueryError, build_causal_query  # noqa: E402

QWEN25_05B = dict(vocab_size=151_936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                  num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32_768,
                  rope_theta=1_000_000.0, tie_word_embeddings=True)


def english_sentences(mlama: Path) -> list[str]:
    """Every English fact's template filled with its labels."""
    with (mlama / "en" / "templates.jsonl").open(encoding="utf-8") as f:
        templates = {t["relation"]: t["template"] for t in map(json.loads, f)}
    sentences = []
    for relation, template in templates.items():
        path = mlama / "en" / f"{relation}.jsonl"
        if path.exists():
            with path.open(encoding="utf-8") as f:
                for row in map(json.loads, f):
                    sentences.append(template.replace("[X]", row["sub_label"]).replace("[Y]", row["obj_label"]))
    return sentences


def byte_level_tokenizer(sentences: list[str], vocab_size: int, padded_to: int):
    """A byte-level BPE of `vocab_size` learnt from `sentences`, padded to `padded_to` entries that no merge reaches."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    learnt = Tokenizer(models.BPE())
    learnt.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    learnt.train_from_iterator(sentences, trainer)
    state = json.loads(learnt.to_str())["model"]
    vocab = dict(state["vocab"])
    vocab.update({f"<|unused_{i}|>": i for i in range(len(vocab), padded_to)})
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m) for m in state["merges"]]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.add_special_tokens(["<|endoftext|>"])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


# name: (cut where the probe cuts, the object's last token fed, the LM head applied)
PASSES = {
    "bare forward, plain chunks": (False, True, True),
    "bare forward, the probe's cuts": (True, True, True),
    "decoder body alone on the probe's inputs": (True, False, False),
}


def bare_batches(loaded, facts: list[dict], batch_size: int, least_padding: bool,
                 last_token: bool) -> list[dict[str, torch.Tensor]]:
    """Each probed fact's prompt + object tokens (less the object's last without `last_token`: the
    probe's input), length-sorted and padded into ceil(n / batch_size) batches: plain chunks, or with
    `least_padding` cut where the probe cuts its own."""
    texts = []
    for f in facts:
        try:
            query = build_causal_query(loaded.tokenizer, f["template"], f["sub_label"], f["obj_label"],
                                       loaded.max_length)
        except QueryError:
            continue
        texts.append(query.input_ids + query.gold_ids[-1:] if last_token else query.input_ids)
    texts.sort(key=len)
    if least_padding:  # with or without the last token, the same cuts pad least
        ends = least_padding_batches(list(map(len, texts)), batch_size)
    else:
        ends = [min(end, len(texts)) for end in range(batch_size, len(texts) + batch_size, batch_size)]
    batches = []
    for start, end in zip([0, *ends], ends):
        chunk = texts[start:end]
        width = max(map(len, chunk))
        ids = torch.full((len(chunk), width), loaded.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for b, tokens in enumerate(chunk):
            ids[b, : len(tokens)] = torch.tensor(tokens)
            mask[b, : len(tokens)] = 1
        batches.append({"input_ids": ids, "attention_mask": mask})
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facts", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bpe-vocab", type=int, default=32_000, help="merges learnt from the English facts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="probe and bare pass alternate over this many slices")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (on a shared machine more threads than free cores time their contention)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import Qwen2Config, Qwen2ForCausalLM

    mlama = SHARED / "mlama1.1"
    with (mlama / "en" / "templates.jsonl").open(encoding="utf-8") as f:
        relations = [t["relation"] for t in map(json.loads, f)]
    facts = read_facts(mlama, ["en"], relations, args.facts, args.seed)
    started = time.perf_counter()
    tokenizer = byte_level_tokenizer(english_sentences(mlama), args.bpe_vocab, QWEN25_05B["vocab_size"])
    tokenizer_s = time.perf_counter() - started
    torch.manual_seed(args.seed)
    model = Qwen2ForCausalLM(Qwen2Config(**QWEN25_05B))
    loaded = wrap_model(model, tokenizer, "random-qwen2.5-0.5b", device="cpu")
    n_params = sum(p.numel() for p in model.parameters())

    list(probe(loaded, facts[: args.batch_size], batch_size=args.batch_size, progress=False))  # warm-up

    rows, probe_s = [], 0.0
    batches, bare_s = {name: [] for name in PASSES}, dict.fromkeys(PASSES, 0.0)
    for chunk in (facts[i :: args.rounds] for i in range(args.rounds)):
        started = time.perf_counter()
        for batch in probe(loaded, chunk, batch_size=args.batch_size, progress=False):
            rows += batch.to_pylist()
        probe_s += time.perf_counter() - started

        for name, (least_padding, last_token, head) in PASSES.items():
            chunk_batches = bare_batches(loaded, chunk, args.batch_size, least_padding, last_token)
            started = time.perf_counter()
            with torch.inference_mode():
                for batch in chunk_batches:
                    (model if head else model.model)(**batch)
            bare_s[name] += time.perf_counter() - started
            batches[name] += chunk_batches

    probed = [r for r in rows if r["skip_reason"] is None]
    reasons = sorted({r["skip_reason"] for r in rows} - {None})
    tokens = {name: sum(int(b["attention_mask"].sum()) for b in batches[name]) for name in PASSES}
    padding = {name: 1 - tokens[name] / sum(b["attention_mask"].numel() for b in batches[name]) for name in PASSES}
    bare = "bare forward, plain chunks"
    print(f"model: random Qwen2.5-0.5B shape, {n_params / 1e6:.0f}M parameters; "
          f"tokenizer: {args.bpe_vocab:,} learnt entries, trained in {tokenizer_s:.1f} s")
    print(f"facts: {len(facts)} (en), probed {len(probed)}, skipped {len(rows) - len(probed)} ({', '.join(reasons)})")
    print(f"tokens: {tokens[bare] / len(probed):.1f} per prompt + object, "
          f"object tokens {sum(r['n_mask_tokens'] for r in probed) / len(probed):.2f} per fact")
    print(f"batch size {args.batch_size}, {args.rounds} alternating rounds, {torch.get_num_threads()} threads")
    print(f"probe: {probe_s:.1f} s, {len(facts) / probe_s:.2f} facts/s")
    for name in PASSES:
        print(f"{name}: {bare_s[name]:.1f} s, {len(probed) / bare_s[name]:.2f} facts/s, padding {padding[name]:.1%}, "
              f"probe / this {probe_s / bare_s[name]:.2f}, this / {bare} {bare_s[name] / bare_s[bare]:.2f}")
    print(f"ratio probe / bare forward: {probe_s / bare_s[bare]:.2f}")


if __name__ == "__main__":
    main()
