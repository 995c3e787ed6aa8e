"""trace-corpus: exact tracing of sharded corpora (JSON lines .gz/.zst, WikiExtractor trees, Parquet),
resumable per shard, an unreadable shard quarantined while the others count."""
from __future__ import annotations

import gzip
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import fact, rows, write_release
from ingest.mlama import ingest_mlama
from ingest.problems import IngestError
from ingest.wikipedia import ingest_wikipedia
from test_wikipedia import word_tokenizer
from warehouse.corpus_tracing import trace_corpus
from warehouse.tracing import trace

FACTS = [fact("u1", "France", "Paris"), fact("u2", "Allan Peiper", "Alexandra"), fact("u3", "Italy", "Rome"),
         fact("u4", "Spain", "Madrid")]
PRESENCE = ("SELECT uuid, is_present, n_segments, example_doc_id, example_seg_no FROM raw.fact_presence "
            "WHERE corpus = ? ORDER BY uuid")


def zstd(data: bytes) -> bytes:
    out = pa.BufferOutputStream()
    with pa.CompressedOutputStream(out, "zstd") as stream:
        stream.write(data)
    return out.getvalue().to_pybytes()


def lines(*docs) -> bytes:
    return "".join(json.dumps({"id": doc_id, "text": text}) + "\n" for doc_id, text in docs).encode()


@pytest.fixture
def database(settings, tmp_path):
    release = write_release(tmp_path / "rel", {"en": {"templates": {"P1": "[X] is in [Y] ."}, "facts": {"P1": FACTS}}})
    ingest_mlama(settings.build_database, release, progress=False)
    return settings.build_database


def corpus(root, damaged: bool = True):
    """Four shards: plain JSON lines, gzip, zstandard, and (optionally) a gzip cut short."""
    (root / "AA").mkdir(parents=True)
    (root / "BB").mkdir()
    (root / "AA" / "wiki_00").write_bytes(lines(
        ("1", "Paris is in France ."),                         # one segment (max_tokens 4: 5 tokens, cut)
        ("2", "Allan Peiper lives in Alexandra")))
    (root / "AA" / "wiki_01.gz").write_bytes(gzip.compress(lines(
        ("3", "Paris is big . France is old ."),               # cut after the first '.': labels apart
        ("4", "PARIS FRANCE"))))                               # case folding
    (root / "BB" / "wiki_00.zst").write_bytes(zstd(lines(("5", "Rome Italy Paris France"))))
    if damaged:
        whole = gzip.compress(lines(*[(f"x{i}", "Paris France " * 3) for i in range(200)]))
        (root / "BB" / "wiki_01.gz").write_bytes(whole[: len(whole) // 2])
    return root


def test_counts_by_hand_with_an_unreadable_shard_quarantined(database, tmp_path):
    report = trace_corpus(database, corpus(tmp_path / "web"), "en", word_tokenizer(), max_tokens=4, workers=1,
                          progress=False)
    # segments of at most 4 words: doc 1 -> "Paris is in France" | "." ; doc 3 -> "Paris is big ." | "France is old ."
    # u1 (France, Paris): doc 1 seg 0, doc 4 seg 0, doc 5 seg 0 -> 3; first in name order: AA/wiki_00, doc 1
    # u2: doc 2 is 5 words: "Allan Peiper lives in" | "Alexandra" -> absent; u3: doc 5 -> 1; u4 absent
    assert rows(database, PRESENCE, ["web"]) == [
        ("u1", True, 3, "1", 0), ("u2", False, 0, None, None), ("u3", True, 1, "5", 0), ("u4", False, 0, None, None)]
    assert rows(database, "SELECT example_shard FROM raw.fact_presence WHERE uuid = 'u1'") == [("AA/wiki_00",)]
    assert report.n_shards == 4 and report.n_documents == 5 and len(report.quarantined) == 1
    assert report.quarantined[0].startswith("BB/wiki_01.gz: ")
    assert rows(database, "SELECT source_file, problem FROM raw.quarantine WHERE kind = 'corpus'") == [
        ("BB/wiki_01.gz", "unreadable_shard")]
    assert rows(database, "SELECT n_documents, n_segments FROM raw.wiki_corpora WHERE corpus = 'web'") == [(5, 8)]


def test_equals_ingest_wikipedia_then_trace_fact_by_fact(database, tmp_path):
    source = corpus(tmp_path / "wiki", damaged=False)
    ingest_wikipedia(database, source, "en", word_tokenizer(), max_tokens=4, workers=1, progress=False)
    trace(database, progress=False)
    trace_corpus(database, source, "en", word_tokenizer(), corpus="sharded", max_tokens=4, workers=2, progress=False)
    assert rows(database, PRESENCE, ["sharded"]) == rows(database, PRESENCE, ["wikipedia"])
    statistics = "SELECT n_documents, n_segments, n_tokens, n_bytes FROM raw.wiki_corpora WHERE corpus = ?"
    assert rows(database, statistics, ["sharded"]) == rows(database, statistics, ["wikipedia"])
    # `trace` leaves a corpus of trace-corpus alone (it has no segments to read)
    with pytest.raises(ValueError, match="no sharded corpus loaded by ingest-wikipedia .*trace-corpus traces its own"):
        trace(database, corpus="sharded", progress=False)


def test_resumable_per_shard(database, tmp_path):
    source = corpus(tmp_path / "web")
    trace_corpus(database, source, "en", word_tokenizer(), max_tokens=4, workers=1, progress=False)
    before = rows(database, PRESENCE, ["web"])
    again = trace_corpus(database, source, "en", word_tokenizer(), max_tokens=4, workers=1, progress=False)
    assert again.unchanged and again.n_traced == 0
    (source / "BB" / "wiki_01.gz").write_bytes(gzip.compress(lines(("6", "Madrid Spain"))))  # repaired
    fixed = trace_corpus(database, source, "en", word_tokenizer(), max_tokens=4, workers=1, progress=False)
    assert fixed.n_traced == 1 and fixed.quarantined == []
    assert rows(database, PRESENCE, ["web"]) == before[:3] + [("u4", True, 1, "6", 0)]
    assert rows(database, "SELECT count(*) FROM raw.quarantine WHERE kind = 'corpus'") == [(0,)]
    os.remove(source / "BB" / "wiki_00.zst")                  # a shard gone: its counts go
    trace_corpus(database, source, "en", word_tokenizer(), max_tokens=4, workers=1, progress=False)
    assert rows(database, "SELECT n_segments FROM raw.fact_presence WHERE uuid IN ('u1', 'u3') ORDER BY uuid") \
        == [(2,), (0,)]


def test_parquet_and_json_lines_with_their_own_field_names(database, tmp_path):
    (tmp_path / "pq").mkdir()
    pq.write_table(pa.table({"url": ["a", "b", None], "content": ["Rome Italy", "France Paris", "Spain Madrid"]}),
                   tmp_path / "pq" / "part-0.parquet")
    (tmp_path / "pq" / "part-1.jsonl").write_text(json.dumps({"url": "c", "content": "Italy Rome"}) + "\n"
                                                  + json.dumps({"content": "no id"}) + "\n")
    report = trace_corpus(database, tmp_path / "pq", "en", word_tokenizer(), text_field="content", id_field="url",
                          workers=1, progress=False)
    assert rows(database, PRESENCE, ["pq"]) == [
        ("u1", True, 1, "b", 0), ("u2", False, 0, None, None), ("u3", True, 2, "a", 0), ("u4", False, 0, None, None)]
    assert report.n_documents == 3 and report.quarantined == []
    assert rows(database, "SELECT source_file, problem FROM raw.quarantine WHERE kind = 'corpus' ORDER BY 1") == [
        ("part-0.parquet", "quarantined_records"), ("part-1.jsonl", "quarantined_records")]


def test_a_corpus_of_unreadable_shards_only_is_an_error(database, tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.parquet").write_bytes(b"not parquet")
    with pytest.raises(IngestError, match=r"bad: no readable shard \(first: x.parquet: unreadable_file"):
        trace_corpus(database, tmp_path / "bad", "en", word_tokenizer(), workers=1, progress=False)
