"""WikiExtractor output -> raw.wiki_documents, raw.wiki_segments, raw.wiki_corpora, raw.quarantine.

Parsing is in ingest/documents.py, the cut into segments (and its rule) in compute/segments.py.

A load is one language of one corpus. Its rows are first staged in TEMP tables, appended batch by
batch (each its own small transaction; DuckDB spills them to disk past DUCKDB_MEMORY_LIMIT), then
swapped in by one transaction that deletes the (corpus, lang)'s old rows and copies the new ones:
a crash or Ctrl-C at any point leaves the warehouse as it was (TEMP tables die with the
connection). One transaction around all the appends would hold about a byte of memory per byte
loaded until its commit. Reading, parsing and writing happen in the main process, tokenizing and
cutting in a pool of worker processes, with at most two batches per worker in flight. content_sha256
hashes every input file (relative path and bytes as stored) and the format option; loading the
same input with the same dump date, tokenizer and max_tokens again changes nothing, anything else
replaces the (corpus, lang). segment_id = load_batch * 10^10 + position of the segment in the load.

A file refused by ingest/documents.py's rules (not UTF-8 text, binary, not the structure it claims)
or a damaged compressed stream stops the load at once: IngestError naming the file and line, nothing
written. With keep_partial the load goes on without the refused files' documents, keeps what a
damaged stream gave before the damage, and the report says what was lost.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterable

import pyarrow as pa
from tqdm import tqdm

from compute.pool import chunks
from compute.segments import segment_in_workers, tokenizer_identity
from ingest.documents import DAMAGED, FILE_REFUSALS, FORMATS, Document, input_files, iter_documents
from ingest.problems import IngestError, Problem
from raw import db
from raw.languages import MLAMA_LANGUAGES

SEGMENT_ID_STRIDE = 10_000_000_000   # segments per load batch in the segment_id space
_CHUNK_CHARS = 1_000_000              # text sent to a worker at a time
_FLUSH_CHARS = 32_000_000             # segment text buffered before an INSERT
DUCKDB_MEMORY_LIMIT = "1GB"           # DuckDB's share during a load; the staged rows spill to disk


@dataclass
class WikipediaReport:
    corpus: str
    lang: str
    dump_date: date | None
    loaded: bool = False          # False: same input as the last load, nothing done
    n_documents: int = 0
    n_segments: int = 0
    n_tokens: int = 0
    n_bytes: int = 0
    problem_counts: Counter = field(default_factory=Counter)
    first_problems: dict[str, Problem] = field(default_factory=dict)
    lost_files: list[Problem] = field(default_factory=list)   # refused or damaged, kept with keep_partial
    input_bytes: int = 0
    refused_bytes: int = 0

    def summary_lines(self) -> list[str]:
        what = f"{self.corpus} {self.lang}" + (f" (dump {self.dump_date})" if self.dump_date else "")
        if not self.loaded:
            return [f"{what}: unchanged"]
        return [f"{what}: {self.n_documents:,} documents, {self.n_segments:,} segments, "
                f"{self.n_tokens:,} tokens, {self.n_bytes / 1e6:,.1f} MB loaded", *self.lost_lines(),
                *self.problem_lines()]

    def problem_lines(self) -> list[str]:
        return [f"quarantined {count:,} x {kind} (first: {_where(self.first_problems[kind])})"
                for kind, count in self.problem_counts.most_common()]

    def lost_lines(self) -> list[str]:
        """What keep_partial left out: refused files whole, damaged files after the damage."""
        refused = [problem for problem in self.lost_files if problem.problem in FILE_REFUSALS]
        damaged = [problem for problem in self.lost_files if problem.problem == DAMAGED]
        lines = []
        if refused:
            lines.append(f"lost {len(refused):,} refused file(s), {self.refused_bytes:,} of the input's "
                         f"{self.input_bytes:,} bytes ({self.refused_bytes / self.input_bytes:.0%}), not loaded "
                         f"(first: {_where(refused[0])})")
        if damaged:
            lines.append(f"lost the rest of {len(damaged):,} damaged compressed file(s) after the documents read "
                         f"before the damage (first: {_where(damaged[0])})")
        return lines


def _where(problem: Problem) -> str:
    return f"{problem.source_file}{f':{problem.line_no}' if problem.line_no else ''}: {problem.detail}"


def _text_size(item: Document | Problem) -> int:
    return len(item.text) if isinstance(item, Document) else 0


def _segmented(items: Iterable[Document | Problem], definition: str, max_tokens: int, workers: int | None):
    """(chunk of items, per-document results of compute.segments.segment_in_workers) in input order."""
    tasks = ((chunk, [item.text for item in chunk if isinstance(item, Document)])
             for chunk in chunks(items, _text_size, _CHUNK_CHARS))
    return segment_in_workers(tasks, definition, max_tokens, workers)


def _content_sha256(files: list[tuple[Path, str]], fmt: str, progress: bool) -> str:
    digest = hashlib.sha256(f"format={fmt}\0".encode())
    total = sum(path.stat().st_size for path, _ in files)
    with tqdm(total=total, desc="hashing", unit="B", unit_scale=True, disable=not progress) as bar:
        for path, name in files:
            digest.update(name.encode() + b"\0")
            with open(path, "rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
                    bar.update(len(block))
            digest.update(b"\0")
    return digest.hexdigest()


def _parse_dump_date(dump_date) -> date | None:
    if dump_date is None or isinstance(dump_date, date):
        return dump_date.date() if isinstance(dump_date, datetime) else dump_date
    for pattern in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(str(dump_date), pattern).date()
        except ValueError:
            pass
    raise IngestError(f"dump date {dump_date!r}: use YYYYMMDD or YYYY-MM-DD")


# Staged rows of one load (TEMP tables: gone with the connection, spilled to disk past the memory limit).
_STAGED = {
    "wiki_new_documents": "doc_no BIGINT, doc_id TEXT, title TEXT, url TEXT, source_file TEXT, line_no INTEGER, "
                          "n_segments INTEGER, n_tokens BIGINT, n_bytes BIGINT",
    "wiki_new_segments": "segment_no BIGINT, doc_no BIGINT, doc_id TEXT, seg_no INTEGER, text TEXT, n_tokens INTEGER",
    "wiki_new_problems": "source_file TEXT, line_no INTEGER, problem TEXT, detail TEXT",
}
_DUPLICATES = """
CREATE OR REPLACE TEMP TABLE wiki_new_duplicates AS
SELECT * FROM (
    SELECT doc_no, doc_id, source_file, line_no, row_number() OVER same_id AS occurrence,
           first_value(source_file || ':' || line_no) OVER same_id AS first_seen
    FROM wiki_new_documents WINDOW same_id AS (PARTITION BY doc_id ORDER BY doc_no)
) WHERE occurrence > 1"""
_KEPT = "doc_no NOT IN (SELECT doc_no FROM wiki_new_duplicates)"
_DROP_FILE = ("DELETE FROM wiki_new_segments WHERE doc_no IN (SELECT doc_no FROM wiki_new_documents WHERE source_file = ?)",
              "DELETE FROM wiki_new_documents WHERE source_file = ?",
              "DELETE FROM wiki_new_problems WHERE source_file = ?")


class _Stager:
    """Buffers the rows of one load and appends them to TEMP tables, each flush its own transaction.

    A file's problems reach the report when the file ends: a refused file's are dropped with its rows."""

    def __init__(self, con, report: WikipediaReport, source: Path, sizes: dict[str, int], keep_partial: bool):
        self.con, self.report, self.source, self.sizes, self.keep_partial = con, report, source, sizes, keep_partial
        for table, columns in _STAGED.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({columns})")
        self.n_docs = self.n_segments = 0
        self.docs, self.segments, self.problems = [], [], []
        self.buffered_chars = 0
        self.file, self.file_counts, self.file_first = None, Counter(), {}   # the problems of the current file

    def add(self, chunk: list[Document | Problem], results) -> None:
        results = iter(results)
        for item in chunk:
            if item.source_file != self.file:
                self.end_file()
                self.file = item.source_file
            if isinstance(item, Problem):
                if item.problem in FILE_REFUSALS or item.problem == DAMAGED:
                    self.lose(item)
                else:
                    self.file_counts[item.problem] += 1
                    self.file_first.setdefault(item.problem, item)
                self.problems.append((item.source_file, item.line_no, item.problem, item.detail))
                continue
            n_bytes, spans = next(results)
            for seg_no, (start, end, n_tokens) in enumerate(spans):
                self.segments.append((self.n_segments, self.n_docs, item.doc_id, seg_no, item.text[start:end],
                                      n_tokens))
                self.n_segments += 1
                self.buffered_chars += end - start
            self.docs.append((self.n_docs, item.doc_id, item.title, item.url, item.source_file, item.line_no,
                              len(spans), sum(span[2] for span in spans), n_bytes))
            self.n_docs += 1
        if self.buffered_chars >= _FLUSH_CHARS or len(self.docs) >= 200_000:
            self.flush()

    def end_file(self) -> None:
        """Count the problems of the file read so far in the report."""
        self.report.problem_counts.update(self.file_counts)
        for kind, first in self.file_first.items():
            self.report.first_problems.setdefault(kind, first)
        self.file_counts, self.file_first = Counter(), {}

    def lose(self, problem: Problem) -> None:
        """A refused or damaged file: stop the load, or (keep_partial) drop a refused file's rows."""
        if not self.keep_partial:
            path = self.source / problem.source_file if self.source.is_dir() else self.source
            what = "compressed stream damaged" if problem.problem == DAMAGED else "file refused"
            raise IngestError(f"{path}{f':{problem.line_no}' if problem.line_no else ''}: {what}: {problem.detail}. "
                              f"Nothing loaded, {self.report.corpus} {self.report.lang} is as it was "
                              f"(--keep-partial loads what can be read)")
        if problem.problem in FILE_REFUSALS:
            self.flush()
            for sql in _DROP_FILE:
                self.con.execute(sql, [problem.source_file])
            self.file_counts, self.file_first = Counter(), {}
            self.report.refused_bytes += self.sizes[problem.source_file]
        self.report.lost_files.append(problem)

    def finish(self) -> None:
        self.end_file()
        self.flush()

    def flush(self) -> None:
        for table, rows in (("wiki_new_documents", self.docs), ("wiki_new_segments", self.segments),
                            ("wiki_new_problems", self.problems)):
            if rows:
                names = [column.split()[0] for column in _STAGED[table].split(", ")]
                self.con.register("new_rows", pa.table(dict(zip(names, map(list, zip(*rows))))))
                self.con.execute(f"INSERT INTO {table} SELECT * FROM new_rows")
                self.con.unregister("new_rows")
        self.docs, self.segments, self.problems, self.buffered_chars = [], [], [], 0

    def drop_duplicates(self) -> None:
        """Keep the first document of each doc_id; quarantine the others (their segments go with them)."""
        self.con.execute(_DUPLICATES)
        first = self.con.execute("SELECT doc_id, source_file, line_no, first_seen, count(*) OVER () "
                                 "FROM wiki_new_duplicates ORDER BY doc_no LIMIT 1").fetchone()
        if first:
            doc_id, source_file, line_no, first_seen, count = first
            self.con.execute("INSERT INTO wiki_new_problems SELECT source_file, line_no, 'duplicate_doc_id', "
                             "'doc ' || doc_id || ' first seen at ' || first_seen FROM wiki_new_duplicates")
            first_problem = Problem(source_file, line_no, "duplicate_doc_id", f"doc {doc_id} first seen at {first_seen}")
            self.report.first_problems.setdefault("duplicate_doc_id", first_problem)
            self.report.problem_counts["duplicate_doc_id"] += count


def _swap_in(con, corpus: str, lang: str, source: Path, sha: str, tokenizer_id: str,
             max_tokens: int, report: WikipediaReport) -> None:
    """Replace the (corpus, lang) rows by the staged ones, in one transaction."""
    (report.n_documents, report.n_segments, report.n_tokens, report.n_bytes) = con.execute(
        f"SELECT count(*), coalesce(sum(n_segments), 0), coalesce(sum(n_tokens), 0), coalesce(sum(n_bytes), 0) "
        f"FROM wiki_new_documents WHERE {_KEPT}").fetchone()
    if not report.n_documents:
        problems = "; ".join(report.lost_lines() + report.problem_lines()) or "no documents"
        raise IngestError(f"{source}: no usable documents read; {problems}")
    with db.transaction(con):
        batch = db.new_batch(con, "wikipedia", str(source), lang, sha, report.n_documents + report.n_segments,
                             sum(report.problem_counts.values()) + len(report.lost_files))
        con.execute("DELETE FROM raw.quarantine WHERE kind = 'wikipedia' AND load_batch IN "
                    "(SELECT load_batch FROM raw.wiki_corpora WHERE corpus = ? AND lang = ?)", [corpus, lang])
        for table in ("wiki_corpora", "wiki_documents", "wiki_segments"):
            con.execute(f"DELETE FROM raw.{table} WHERE corpus = ? AND lang = ?", [corpus, lang])
        con.execute(f"INSERT INTO raw.wiki_documents SELECT $corpus, $lang, doc_id, title, url, source_file, line_no, "
                    f"n_segments, n_tokens, n_bytes, $batch, now() FROM wiki_new_documents WHERE {_KEPT}",
                    {"corpus": corpus, "lang": lang, "batch": batch})
        con.execute(f"INSERT INTO raw.wiki_segments SELECT $corpus, $lang, $base + segment_no, doc_id, seg_no, text, "
                    f"n_tokens, $batch FROM wiki_new_segments WHERE {_KEPT}",
                    {"corpus": corpus, "lang": lang, "batch": batch, "base": batch * SEGMENT_ID_STRIDE})
        con.execute("INSERT INTO raw.quarantine SELECT 'wikipedia', $lang, source_file, line_no, problem, detail, "
                    "$batch, now() FROM wiki_new_problems", {"lang": lang, "batch": batch})
        con.execute("INSERT INTO raw.wiki_corpora VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                    [corpus, lang, report.dump_date, tokenizer_id, max_tokens, report.n_documents, report.n_segments,
                     report.n_tokens, report.n_bytes, sha, batch])
    report.loaded = True


def ingest_wikipedia(database: str | Path, source: str | Path, lang: str, tokenizer, corpus: str = "wikipedia",
                     dump_date: str | date | None = None, max_tokens: int = 512, workers: int | None = None,
                     progress: bool = True, fmt: str = "auto", keep_partial: bool = False) -> WikipediaReport:
    """Load one language of a WikiExtractor corpus into the build database, cut into segments.

    `workers` processes (default: all cores) are spawned, not forked: a script calling this needs the
    `if __name__ == "__main__":` guard; workers=1 works in this process. Raises IngestError when the
    source is missing, the language unknown, nothing usable was read, or (unless `keep_partial`) a
    file was refused or damaged; then nothing is written."""
    source = Path(source)
    if lang not in MLAMA_LANGUAGES:
        raise IngestError(f"unknown language code {lang!r} (mLAMA has {len(MLAMA_LANGUAGES)})")
    if fmt not in FORMATS:
        raise IngestError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    if max_tokens < 1:
        raise IngestError(f"max_tokens must be at least 1, not {max_tokens}")
    try:
        tokenizer_id, tokenizer_json = tokenizer_identity(tokenizer)
    except ValueError as error:
        raise IngestError(str(error)) from error
    files = input_files(source)
    if not files:
        raise IngestError(f"{source}: no files")
    report = WikipediaReport(corpus, lang, _parse_dump_date(dump_date))
    sha = _content_sha256(files, fmt, progress)

    con = db.connect(database)
    memory_limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    try:
        last = con.execute("SELECT content_sha256, dump_date, tokenizer, max_tokens FROM raw.wiki_corpora "
                           "WHERE corpus = ? AND lang = ?", [corpus, lang]).fetchone()
        if last == (sha, report.dump_date, tokenizer_id, max_tokens):
            return report
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        sizes = {name: path.stat().st_size for path, name in files}
        report.input_bytes = total = sum(sizes.values())
        stager = _Stager(con, report, source, sizes, keep_partial)
        with tqdm(total=total, desc=f"{corpus} {lang}", unit="B", unit_scale=True, disable=not progress) as bar:
            items = iter_documents(source, fmt, on_read=bar.update)
            for chunk, results in _segmented(items, tokenizer_json, max_tokens, workers):
                stager.add(chunk, results)
        stager.finish()
        stager.drop_duplicates()
        _swap_in(con, corpus, lang, source, sha, tokenizer_id, max_tokens, report)
        return report
    finally:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.close()
