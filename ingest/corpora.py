"""Sharded corpora (Dolma, FineWeb-2, CulturaX, WikiExtractor trees) -> per-shard fact counts.

A corpus is a file or a directory tree of shards, read in path order (hidden files skipped):
Parquet files (`.parquet`) with a text column, and anything else read as ingest/documents.py
reads WikiExtractor output: JSON lines (plain, .gz, .bz2 or .zst), `<doc>` text or plain text.
The text and document id fields (JSON) or columns (Parquet) are configurable.

Each shard is traced on its own, by a worker holding a ShardTracer (the language's facts and the
model's tokenizer, set up once): its documents are cut into segments by compute/segments.py and
matched by compute/tracing.py, the same code as `ingest-wikipedia` then `trace`, and the segment
text never leaves the worker. A shard gives its statistics, per fact the number of segments
holding both labels and the first such segment (document id, segment number), and the records it
quarantined; a shard that cannot be read (not UTF-8 text, not the format it claims, a damaged
compressed stream, a broken Parquet file) gives its one problem and no counts.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq

from compute.segments import segment
from compute.tracing import Tracer
from ingest.documents import DAMAGED, FILE_REFUSALS, Document, input_files, iter_documents
from ingest.problems import Problem

CHUNK_CHARS = 4_000_000   # segment text matched at a time (memory stays flat in the shard's size)
PARQUET_ROWS = 10_000     # rows read from a Parquet shard at a time


@dataclass(frozen=True)
class Shard:
    path: str          # as every worker reaches it (a shared disk)
    name: str          # relative to the corpus root: what the warehouse records
    fingerprint: str   # name, size and modification time, and what it is traced for


@dataclass
class ShardCounts:
    shard: str
    n_documents: int = 0
    n_segments: int = 0
    n_tokens: int = 0
    n_bytes: int = 0
    hits: dict[int, list] = field(default_factory=dict)   # fact index -> [n_segments, doc_id, seg_no]
    problems: list[Problem] = field(default_factory=list)  # records quarantined
    refused: Problem | None = None                          # the shard cannot be read: no counts


def list_shards(source: str | Path, traced_for: str) -> list[Shard]:
    """Every shard of a corpus, in name order; `traced_for` (facts, tokenizer, ...) enters each
    fingerprint, so that a shard is traced again when it or what it is traced for changes."""
    shards = []
    for path, name in input_files(Path(source)):
        stat = path.stat()
        key = f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{traced_for}"
        shards.append(Shard(str(path.absolute()), name, hashlib.sha256(key.encode()).hexdigest()))
    return shards


def _parquet_documents(path: str, name: str, text_field: str, id_field: str) -> Iterator[Document | Problem]:
    """A Parquet shard's rows as Documents (line_no: the row, 1-based); a missing column refuses it."""
    try:
        file = pq.ParquetFile(path)
        columns = file.schema_arrow.names
        missing = [column for column in (text_field, id_field) if column not in columns]
        if missing:
            yield Problem(name, None, "refused_structure", f"no column(s) {', '.join(missing)} (has {', '.join(columns)})")
            return
        row = 0
        for batch in file.iter_batches(PARQUET_ROWS, columns=[id_field, text_field]):
            for doc_id, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                row += 1
                if doc_id is None or not isinstance(text, str):
                    yield Problem(name, row, "missing_field", f"null {id_field if doc_id is None else text_field}")
                else:
                    yield Document(str(doc_id), None, None, text, name, row)
    except Exception as error:  # pyarrow raises several kinds for a damaged file
        yield Problem(name, None, DAMAGED, f"not a readable Parquet file ({str(error).splitlines()[0]})")


def read_shard(shard: Shard, text_field: str = "text", id_field: str = "id") -> Iterator[Document | Problem]:
    """A shard's Documents and quarantined records, named by the shard's name; a shard that cannot
    be read ends with one Problem of a FILE_REFUSALS kind or DAMAGED."""
    if shard.path.endswith(".parquet"):
        yield from _parquet_documents(shard.path, shard.name, text_field, id_field)
        return
    for item in iter_documents(shard.path, text_field=text_field, id_field=id_field):
        is_problem = isinstance(item, Problem)
        yield Problem(shard.name, item.line_no, item.problem, item.detail) if is_problem else item


class ShardTracer:
    """A worker's state: the facts of one language, the tokenizer that cuts the segments, the fields."""

    def __init__(self, facts: list[tuple[str, str, str]], lang: str, tokenizer_json: str, max_tokens: int,
                 text_field: str = "text", id_field: str = "id"):
        from tokenizers import Tokenizer

        self.tracer = Tracer(facts, lang)
        self.tokenizer = Tokenizer.from_str(tokenizer_json)  # as tokenizer_identity wrote it: no truncation
        self.max_tokens, self.text_field, self.id_field = max_tokens, text_field, id_field

    def _match(self, counts: ShardCounts, segments: list[tuple[int, str]], where: list[tuple[str, int]]) -> None:
        """Count a chunk of segments (ids: positions in `where`); a fact keeps its first example."""
        for fact, (n, first) in self.tracer.count(segments).items():
            hit = counts.hits.get(fact)
            if hit is None:
                counts.hits[fact] = [n, *where[first]]
            else:
                hit[0] += n

    def __call__(self, shard: Shard) -> ShardCounts:
        counts = ShardCounts(shard.name)
        segments, where, chars = [], [], 0
        for item in read_shard(shard, self.text_field, self.id_field):
            if isinstance(item, Problem):
                if item.problem in FILE_REFUSALS or item.problem == DAMAGED:
                    return ShardCounts(shard.name, refused=item)
                counts.problems.append(item)
                continue
            counts.n_documents += 1
            counts.n_bytes += len(item.text.encode("utf-8"))
            for seg_no, piece in enumerate(segment(item.text, self.tokenizer, self.max_tokens)):
                segments.append((len(where), piece.text))
                where.append((item.doc_id, seg_no))
                counts.n_segments += 1
                counts.n_tokens += piece.n_tokens
                chars += len(piece.text)
            if chars >= CHUNK_CHARS:
                self._match(counts, segments, where)
                segments, where, chars = [], [], 0
        self._match(counts, segments, where)
        return counts


def trace_shard(tracer: ShardTracer, shard: Shard) -> ShardCounts:
    """The work of one shard, for compute.distributed's workers."""
    return tracer(shard)
