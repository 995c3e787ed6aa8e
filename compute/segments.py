"""Documents -> segments of at most N tokens of a tokenizer (special tokens not counted).

The rule: each document is tokenized once and cut into contiguous spans of at most `max_tokens`
tokens of the given tokenizer (a model with 512 positions takes 510 of them plus [CLS] and [SEP]).
A span that must be cut ends, within the second half of its window of `max_tokens` tokens, at the
last paragraph break, else the last sentence end (. ! ? followed by white space, or 。！？), else
the last start of a word of the tokenizer's pre-tokenizer, else at the window's end. A segment's
text is its span without the white space at either end: the segments, in order, are the document
with only white space removed at the cuts. n_tokens is the number of the document's tokens in the
span when both its ends are word starts (tokenizing the segment on its own gives the same with
WordPiece and SentencePiece); after a cut inside a word (a 。 with SentencePiece, whose words are
split at spaces only, or a window without any boundary) it is the segment tokenized on its own,
and the cut moves left until that fits.
"""
from __future__ import annotations

import hashlib
import re
from typing import Iterable, Iterator, NamedTuple, TypeVar

from compute.pool import ordered_map

Tag = TypeVar("Tag")
Spans = list[tuple[int, int, int]]   # a document's segments as (start, end, n_tokens)
_SENTENCE_END = re.compile(r"[.!?](?=\s)|[。！？]")


class Segment(NamedTuple):
    text: str
    start: int      # span in the document text, white space at either end excluded
    end: int
    n_tokens: int


def _backend(tokenizer):
    """The `tokenizers.Tokenizer` behind an HF fast tokenizer, never truncating or padding."""
    from tokenizers import Tokenizer

    backend = tokenizer if isinstance(tokenizer, Tokenizer) else getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not getattr(tokenizer, "is_fast", True):
        raise ValueError(f"{type(tokenizer).__name__}: a fast tokenizer (offset mappings) is needed")
    if backend.truncation is not None or backend.padding is not None:
        backend = Tokenizer.from_str(backend.to_str())
        backend.no_truncation()
        backend.no_padding()
    return backend


def _span(text: str, start: int, end: int, n_tokens: int) -> Segment:
    piece = text[start:end]
    stripped = piece.lstrip()
    start += len(piece) - len(stripped)
    stripped = stripped.rstrip()
    return Segment(stripped, start, start + len(stripped), n_tokens)


class _Encoded:
    """One tokenization of a document. Offsets are read token by token where a cut is looked for,
    never as a whole list (that would cost a tenth of the tokenizing)."""

    def __init__(self, backend, text: str):
        self.text = text
        self.encoding = backend.encode(text, add_special_tokens=False)
        self.n_tokens = len(self.encoding)

    def start(self, k: int) -> int:
        return self.encoding.token_to_chars(k)[0]

    def first_starting_at(self, char: int, lo: int, hi: int) -> int:
        """The first token k in [lo, hi] that starts at or after `char` (hi if none before it)."""
        while lo < hi:
            middle = (lo + hi) // 2
            if self.start(middle) < char:
                lo = middle + 1
            else:
                hi = middle
        return lo

    def is_word_start(self, k: int) -> bool:
        """Whether token k starts a word of the tokenizer's pre-tokenizer."""
        return self.encoding.token_to_word(k) != self.encoding.token_to_word(k - 1)

    def cut(self, first: int, last: int) -> int:
        """Where to end a segment (before token k, first <= k <= last): the last paragraph break, else
        the last sentence end, else the last word start, else `last`."""
        before = self.start(last)
        newline = self.text.rfind("\n", self.encoding.token_to_chars(first - 1)[1], before)
        if newline >= 0:
            return self.first_starting_at(newline + 1, first, last)
        sentence = None
        for sentence in _SENTENCE_END.finditer(self.text, self.start(first - 1), before):
            pass
        if sentence is not None:
            return self.first_starting_at(sentence.end(), first, last)
        return next((k for k in range(last, first - 1, -1) if self.is_word_start(k)), last)


def _n_tokens(backend, text: str) -> int:
    return len(backend.encode(text, add_special_tokens=False))


def segment(text: str, tokenizer, max_tokens: int = 512) -> Iterator[Segment]:
    """Cut a document into Segments of at most `max_tokens` tokens (special tokens not counted).

    `tokenizer`: an HF fast tokenizer or a `tokenizers.Tokenizer`. The rule is in the module doc."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
    backend = _backend(tokenizer)
    encoded = _Encoded(backend, text)
    n = encoded.n_tokens
    lo, lo_char, lo_clean = 0, 0, True        # first token of the next segment, its character, at a word start
    while True:
        if n - lo <= max_tokens:
            last = _span(text, lo_char, len(text), n - lo)
            if not lo_clean:
                last = last._replace(n_tokens=_n_tokens(backend, last.text))
            if last.n_tokens <= max_tokens or n - lo <= 1:
                if last.text:
                    yield last
                return
        end = min(lo + max_tokens, n - 1)
        k = encoded.cut(min(lo + max(1, max_tokens // 2), end), end)
        clean = encoded.is_word_start(k)
        piece = _span(text, lo_char, encoded.start(k), k - lo)
        if not (lo_clean and clean):          # a cut inside a word: count the piece on its own
            piece = piece._replace(n_tokens=_n_tokens(backend, piece.text))
            while piece.n_tokens > max_tokens and k > lo + 1:
                k = max(lo + 1, k - (piece.n_tokens - max_tokens))
                piece = _span(text, lo_char, encoded.start(k), 0)
                piece = piece._replace(n_tokens=_n_tokens(backend, piece.text))
                clean = encoded.is_word_start(k)
        if piece.text:                       # empty when tokens k-1 and k start at one character
            yield piece
        lo, lo_char, lo_clean = k, encoded.start(k), clean


def tokenizer_identity(tokenizer) -> tuple[str, str]:
    """`name@sha256[:12]` of the tokenizer's full definition (vocabulary, normaliser, ...), and that definition."""
    definition = _backend(tokenizer).to_str()
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    return f"{name}@{hashlib.sha256(definition.encode()).hexdigest()[:12]}", definition


_WORKER_TOKENIZER = None
_WORKER_MAX_TOKENS = 0


def _init_worker(definition: str, max_tokens: int) -> None:
    global _WORKER_TOKENIZER, _WORKER_MAX_TOKENS
    from tokenizers import Tokenizer

    _WORKER_TOKENIZER = _backend(Tokenizer.from_str(definition))
    _WORKER_MAX_TOKENS = max_tokens


def _segment_texts(texts: list[str]) -> list[tuple[int, Spans]]:
    """Per text: its UTF-8 size and its segments as (start, end, n_tokens)."""
    return [(len(text.encode("utf-8")),
             [(s.start, s.end, s.n_tokens) for s in segment(text, _WORKER_TOKENIZER, _WORKER_MAX_TOKENS)])
            for text in texts]


def segment_in_workers(tasks: Iterable[tuple[Tag, list[str]]], definition: str, max_tokens: int,
                       workers: int | None = None) -> Iterator[tuple[Tag, list[tuple[int, Spans]]]]:
    """For each (tag, texts), in order: the tag and, per text, its UTF-8 size and its segments as
    (start, end, n_tokens). `definition`: a tokenizer's JSON (from tokenizer_identity); the work is
    spread over compute.pool.ordered_map's workers (default: all cores; 1: this process)."""
    return ordered_map(_segment_texts, tasks, _init_worker, (definition, max_tokens), workers)
