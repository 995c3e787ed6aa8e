"""Knowledge tracing (METHOD.md): is a fact's subject and object named together in some segment?

A fact is present in a corpus when one segment contains both its normalised sub_label and its
normalised obj_label as substrings: plain substrings, so "Paris" counts inside "Parisian", and a
fact whose object label is part of its subject label is present wherever the subject is named.
One pass over the segments finds every fact: an Aho-Corasick automaton (ahocorasick_rs, on UTF-8
bytes, overlapping matches) over all distinct labels gives the labels in each segment, and a fact is
hit when both its labels are in one segment. The segments of a chunk are matched in one call, joined
by NUL bytes (a match across a join is dropped), and the labels found are paired into facts with
numpy, not a Python loop per label. One-character labels are tested with `in`, as the automaton
would report them at nearly every position. A label that normalises to "" is never found.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from itertools import chain
from typing import Iterable, NamedTuple

import numpy as np

from compute.pool import chunks, ordered_map

_CHUNK_CHARS = 4_000_000   # segment text sent to a worker at a time


@lru_cache(maxsize=1)
def _to_simplified():
    import opencc

    return opencc.OpenCC("t2s")


def _is_chinese(lang: str) -> bool:
    return lang == "zh" or lang.startswith(("zh-", "zh_"))


def normalise(text: str, lang: str) -> str:
    """Unicode NFKC, then case folding; Chinese (zh, zh-*) also converted to simplified characters (OpenCC t2s)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _to_simplified().convert(text) if _is_chinese(lang) else text


class TraceRow(NamedTuple):
    uuid: str
    n_segments: int                   # segments containing both labels
    example_segment_id: int | None    # the smallest of them
    present: bool


class Tracer:
    """The facts of one language, ready to be looked for in chunks of segments."""

    def __init__(self, facts: list[tuple[str, str, str]], lang: str):
        import ahocorasick_rs

        self.lang = lang
        pairs = [(normalise(sub, lang), normalise(obj, lang)) for _, sub, obj in facts]
        labels = {label for pair in pairs for label in pair if label}
        # Label ids: those of the automaton's patterns first, so that a match's pattern index is the id.
        longer = sorted(label for label in labels if len(label) > 1)
        self.single = [(label, len(longer) + i) for i, label in enumerate(sorted(labels - set(longer)))]
        self.n_labels = len(labels)
        label_ids = {label: i for i, label in enumerate(longer)} | dict(self.single)
        self.automaton = ahocorasick_rs.BytesAhoCorasick([label.encode() for label in longer]) if longer else None
        # The facts sorted by subject label: label s is the subject of rows sub_rows[s] .. sub_rows[s + 1] - 1.
        named = sorted((label_ids[sub], label_ids[obj], fact) for fact, (sub, obj) in enumerate(pairs) if sub and obj)
        subs = np.array([s for s, _, _ in named], dtype=np.int64)
        self.sub_rows = np.searchsorted(subs, np.arange(self.n_labels + 1))
        self.fact_ids = np.array([f for _, _, f in named], dtype=np.int64)
        self.obj_ids = np.array([o for _, o, _ in named], dtype=np.int64)

    def _present(self, texts: list[str]):
        """Sorted keys position * n_labels + label of the labels in each normalised text."""
        keys = [np.array([i * self.n_labels + label for i, text in enumerate(texts)
                          for one, label in self.single if one in text], dtype=np.int64)]
        if self.automaton is not None and texts:
            encoded = [text.encode() for text in texts]
            sizes = np.array([len(b) for b in encoded])
            ends = np.cumsum(sizes + 1) - 1                             # texts joined by \0: where each ends
            starts = ends - sizes
            matches = self.automaton.find_matches_as_indexes(b"\0".join(encoded), overlapping=True)
            found = np.fromiter(chain.from_iterable(matches), np.int64, 3 * len(matches)).reshape(-1, 3)
            where = np.searchsorted(ends, found[:, 1], side="right")  # the text a match starts in ...
            inside = (found[:, 1] >= starts[where]) & (found[:, 2] <= ends[where])  # ... and ends in
            keys.append(where[inside] * self.n_labels + found[inside, 0])
        keys = np.sort(np.concatenate(keys))
        return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys

    def count_normalised(self, segment_ids: list[int], texts: list[str]) -> dict[int, list[int]]:
        """count() of segments whose texts are normalised already."""
        keys = self._present(texts)
        position, label = np.divmod(keys, self.n_labels)
        n_facts = self.sub_rows[label + 1] - self.sub_rows[label]            # facts whose subject it is
        first_row = np.repeat(self.sub_rows[label] - (np.cumsum(n_facts) - n_facts), n_facts)
        rows = first_row + np.arange(n_facts.sum())                     # those facts, text by text
        at = np.repeat(position, n_facts)
        wanted = at * self.n_labels + self.obj_ids[rows]                # their objects in the same text
        hit = keys[np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)] == wanted
        if not hit.any():
            return {}
        facts, ids = self.fact_ids[rows[hit]], np.asarray(segment_ids, dtype=np.int64)[at[hit]]
        order = np.lexsort((ids, facts))
        facts, ids = facts[order], ids[order]
        first = np.flatnonzero(np.r_[True, facts[1:] != facts[:-1]])
        counts = np.diff(np.r_[first, len(facts)])
        return {int(f): [int(n), int(i)] for f, n, i in zip(facts[first], counts, ids[first])}

    def count(self, segments: Iterable[tuple[int, str]]) -> dict[int, list[int]]:
        """fact index -> [number of segments with both labels, smallest such segment id]."""
        ids, texts = [], []
        for segment_id, text in segments:
            ids.append(segment_id)
            texts.append(normalise(text, self.lang))
        return self.count_normalised(ids, texts)


def _merge(total: dict[int, list[int]], part: dict[int, list[int]]) -> None:
    for fact, (n, first) in part.items():
        hit = total.get(fact)
        if hit is None:
            total[fact] = [n, first]
        else:
            hit[0] += n
            hit[1] = min(hit[1], first)


def _rows(facts: list[tuple[str, str, str]], hits: dict[int, list[int]]) -> list[TraceRow]:
    return [TraceRow(uuid, *hits.get(i, (0, None)), i in hits) for i, (uuid, _, _) in enumerate(facts)]


def _text_size(segment: tuple[int, str]) -> int:
    return len(segment[1])


def trace(segments: Iterable[tuple[int, str]], facts: Iterable[tuple[str, str, str]], lang: str) -> list[TraceRow]:
    """One TraceRow per fact (uuid, sub_label, obj_label), in the facts' order, from one pass over
    the (segment_id, text) pairs of a language's corpus, matched a chunk at a time (memory stays flat)."""
    facts = list(facts)
    tracer, hits = Tracer(facts, lang), {}
    for chunk in chunks(segments, _text_size, _CHUNK_CHARS):
        _merge(hits, tracer.count(chunk))
    return _rows(facts, hits)


_WORKER_TRACER: Tracer | None = None


def _init_worker(facts: list[tuple[str, str, str]], lang: str) -> None:
    global _WORKER_TRACER
    _WORKER_TRACER = Tracer(facts, lang)


def _count_chunk(chunk: list[tuple[int, str]]) -> dict[int, list[int]]:
    return _WORKER_TRACER.count(chunk)


def trace_parallel(segments: Iterable[tuple[int, str]], facts: Iterable[tuple[str, str, str]], lang: str,
                   workers: int | None = None) -> list[TraceRow]:
    """trace() over compute.pool.ordered_map's worker processes (all cores by default): chunks of
    segments go to the workers, at most two per worker in flight, so memory stays flat however many
    segments come in (stream them, e.g. from a DuckDB cursor with fetchmany); their counts are
    merged. Workers are spawned, not forked: a script calling this needs the
    `if __name__ == "__main__":` guard."""
    facts = list(facts)
    hits: dict[int, list[int]] = {}
    tasks = ((None, chunk) for chunk in chunks(segments, _text_size, _CHUNK_CHARS))
    for _, part in ordered_map(_count_chunk, tasks, _init_worker, (facts, lang), workers):
        _merge(hits, part)
    return _rows(facts, hits)


def _token_ids(tokenizer, text: str) -> set[int]:
    """Ids of a text's tokens, special tokens excluded (HF tokenizer or `tokenizers.Tokenizer`): the
    text tokenized on its own, and as a word after a space, less the tokens that are only white space.

    The second form matters where a word-initial token carries its space and a text's first word gets
    none (byte-level BPEs: GPT-2, Qwen, LLaMA 3, BLOOM; Gemma): "Rome" after a space is "ĠRome", as in
    "Allan Rome". WordPiece and SentencePiece with a prefix space give the same tokens both ways."""
    def encode(piece: str) -> list[int]:
        if hasattr(tokenizer, "all_special_ids"):
            return tokenizer(piece, add_special_tokens=False)["input_ids"]
        return tokenizer.encode(piece, add_special_tokens=False).ids

    if hasattr(tokenizer, "all_special_ids"):
        special = set(tokenizer.all_special_ids)
    else:
        special = {i for i, token in tokenizer.get_added_tokens_decoder().items() if token.special}
    after_space = {i for i in encode(" " + text) if tokenizer.decode([i]).strip()}
    return (set(encode(text)) | after_space) - special


def shared_entity_tokens(sub_label: str, obj_label: str, tokenizer, lang: str) -> bool:
    """Absence reason 1 (METHOD.md): the normalised obj_label is a substring of the normalised
    sub_label, or the two labels, tokenized on their own (and as words after a space: _token_ids),
    share at least one subword token (any token, punctuation and word pieces included)."""
    obj = normalise(obj_label, lang)
    if obj and obj in normalise(sub_label, lang):
        return True
    return bool(_token_ids(tokenizer, sub_label) & _token_ids(tokenizer, obj_label))
