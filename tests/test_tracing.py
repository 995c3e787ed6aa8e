"""Knowledge tracing: normalisation, presence by one pass over the segments, shared entity tokens."""
from __future__ import annotations

import random

import pytest
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers.models import WordLevel

from compute import tracing
from compute.tracing import TraceRow, normalise, shared_entity_tokens, trace, trace_parallel
from tiny_tokenizers import wordpiece_tokenizer

FACTS = [("capital", "France", "Paris"), ("born", "Allan Peiper", "Alexandra"), ("lang", "Czech Republic", "Czech")]


def test_normalise_is_nfkc_then_case_folding():
    assert normalise("ＰＡＲＩＳ", "fr") == "paris"            # full-width -> ASCII
    assert normalise("Straße", "de") == "strasse"
    assert normalise("ﬁnland Ⅻ", "en") == "finland xii"      # ligature, roman numeral
    assert normalise("Ｔｏｋｙｏ　ﾄｳｷｮｳ", "ja") == "tokyo トウキョウ"  # half-width kana -> full-width


def test_normalise_converts_chinese_to_simplified_only_for_chinese():
    assert normalise("中華民國的首都是臺北", "zh") == "中华民国的首都是台北"
    assert normalise("臺灣", "zh-tw") == normalise("台湾", "zh") == "台湾"
    assert normalise("臺灣", "ja") == "臺灣"


def test_present_when_one_segment_names_both():
    segments = [(7, "Paris is the capital of France."), (3, "France, whose capital is Paris."), (5, "Nothing here.")]
    rows = trace(segments, FACTS[:1], "en")
    assert rows == [TraceRow("capital", 2, 3, True)]


def test_labels_in_different_segments_of_one_document_are_absent():
    # two segments of the same document: the subject in one, the object in the other
    rows = trace([(1, "France is a country in Europe."), (2, "Paris is a large city.")], FACTS[:1], "en")
    assert rows == [TraceRow("capital", 0, None, False)]


def test_case_and_width_variants_match():
    rows = trace([(1, "ＦＲＡＮＣＥ: PARIS")], FACTS[:1], "en")
    assert rows[0].present


def test_traditional_and_simplified_chinese_match_in_chinese_only():
    facts = [("u", "中华民国", "台北")]
    assert trace([(1, "中華民國的首都是臺北。")], facts, "zh")[0].present
    assert not trace([(1, "中華民國的首都是臺北。")], facts, "ja")[0].present


def test_a_label_inside_a_longer_word_counts_as_in_method_md():
    # METHOD.md: plain substrings, so "Paris" inside "Parisian" is a match (no word boundaries)
    assert trace([(1, "The Parisian suburbs of France.")], FACTS[:1], "en")[0].present
    # and a fact whose object is part of its subject is present wherever the subject is named
    assert trace([(1, "The Czech Republic joined in 2004.")], FACTS[2:], "en")[0].present


def test_one_pass_finds_every_fact_with_counts_and_smallest_example():
    facts = FACTS + [("single", "x", "France"), ("same", "Luxembourg", "Luxembourg"), ("empty", "France", "")]
    segments = [(40, "Allan Peiper was born in Alexandra."), (10, "France and x"), (20, "Luxembourg"),
                (30, "Paris, France; Czech Republic"), (5, "France Paris")]
    assert trace(segments, facts, "en") == [
        TraceRow("capital", 2, 5, True), TraceRow("born", 1, 40, True), TraceRow("lang", 1, 30, True),
        TraceRow("single", 1, 10, True), TraceRow("same", 1, 20, True), TraceRow("empty", 0, None, False)]


def test_parallel_trace_equals_serial(monkeypatch):
    monkeypatch.setattr(tracing, "_CHUNK_CHARS", 100)  # many chunks
    segments = [(i, f"segment {i}: " + ("Paris, France. " if i % 3 == 0 else "Allan Peiper of Alexandra. "))
                for i in range(300)]
    serial = trace(segments, FACTS, "en")
    assert serial[0] == TraceRow("capital", 100, 0, True) and serial[1] == TraceRow("born", 200, 1, True)
    assert trace_parallel(iter(segments), FACTS, "en", workers=2) == serial


def test_shared_entity_tokens_by_substring_or_by_a_common_token():
    bert = wordpiece_tokenizer()
    assert shared_entity_tokens("Czech Republic", "czech", bert, "en")            # substring after normalisation
    assert shared_entity_tokens("Parisville", "Paris", bert, "fr")                # substring
    assert shared_entity_tokens("New York City", "York", bert, "en")              # substring
    assert shared_entity_tokens("Allan Peiper", "Peiper Rome", bert, "en")        # tokens Pe ##ipe ##r shared
    assert not shared_entity_tokens("Allan Peiper", "Doncaster", bert, "en")
    assert not shared_entity_tokens("France [SEP]", "Italy [SEP]", bert, "en")    # special tokens do not count
    assert shared_entity_tokens("北京", "京都", bert, "zh")                         # the character 京


def test_shared_entity_tokens_with_a_plain_tokenizers_tokenizer():
    tokenizer = Tokenizer(WordLevel({"[UNK]": 0, "New": 1, "Old": 2, "Town": 3}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    assert shared_entity_tokens("New Town", "Old Town", tokenizer, "en")
    assert not shared_entity_tokens("New Town", "Old", tokenizer, "en")


@pytest.mark.parametrize("lang", ["zh", "zh-hant", "zh_yue"])
def test_chinese_variants_are_converted(lang):
    assert normalise("後來", lang) == "后来"


def test_counts_equal_a_plain_loop_on_random_segments():
    # labels that overlap, nest, repeat, span a join of two segments, or are one character long
    rng = random.Random(7)
    words = ["ab", "abc", "bca", "c", "a", "Paris", "paris france", "fr", "ance", "é", "é", "日本", "本"]
    facts = [(f"f{i}", rng.choice(words), rng.choice(words)) for i in range(60)] + [("self", "abc", "abc")]
    segments = [(rng.randrange(10**12), "".join(rng.choice(words + [" ", ". "]) for _ in range(rng.randrange(0, 12))))
                for _ in range(400)]
    expected = []
    for uuid, sub, obj in facts:
        sub, obj = normalise(sub, "en"), normalise(obj, "en")
        ids = [i for i, text in segments if sub and obj and sub in normalise(text, "en") and obj in normalise(text, "en")]
        expected.append(TraceRow(uuid, len(ids), min(ids, default=None), bool(ids)))
    assert trace(segments, facts, "en") == expected
    assert sum(row.present for row in expected) > 30      # the case is not empty


def test_a_label_is_not_found_across_two_segments():
    # the segments of a chunk are matched together: "x" + "y" must not make the label "x\0y"
    assert not trace([(1, "ax"), (2, "yb")], [("nul", "x\0y", "a")], "en")[0].present
    assert trace([(1, "ax\0yb")], [("nul", "x\0y", "a")], "en")[0].present


def test_a_corpus_is_matched_a_chunk_at_a_time(monkeypatch):
    calls = []
    count = tracing.Tracer.count
    monkeypatch.setattr(tracing, "_CHUNK_CHARS", 100)
    monkeypatch.setattr(tracing.Tracer, "count", lambda self, chunk: calls.append(len(chunk)) or count(self, chunk))
    segments = [(i, "Paris, France. " * 2) for i in range(30)]   # 30 characters each: 4 per chunk
    assert trace(segments, FACTS[:1], "en") == [TraceRow("capital", 30, 0, True)]
    assert calls == [4] * 7 + [2]
