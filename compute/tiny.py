"""Small LMs trained offline on the sample's wiki text: a BERT masked LM (the project's stand-in for
mBERT) and a GPT-2 causal LM (the stand-in for a decoder such as mGPT), each cached in its folder."""

import hashlib
import json
import random
import re
import shutil
import tempfile
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, trainers
from tokenizers.models import BPE, WordPiece
from tqdm import tqdm
from transformers import (BertConfig, BertForMaskedLM, BertTokenizer, GPT2Config, GPT2LMHeadModel,
                          PreTrainedTokenizerFast)

STAMP = "factroots_tiny.json"
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
HPARAMS = {
    "vocab_size": 1400,
    "hidden_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 512,
    "max_position_embeddings": 128,
    "max_len": 64,
    "batch_size": 32,
    "lr": 1e-3,
    "warmup": 0.05,
    "entity_mask_prob": 0.5,
    "word_mask_prob": 0.15,
    # Step count per requested second: about real time on a 2-core CPU. A fixed step count keeps
    # the weights a function of sample, settings and seed, whatever the machine's speed.
    "steps_per_second": 30.0,
}
CAUSAL_HPARAMS = {
    "vocab_size": 2000,
    "n_embd": 128,
    "n_layer": 4,
    "n_head": 4,
    "n_inner": 512,
    "n_positions": 128,
    "max_len": 64,
    "batch_size": 32,
    "lr": 2e-3,
    "warmup": 0.05,
    # Step count per requested second, as HPARAMS: about real time on one core of a 2-core CPU
    # (length-sorted batches); 600 steps learn about half the sample's facts
    "steps_per_second": 10.0,
}
EOS = "<|endoftext|>"


def build_tiny_model(sample_dir: Path, out_dir: Path, seconds: float = 60.0, seed: int = 0,
                     progress: bool = True) -> Path:
    """Train a WordPiece tokenizer and a BERT masked LM on `sample_dir` into `out_dir` and return `out_dir`.

    Returns at once when `out_dir` already holds the build of these inputs (sample files, settings,
    seed, code). `seconds` sets the number of training steps (HPARAMS["steps_per_second"] each)."""
    return _build(sample_dir, out_dir, seconds, seed, progress, "masked")


def build_tiny_causal_model(sample_dir: Path, out_dir: Path, seconds: float = 60.0, seed: int = 0,
                            progress: bool = True) -> Path:
    """Train a byte-level BPE tokenizer and a GPT-2 causal LM on `sample_dir` into `out_dir`, as
    build_tiny_model does (CAUSAL_HPARAMS["steps_per_second"] steps per second)."""
    return _build(sample_dir, out_dir, seconds, seed, progress, "causal")


def _build(sample_dir: Path, out_dir: Path, seconds: float, seed: int, progress: bool, family: str) -> Path:
    sample_dir, out_dir = Path(sample_dir), Path(out_dir)
    hparams = HPARAMS if family == "masked" else CAUSAL_HPARAMS
    steps = max(1, round(seconds * hparams["steps_per_second"]))
    stamp = _stamp(sample_dir, family, steps, seed)
    stamp_file = out_dir / STAMP
    if stamp_file.exists() and json.loads(stamp_file.read_text())["hash"] == stamp:
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()) and not stamp_file.exists():
        raise FileExistsError(f"{out_dir} is not empty and holds no tiny model; refusing to replace it")
    sentences, labels, templates = _read_sample(sample_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        start = time.monotonic()
        if family == "masked":
            tokenizer = _train_tokenizer(sentences + labels + templates)
            model = _train_model(tokenizer, sentences, labels, steps, seed, progress)
        else:
            tokenizer = _train_bpe_tokenizer(sentences + labels + templates)
            model = _train_causal_model(tokenizer, sentences, steps, seed, progress)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        took = round(time.monotonic() - start, 1)
        (tmp / STAMP).write_text(json.dumps({"hash": stamp, "family": family, "steps": steps, "seed": seed,
                                             "train_seconds": took}))
        _replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _sample_files(sample_dir: Path) -> list[Path]:
    return sorted(p for sub in ("mlama", "wiki") for p in (sample_dir / sub).rglob("*") if p.is_file())


def _stamp(sample_dir: Path, family: str, steps: int, seed: int) -> str:
    """Hash of everything the build depends on: sample files, family, settings, seed and this module's code."""
    h = hashlib.sha256(json.dumps([family, HPARAMS, CAUSAL_HPARAMS, steps, seed]).encode())
    h.update(Path(__file__).read_bytes())
    for path in _sample_files(sample_dir):
        h.update(path.relative_to(sample_dir).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _read_sample(sample_dir: Path) -> tuple[list[str], list[str], list[str]]:
    """Sentences of the wiki text (WikiExtractor --json), and the fact labels and templates of every language."""
    sentences, labels, templates = [], set(), []
    for path in sorted((sample_dir / "wiki").rglob("wiki_*")):
        for line in filter(str.strip, path.read_text(encoding="utf-8").splitlines()):
            sentences += [s for s in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"].replace("\n", " ")) if s]
    for path in sorted((sample_dir / "mlama").rglob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if path.name == "templates.jsonl":
            templates += [r["template"].replace("[X]", " ").replace("[Y]", " ") for r in rows]
        else:
            labels |= {r[k] for r in rows for k in ("sub_label", "obj_label") if r[k]}
    if not sentences:
        raise ValueError(f"no wiki text under {sample_dir / 'wiki'}")
    return sentences, sorted(labels), templates


def _train_tokenizer(texts: list[str]) -> BertTokenizer:
    """A cased WordPiece vocabulary learnt from `texts`, wrapped as a fast BERT tokenizer.

    Every character and its "##" continuation are declared up front, in sorted order: the trainer
    then numbers them, and so breaks ties between merges, the same way on every run."""
    chars = sorted({c for text in texts for c in text if not c.isspace()})
    tok = Tokenizer(WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=HPARAMS["vocab_size"],
                                        special_tokens=SPECIAL + chars + ["##" + c for c in chars])
    tok.train_from_iterator(texts, trainer)
    return BertTokenizer(vocab=tok.get_vocab(), do_lower_case=False, strip_accents=False,
                         model_max_length=HPARAMS["max_position_embeddings"])


def _examples(tokenizer: BertTokenizer, sentences: list[str], labels: list[str]) -> list[tuple]:
    """Per sentence: token ids, the positions of each whole word, and the positions of each label mention."""
    alternatives = (re.escape(label) for label in sorted(labels, key=len, reverse=True))
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")
    enc = tokenizer(sentences, truncation=True, max_length=HPARAMS["max_len"], return_offsets_mapping=True)
    examples = []
    for i, sentence in enumerate(sentences):
        ids, offsets, word_ids = enc["input_ids"][i], enc["offset_mapping"][i], enc.word_ids(i)
        words: dict[int, list[int]] = {}
        for pos, w in enumerate(word_ids):
            if w is not None:
                words.setdefault(w, []).append(pos)
        spans = []
        for m in pattern.finditer(sentence):
            span = [p for p, (a, b) in enumerate(offsets)
                    if word_ids[p] is not None and a >= m.start() and b <= m.end()]
            if span:
                spans.append(span)
        examples.append((ids, list(words.values()), spans))
    return examples


def _batch(examples, rng: random.Random, tokenizer: BertTokenizer) -> dict[str, torch.Tensor]:
    """Pad a batch and mask it: a whole label mention (entity masking) or whole words at random."""
    width = max(len(ids) for ids, _, _ in examples)
    input_ids = torch.full((len(examples), width), tokenizer.pad_token_id)
    target = torch.full((len(examples), width), -100)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, words, spans) in enumerate(examples):
        input_ids[row, :len(ids)] = torch.tensor(ids)
        attention[row, :len(ids)] = 1
        if spans and rng.random() < HPARAMS["entity_mask_prob"]:
            masked = rng.choice(spans)
        else:
            chosen = [w for w in words if rng.random() < HPARAMS["word_mask_prob"]] or [rng.choice(words)]
            masked = [p for w in chosen for p in w]
        target[row, masked] = input_ids[row, masked]
        input_ids[row, masked] = tokenizer.mask_token_id
    return {"input_ids": input_ids, "attention_mask": attention, "labels": target}


def _train_model(tokenizer: BertTokenizer, sentences: list[str], labels: list[str], steps: int, seed: int,
                 progress: bool) -> BertForMaskedLM:
    """Masked-LM training for a fixed number of steps, seeded."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    config = BertConfig(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
        **{k: HPARAMS[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                   "intermediate_size", "max_position_embeddings")})
    model = BertForMaskedLM(config)
    examples = _examples(tokenizer, sentences, labels)
    order: list[int] = []

    def next_batch() -> dict[str, torch.Tensor]:  # every example once per epoch, in a seeded order
        if len(order) < HPARAMS["batch_size"]:
            order.extend(rng.sample(range(len(examples)), len(examples)))
        batch = [examples[i] for i in order[:HPARAMS["batch_size"]]]
        del order[:HPARAMS["batch_size"]]
        return _batch(batch, rng, tokenizer)

    return _fit(model, next_batch, steps, HPARAMS, "training tiny model", progress)


def _fit(model, next_batch, steps: int, hparams: dict, desc: str, progress: bool):
    """`steps` AdamW steps on model(**next_batch()).loss, the learning rate warmed up then decayed linearly."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=hparams["lr"], weight_decay=0.01)
    warmup = max(1, int(steps * hparams["warmup"]))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    model.train()
    bar = tqdm(range(steps), desc=desc, disable=not progress)
    for _ in bar:
        loss = model(**next_batch()).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    model.eval()
    return model


def _train_bpe_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """A GPT-2-style byte-level BPE learnt from `texts` (a word's leading space is part of its first
    token); EOS ends a text and pads."""
    tok = Tokenizer(BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=CAUSAL_HPARAMS["vocab_size"], special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS,
                                   model_max_length=CAUSAL_HPARAMS["n_positions"])


def _train_causal_model(tokenizer: PreTrainedTokenizerFast, sentences: list[str], steps: int, seed: int,
                        progress: bool) -> GPT2LMHeadModel:
    """Next-token training on the sentences, each ended by EOS, for a fixed number of steps, seeded."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    hp = CAUSAL_HPARAMS
    config = GPT2Config(vocab_size=len(tokenizer), bos_token_id=tokenizer.eos_token_id,
                        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        **{k: hp[k] for k in ("n_embd", "n_layer", "n_head", "n_inner", "n_positions")})
    model = GPT2LMHeadModel(config)
    examples = [ids[: hp["max_len"]] for ids in tokenizer([s + EOS for s in sentences]).input_ids]

    batches: list[list[list[int]]] = []

    def next_batch() -> dict[str, torch.Tensor]:  # every sentence once per epoch, padded on the right
        if not batches:  # a new epoch; sentences of similar length share a batch (half the padding of random ones)
            by_length = sorted(rng.sample(examples, len(examples)), key=len)
            batches.extend(by_length[i : i + hp["batch_size"]] for i in range(0, len(by_length), hp["batch_size"]))
            rng.shuffle(batches)
        batch = batches.pop()
        labels = torch.full((len(batch), max(map(len, batch))), -100)
        for row, ids in enumerate(batch):
            labels[row, :len(ids)] = torch.tensor(ids)
        real = labels != -100
        input_ids = labels.where(real, tokenizer.pad_token_id)
        return {"input_ids": input_ids, "attention_mask": real.long(), "labels": labels}

    return _fit(model, next_batch, steps, hp, "training tiny causal model", progress)


def _replace(tmp: Path, out_dir: Path) -> None:
    """Move the finished build into place; `out_dir` never holds a half-written model."""
    tmp.chmod(0o755)
    for path in tmp.iterdir():
        path.chmod(0o644)
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
        out_dir.rename(old / "model")
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out_dir)
