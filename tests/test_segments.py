"""compute/segments.py's word-by-word path for BERT-style WordPiece tokenizers gives exactly what
tokenizing each whole document gives: every token's characters, every word start, every segment."""
from __future__ import annotations

import gc
import random
import weakref

import pytest
from transformers import BertTokenizer

from compute import segments
from compute.segments import segment
from conftest import SHARED_DATA, needs_shared
from ingest.documents import Document, iter_documents
from tiny_tokenizers import (WORDPIECE_VOCAB, byte_level_bpe_tokenizer, sentencepiece_bpe_tokenizer,
                             sentencepiece_tokenizer, wordpiece_tokenizer)

MBERT_VOCAB = SHARED_DATA / "tokenizers" / "bert-base-multilingual-cased" / "vocab.txt"

# Pieces of random documents: words of the vocabulary and not, accents and combining marks, CJK, Thai,
# emoji, zero-width joiner and space, soft hyphen, NUL and other control characters (removed by the
# normaliser), white space of many kinds, punctuation, words over WordPiece's 100 characters.
PIECES = [
    "Allan", "Peiper", "Paris", "was", "born", "in", "Parisville", "Doncaster", "Pe", "é", "ée", "Zürich",
    "a\u0308", "\u0301", "ß", "İ", "ǅ", "ﬁ", "Ⅻ", "１", "ｱ", "北", "京", "上海", "出生于", "。", "！", "ไทย", "ก\u0e48",
    "가나", "ア", "😀", "👍🏽", "\U0001F1EB\U0001F1F7", "\u200d", "\u200b", "\u00ad", "\ufeff", "\u180e", "\u0640",
    "\x00", "\x01", "\x1c", "\x7f", "\x85", "\x9f", "\ufffd", "\ue000", "\U000e0041", "\u0378",
    " ", " ", "  ", "\n", "\n\n", "\t", "\r", "\x0b", "\x0c", "\u00a0", "\u2028", "\u2029", "\u3000", "\u1680",
    ".", ",", "!", "?", ";", "(", ")", "[", "]", "-", "'", '"', "...", "?!", "##", "$", "§", "«", "»",
    "x" * 101, "é" * 100, "Peiper" * 17,
]
HAND_MADE = [
    "", " ", "\n", "\x00", "\x00 \x00", " \x00a", "a\x00", "a \x00 b", "a.\x00b", "\x00.a", "中\x00国", "a\u200bb c",
    "Allan Peiper was born in Paris. Peiper died in Rome!\nParisville is the capital of France.",
    "北京出生于上海。北京出生于上海。上海", "e\u0301 se\u0301 \u0301", "soft\u00adhyphen", "x" * 100 + " " + "x" * 101,
    "a\u00a0b\u2028c\x0bd\x85e\u3000f", "¡¿«»…—–", "Peiper\n\nPeiper. Peiper", "١٢٣ العربية", "emoji😀😀 👍🏽!",
]


def fast_path(tokenizer):
    return segments._WordPieces.of(segments._backend(tokenizer))


def whole_document_segments(text, tokenizer, max_tokens):
    """The segments of today's path: the document tokenized whole."""
    backend = segments._backend(tokenizer)
    return list(segments._cut(segments._Encoded(backend, text), backend, max_tokens))


def assert_same_tokens(text, tokenizer):
    """Every token's characters and word start are those of the document tokenized whole."""
    backend = segments._backend(tokenizer)
    words, whole = fast_path(tokenizer).encode(text), segments._Encoded(backend, text)
    assert words is not None, text
    n = whole.n_tokens
    assert words.n_tokens == n, text
    assert [(words.start(k), words.end(k)) for k in range(n)] == whole.encoding.offsets, text
    assert [words.is_word_start(k) for k in range(1, n)] == [whole.is_word_start(k) for k in range(1, n)], text


def assert_same_segments(text, tokenizer, max_tokens_list=(1, 2, 3, 7, 512)):
    for max_tokens in max_tokens_list:
        assert list(segment(text, tokenizer, max_tokens)) == whole_document_segments(text, tokenizer, max_tokens), \
            (text, max_tokens)


def random_texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40))) for _ in range(n)]


@pytest.fixture(scope="module")
def mbert():
    if not MBERT_VOCAB.exists():
        pytest.skip("mBERT vocab.txt not in ../shared")
    from compute.models import mbert_tokenizer

    return mbert_tokenizer(MBERT_VOCAB)


def test_only_bert_style_wordpiece_tokenizers_take_the_word_by_word_path():
    assert fast_path(wordpiece_tokenizer()) is not None
    vocab = {token: i for i, token in enumerate(WORDPIECE_VOCAB)}
    lowercasing = BertTokenizer(vocab=vocab, do_lower_case=True)  # its normaliser changes characters
    for other in (lowercasing, byte_level_bpe_tokenizer(), sentencepiece_tokenizer(), sentencepiece_bpe_tokenizer()):
        assert fast_path(other) is None, type(other).__name__


def test_a_byte_level_bpe_still_cuts_its_documents_whole(monkeypatch):
    tokenizer = byte_level_bpe_tokenizer()
    text = " ".join(["Allan was born in Paris.", "Rome is a city in Italy."] * 6)
    expected = whole_document_segments(text, tokenizer, 9)
    monkeypatch.setattr(segments._WordPieces, "encode", lambda self, text: pytest.fail("word by word"))
    assert list(segment(text, tokenizer, 9)) == expected


def test_hand_made_and_random_texts_give_the_same_tokens_and_segments_as_whole_documents():
    tokenizer = wordpiece_tokenizer()
    for text in HAND_MADE + random_texts(seed=12, n=400):
        assert_same_tokens(text, tokenizer)
        assert_same_segments(text, tokenizer)


def test_documents_holding_an_added_token_are_tokenized_whole():
    tokenizer = wordpiece_tokenizer()
    for text in ("Allan [UNK] Paris", "[CLS]Peiper[SEP]", "a[MASK]"):
        assert fast_path(tokenizer).encode(text) is None
        assert_same_segments(text, tokenizer)
    assert fast_path(tokenizer).encode("Allan [ UNK ] Paris") is not None


def test_a_tokenizer_and_its_word_cache_go_together():
    tokenizer = wordpiece_tokenizer()
    # Allan | Pe ##ipe ##r | . Paris: cut at the last word start in each window of 3 tokens
    assert [s.text for s in segment("Allan Peiper. Paris", tokenizer, 3)] == ["Allan", "Peiper", ". Paris"]
    backend = weakref.ref(segments._backend(tokenizer))
    assert backend() in segments._WORD_PIECES
    del tokenizer
    gc.collect()
    assert backend() is None


def test_a_truncating_tokenizer_is_copied_once_without_truncation():
    tokenizer = wordpiece_tokenizer()
    text = "Allan Peiper was born in Paris. " * 40
    tokenizer(text, truncation=True, max_length=8)  # leaves truncation on in its backend tokenizer
    assert tokenizer.backend_tokenizer.truncation is not None
    backend = segments._backend(tokenizer)
    assert backend is segments._backend(tokenizer) and backend.truncation is None
    assert fast_path(tokenizer) is not None
    assert sum(s.n_tokens for s in segment(text, tokenizer, 8)) == 40 * 9  # Allan Pe ##ipe ##r was born in Paris .
    assert_same_segments(text, tokenizer)


@needs_shared
def test_random_texts_with_mbert(mbert):
    for text in HAND_MADE + random_texts(seed=1, n=300):
        assert_same_tokens(text, mbert)
        assert_same_segments(text, mbert)


def wiki_documents(n_per_language: int | None):
    for folder in sorted((SHARED_DATA / "wiki").iterdir()):
        documents = [item.text for item in iter_documents(folder) if isinstance(item, Document)]
        assert documents, folder
        yield from documents[:n_per_language]


@needs_shared
def test_the_first_wiki_documents_of_each_language_with_mbert(mbert):
    for text in wiki_documents(100):
        assert_same_tokens(text, mbert)
        assert_same_segments(text, mbert, (7, 512))


@needs_shared
@pytest.mark.slow
def test_every_wiki_document_with_mbert(mbert):
    for text in wiki_documents(None):
        assert_same_segments(text, mbert, (7, 512))
