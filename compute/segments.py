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

Speed: a BERT-style WordPiece tokenizer (mBERT's) is not run over the whole document: its pre-tokenizer
costs more than the rest (its offsets). The document is split into words by character classes learned
from the tokenizer, and each distinct word is tokenized once (_WordPieces): the same tokens and
offsets, several times faster. Other tokenizers, and documents holding what that split cannot
reproduce, are tokenized whole (_Encoded).
"""
from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from itertools import accumulate, compress, count, repeat
from operator import is_
from typing import Iterable, Iterator, NamedTuple, TypeVar
from weakref import WeakKeyDictionary, proxy

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
    """The `tokenizers.Tokenizer` behind an HF fast tokenizer, never truncating or padding (a copy, made
    once, of one that does)."""
    from tokenizers import Tokenizer

    backend = tokenizer if isinstance(tokenizer, Tokenizer) else getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not getattr(tokenizer, "is_fast", True):
        raise ValueError(f"{type(tokenizer).__name__}: a fast tokenizer (offset mappings) is needed")
    if backend.truncation is None and backend.padding is None:
        return backend
    if backend not in _UNTRUNCATED:   # one copy per tokenizer: it keeps its learned words (_WordPieces)
        copy = _UNTRUNCATED[backend] = Tokenizer.from_str(backend.to_str())
        copy.no_truncation()
        copy.no_padding()
    return _UNTRUNCATED[backend]


_UNTRUNCATED: WeakKeyDictionary = WeakKeyDictionary()   # a tokenizer that truncates or pads -> its copy that does not


def _span(text: str, start: int, end: int, n_tokens: int) -> Segment:
    piece = text[start:end]
    stripped = piece.lstrip()
    start += len(piece) - len(stripped)
    stripped = stripped.rstrip()
    return Segment(stripped, start, start + len(stripped), n_tokens)


class _Tokens:
    """A document's tokens, where the cut rule looks for a cut: subclasses give `text`, `n_tokens`,
    start(k) and end(k) (token k's characters) and is_word_start(k)."""

    def first_starting_at(self, char: int, lo: int, hi: int) -> int:
        """The first token k in [lo, hi] that starts at or after `char` (hi if none before it)."""
        while lo < hi:
            middle = (lo + hi) // 2
            if self.start(middle) < char:
                lo = middle + 1
            else:
                hi = middle
        return lo

    def cut(self, first: int, last: int) -> int:
        """Where to end a segment (before token k, first <= k <= last): the last paragraph break, else
        the last sentence end, else the last word start, else `last`."""
        before = self.start(last)
        newline = self.text.rfind("\n", self.end(first - 1), before)
        if newline >= 0:
            return self.first_starting_at(newline + 1, first, last)
        sentence = None
        for sentence in _SENTENCE_END.finditer(self.text, self.start(first - 1), before):
            pass
        if sentence is not None:
            return self.first_starting_at(sentence.end(), first, last)
        return next((k for k in range(last, first - 1, -1) if self.is_word_start(k)), last)


class _Encoded(_Tokens):
    """One tokenization of a document by the tokenizer. Offsets are read token by token where a cut
    is looked for, never as a whole list (that would cost a tenth of the tokenizing)."""

    def __init__(self, backend, text: str):
        self.text = text
        self.encoding = backend.encode(text, add_special_tokens=False)
        self.n_tokens = len(self.encoding)

    def start(self, k: int) -> int:
        return self.encoding.token_to_chars(k)[0]

    def end(self, k: int) -> int:
        return self.encoding.token_to_chars(k)[1]

    def is_word_start(self, k: int) -> bool:
        """Whether token k starts a word of the tokenizer's pre-tokenizer."""
        return self.encoding.token_to_word(k) != self.encoding.token_to_word(k - 1)


class _Words(_Tokens):
    """A document's tokens from its pieces' tokens: `piece_start` (each piece's first character, then
    the text's length) and per piece its tokens' (start, end) within it; a piece holds at most one word
    of the pre-tokenizer."""

    def __init__(self, text: str, piece_start: list[int], tokens: list[tuple[tuple[int, int], ...]]):
        self.text, self.piece_start, self.tokens = text, piece_start, tokens
        self.first_token = list(accumulate(map(len, tokens), initial=0))   # of each piece
        self.n_tokens = self.first_token[-1]

    def _where(self, k: int) -> tuple[int, tuple[int, int]]:
        piece = bisect_right(self.first_token, k) - 1
        return self.piece_start[piece], self.tokens[piece][k - self.first_token[piece]]

    def start(self, k: int) -> int:
        at, (start, _) = self._where(k)
        return at + start

    def end(self, k: int) -> int:
        at, (_, end) = self._where(k)
        return at + end

    def is_word_start(self, k: int) -> bool:
        return self.first_token[bisect_right(self.first_token, k) - 1] == k


class _WordPieces:
    """Tokenizes documents piece by piece for a BERT-style WordPiece tokenizer, each distinct piece once.

    Such a tokenizer treats each character by its class alone: removed by the normaliser, white space,
    isolated (punctuation; CJK ideographs, which the normaliser pads with spaces) or word character.
    The classes are learned from the tokenizer itself, for a block of 256 code points when one of them
    is first seen. A document is cut into pieces (a word: a run of word and removed characters, or one
    isolated character; with the white space after it), and a piece's tokens are the tokenizer's on
    that piece alone. A document holding a character of no class (one the normaliser changes
    otherwise) or an added token's text is left to _Encoded."""

    MAX_CACHED = 1 << 18   # pieces whose tokens are kept (the cache starts again past it)

    @classmethod
    def of(cls, backend) -> _WordPieces | None:
        """The instance for a tokenizer (kept while it lives; it must not change once used), None if it
        is not of that kind."""
        if backend not in _WORD_PIECES:
            _WORD_PIECES[backend] = cls(backend) if cls._fits(backend) else None
        return _WORD_PIECES[backend]

    @staticmethod
    def _fits(backend) -> bool:
        from tokenizers import models, normalizers, pre_tokenizers

        normalizer = backend.normalizer
        return (isinstance(normalizer, normalizers.BertNormalizer) and not normalizer.lowercase
                and not normalizer.strip_accents and isinstance(backend.pre_tokenizer, pre_tokenizers.BertPreTokenizer)
                and isinstance(backend.model, models.WordPiece)
                and not any(t.normalized for t in backend.get_added_tokens_decoder().values())
                and _pre_tokenized(backend, "a") == ["a"] and _pre_tokenized(backend, "aa") == ["aa"])

    def __init__(self, backend):
        self.backend = proxy(backend)   # not a reference: _WORD_PIECES lets go of the tokenizer with its last one
        self.added = [t.content for t in backend.get_added_tokens_decoder().values()]
        self.blocks: set[int] = set()   # blocks of 256 code points learned
        self.ranges: dict[str, list[list[int]]] = {"white": [], "isolated": [], "word": [], "removed": []}
        self.cache: dict[str, tuple[tuple[int, int], ...]] = {}
        self.shapes: dict[tuple, tuple] = {}   # one object per distinct token offsets
        self._compile()

    def _compile(self) -> None:
        white, isolated, word = (_char_class(self.ranges[kind]) for kind in ("white", "isolated", "word"))
        in_word = _char_class(self.ranges["word"] + self.ranges["removed"])
        self.pattern = re.compile(f"{in_word}+{white}*|{isolated}{white}*|{white}+")
        self.plain = re.compile(f"({word}+|{isolated}){white}*")   # a piece the normaliser leaves as it is

    def _learn(self, block: int) -> None:
        """Learn the classes of a block's characters."""
        for code in range(block << 8, (block + 1) << 8):
            ranges = self.ranges.get(self._class(chr(code)))
            if ranges is not None and ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            elif ranges is not None:
                ranges.append([code, code])
        self.blocks.add(block)

    def _class(self, char: str) -> str | None:
        """A character's class, from the words the tokenizer makes of a, it, a, it twice, a."""
        try:
            words = _pre_tokenized(self.backend, f"a{char}a{char}{char}a")
        except UnicodeEncodeError:                         # a surrogate
            return None
        if words == ["aaa"]:
            return "removed"
        if words == [f"a{char}a{char}{char}a"]:
            return "word"
        if words == ["a", "a", "a"]:
            return "white"
        if words == ["a", char, "a", char, char, "a"]:
            return "isolated"
        return None

    def encode(self, text: str) -> _Words | None:
        """The document's tokens, None if it is left to _Encoded."""
        if any(token in text for token in self.added):
            return None
        pieces = self.pattern.findall(text)
        piece_start = list(accumulate(map(len, pieces), initial=0))
        if piece_start[-1] != len(text):                   # a character not learned yet, or of no class
            new = {ord(char) >> 8 for char in set(text)} - self.blocks
            if not new:
                return None
            for block in sorted(new):
                self._learn(block)
            self._compile()
            pieces = self.pattern.findall(text)
            piece_start = list(accumulate(map(len, pieces), initial=0))
            if piece_start[-1] != len(text):
                return None
        tokens = list(map(self.cache.get, pieces))
        if None in tokens:
            if len(self.cache) > self.MAX_CACHED:
                self.cache.clear()
                self.shapes.clear()
            for i in compress(count(), map(is_, tokens, repeat(None))):
                tokens[i] = self._tokens(pieces[i])
        return _Words(text, piece_start, tokens)

    def _tokens(self, piece: str) -> tuple[tuple[int, int], ...]:
        """The piece's tokens' (start, end) within it, by the tokenizer (once)."""
        offsets = self.cache.get(piece)
        if offsets is None:
            plain = self.plain.fullmatch(piece)
            if plain is None:
                offsets = tuple(self.backend.encode(piece, add_special_tokens=False).offsets)
            else:             # WordPiece alone (a fifth of the time), its offsets in UTF-8 bytes
                word = plain[1]
                offsets = tuple(token.offsets for token in self.backend.model.tokenize(word))
                if not word.isascii():
                    char = dict(zip(accumulate((len(c.encode()) for c in word), initial=0), count()))
                    offsets = tuple((char[start], char[end]) for start, end in offsets)
            self.cache[piece] = offsets = self.shapes.setdefault(offsets, offsets)
        return offsets


_WORD_PIECES: WeakKeyDictionary = WeakKeyDictionary()   # tokenizer -> its _WordPieces, or None


def _pre_tokenized(backend, text: str) -> list[str]:
    """The words of the tokenizer's normaliser and pre-tokenizer."""
    return [word for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]


def _char_class(ranges: list[list[int]]) -> str:
    """A regular expression's class of these ranges of code points (one that matches nothing if none)."""
    if not ranges:
        return "[^\\s\\S]"
    return "[" + "".join(f"{re.escape(chr(first))}-{re.escape(chr(last))}" for first, last in ranges) + "]"


def _n_tokens(backend, text: str) -> int:
    return len(backend.encode(text, add_special_tokens=False))


def segment(text: str, tokenizer, max_tokens: int = 512) -> Iterator[Segment]:
    """Cut a document into Segments of at most `max_tokens` tokens (special tokens not counted).

    `tokenizer`: an HF fast tokenizer or a `tokenizers.Tokenizer`. The rule is in the module doc."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
    backend = _backend(tokenizer)
    word_pieces = _WordPieces.of(backend)
    encoded = word_pieces and word_pieces.encode(text)
    yield from _cut(encoded or _Encoded(backend, text), backend, max_tokens)


def _cut(encoded: _Tokens, backend, max_tokens: int) -> Iterator[Segment]:
    """segment()'s cuts of a document's tokens."""
    text, n = encoded.text, encoded.n_tokens
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
