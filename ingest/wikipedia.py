"""WikiExtractor output -> raw.wiki_documents, raw.wiki_segments, raw.wiki_corpora, raw.quarantine.

Input: one file or a directory tree (`AA/wiki_00`, ...; files read in path order, hidden files
skipped), each plain, gzip or bzip2 (told by its first bytes, not its name). A file's format is
told by its first non-blank line: `{` starts JSON lines (`--json`), `<doc` the `<doc ...>` text
format, anything else plain text with one document per non-blank line (doc_id `file:line`);
`fmt` forces one. In the `<doc>` format the title line WikiExtractor writes after the tag is
dropped, as `--json` output has none.

Segments: each document is cut into contiguous spans of at most `max_tokens` tokens of the given
tokenizer, special tokens not counted (a model with 512 positions takes 510 of them plus [CLS] and
[SEP]). A span that must be cut ends at the last paragraph break in the second half of its token
window, else the last sentence end (. ! ? followed by white space, or 。！？), else the last word
boundary of the tokenizer's pre-tokenizer, else mid-word (that cut is checked by tokenizing the
span on its own, and the rest is tokenized afresh). A segment's text is its span without the white
space at either end: the segments, in order, are the document with only white space removed at
the cuts. n_tokens counts the document's tokens inside the span; tokenizing a segment on its own
gives the same count when the cut is at a word boundary, as it always is in practice.

A load is one language of one corpus and one transaction: a crash or Ctrl-C leaves the warehouse
as it was (a real 10+ GB language makes a large transaction; DuckDB writes it to the database
file as it goes, not to memory). Reading and writing happen in the main process, tokenizing and
cutting in a pool of worker processes, with a bounded number of batches in flight. content_sha256
hashes every input file (relative path and bytes as stored) and the format option; loading the
same input with the same dump date, tokenizer and max_tokens again changes nothing, anything else
replaces the (corpus, lang). segment_id = load_batch * 10^10 + position of the segment in the load.
"""
from __future__ import annotations

import bisect
import bz2
import gzip
import hashlib
import html
import json
import multiprocessing
import os
import re
from collections import Counter, deque
from dataclasses import dataclass, field
from functools import cached_property
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import pyarrow as pa
from tqdm import tqdm

from ingest.mlama import MLAMA_LANGUAGES, IngestError, Problem
from warehouse import db

FORMATS = ("auto", "json", "doc", "text")
SEGMENT_ID_STRIDE = 10_000_000_000   # segments per load batch in the segment_id space
_CHUNK_CHARS = 1_000_000              # text sent to a worker at a time
_FLUSH_CHARS = 32_000_000             # segment text buffered before an INSERT
_DOC_OPEN = re.compile(rb"<doc(\s[^\n]*)?>\s*$")
_ATTRIBUTE = re.compile(r'(\w+)="(.*?)"(?=\s+\w+="|\s*$)')
_SENTENCE_END = re.compile(r"[.!?](?=\s)|[。！？]")

WIKI_SCHEMA = """
CREATE TABLE IF NOT EXISTS raw.wiki_corpora (
    corpus TEXT NOT NULL, lang TEXT NOT NULL, dump_date DATE, tokenizer TEXT NOT NULL,
    max_tokens INTEGER NOT NULL, n_documents BIGINT NOT NULL, n_segments BIGINT NOT NULL,
    n_tokens BIGINT NOT NULL, n_bytes BIGINT NOT NULL, content_sha256 TEXT NOT NULL,
    load_batch BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.wiki_documents (
    corpus TEXT NOT NULL, lang TEXT NOT NULL, doc_id TEXT NOT NULL, title TEXT, url TEXT,
    source_file TEXT NOT NULL, line_no INTEGER NOT NULL, n_segments INTEGER NOT NULL,
    n_tokens BIGINT NOT NULL, n_bytes BIGINT NOT NULL, load_batch BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.wiki_segments (
    corpus TEXT NOT NULL, lang TEXT NOT NULL, segment_id BIGINT NOT NULL, doc_id TEXT NOT NULL,
    seg_no INTEGER NOT NULL, text TEXT NOT NULL, n_tokens INTEGER NOT NULL, load_batch BIGINT NOT NULL
);
"""


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str | None
    url: str | None
    text: str
    source_file: str
    line_no: int


class Segment(NamedTuple):
    text: str
    start: int      # span in the document text, white space at either end excluded
    end: int
    n_tokens: int


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

    def add_problem(self, problem: Problem) -> None:
        self.problem_counts[problem.problem] += 1
        self.first_problems.setdefault(problem.problem, problem)

    def summary_lines(self) -> list[str]:
        what = f"{self.corpus} {self.lang}" + (f" (dump {self.dump_date})" if self.dump_date else "")
        if not self.loaded:
            return [f"{what}: unchanged"]
        return [f"{what}: {self.n_documents:,} documents, {self.n_segments:,} segments, "
                f"{self.n_tokens:,} tokens, {self.n_bytes / 1e6:,.1f} MB loaded", *self.problem_lines()]

    def problem_lines(self) -> list[str]:
        lines = []
        for kind, count in self.problem_counts.most_common():
            first = self.first_problems[kind]
            where = first.source_file + (f":{first.line_no}" if first.line_no else "")
            lines.append(f"quarantined {count:,} x {kind} (first: {where}: {first.detail})")
        return lines


# ---------------------------------------------------------------- reading

def _files(source: Path) -> list[tuple[Path, str]]:
    """(path, name relative to the source) of every input file, in name order."""
    if source.is_file():
        return [(source, source.name)]
    if not source.is_dir():
        raise IngestError(f"{source}: no such file or directory")
    found = []
    for path in source.rglob("*"):
        name = path.relative_to(source).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in name.split("/")):
            found.append((path, name))
    return sorted(found, key=lambda item: item[1])


def _lines(path: Path, on_read: Callable[[int], None] | None) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its line end) of a plain, gzip or bzip2 file."""
    with open(path, "rb") as raw:
        magic = raw.read(3)
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if magic[:2] == b"\x1f\x8b" else \
            bz2.BZ2File(raw) if magic == b"BZh" else raw
        done = 0
        for line_no, line in enumerate(stream, start=1):
            yield line_no, line.rstrip(b"\r\n")
            if on_read and line_no % 1024 == 0:
                position = raw.tell()
                on_read(position - done)
                done = position
        if on_read:
            on_read(raw.tell() - done)


def _detect(lines: Iterator[tuple[int, bytes]]) -> tuple[str, Iterator[tuple[int, bytes]]]:
    """The format told by the first non-blank line, and the lines from that one on."""
    for line_no, line in lines:
        if line.strip():
            head = line.lstrip()
            fmt = "json" if head.startswith(b"{") else "doc" if head.startswith(b"<doc") else "text"
            return fmt, _prepend((line_no, line), lines)
    return "text", iter(())


def _prepend(first, rest):
    yield first
    yield from rest


def _decode(line: bytes, name: str, line_no: int) -> str | Problem:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        return Problem(name, line_no, "invalid_utf8", f"byte {error.start}: {error.reason}")


def _encodable(document: Document) -> Document | Problem:
    """JSON escapes can smuggle lone surrogates, which no UTF-8 column can hold."""
    for value in (document.doc_id, document.title, document.url, document.text):
        try:
            (value or "").encode("utf-8")
        except UnicodeEncodeError as error:
            return Problem(document.source_file, document.line_no, "invalid_utf8",
                           f"doc {document.doc_id}: {error.reason} at character {error.start}")
    return document


def _parse_json(lines, name: str):
    for line_no, line in lines:
        if not line.strip():
            continue
        text = _decode(line, name, line_no)
        if isinstance(text, Problem):
            yield text
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            yield Problem(name, line_no, "malformed_json", error.msg)
            continue
        if not isinstance(record, dict):
            yield Problem(name, line_no, "malformed_json", "line is not a JSON object")
            continue
        missing = [key for key, kinds in (("id", (str, int)), ("text", str)) if not isinstance(record.get(key), kinds)]
        if missing:
            yield Problem(name, line_no, "missing_field", "missing or not a string: " + ", ".join(missing))
            continue
        title, url = record.get("title"), record.get("url")
        document = Document(str(record["id"]), title if isinstance(title, str) else None,
                            url if isinstance(url, str) else None, record["text"], name, line_no)
        yield _encodable(document) if b"\\ud" in line.lower() else document


def _doc_from(name: str, line_no: int, header: bytes, body: list[bytes]) -> Document | Problem:
    """One <doc ...> ... </doc> block (tag line, lines inside) as a Document."""
    tag = _decode(header, name, line_no)
    if isinstance(tag, Problem):
        return tag
    attributes = {key: html.unescape(value) for key, value in _ATTRIBUTE.findall(tag[4:].rstrip().rstrip(">"))}
    if not attributes.get("id"):
        return Problem(name, line_no, "missing_field", f"<doc> tag without id: {tag[:200]}")
    joined = b"\n".join(body)
    try:
        text = joined.decode("utf-8")
    except UnicodeDecodeError as error:
        bad_line = line_no + 1 + joined.count(b"\n", 0, error.start)
        return Problem(name, bad_line, "invalid_utf8", f"doc {attributes['id']}: byte {error.start}: {error.reason}")
    title = attributes.get("title")
    first, _, rest = text.partition("\n")
    if title is not None and first.strip() == title.strip():
        text = rest
    return Document(attributes["id"], title, attributes.get("url"), text.strip("\n"), name, line_no)


def _parse_doc(lines, name: str):
    start, header, body = None, b"", []
    for line_no, line in lines:
        if _DOC_OPEN.match(line):
            if start is not None:
                yield Problem(name, start, "unclosed_doc", f"<doc> not closed before the <doc> at line {line_no}")
            start, header, body = line_no, line, []
        elif line.strip() == b"</doc>":
            if start is None:
                yield Problem(name, line_no, "unopened_doc", "</doc> without an opening <doc>")
            else:
                yield _doc_from(name, start, header, body)
                start = None
        elif start is not None:
            body.append(line)
        elif line.strip():
            yield Problem(name, line_no, "text_outside_doc", line[:80].decode("utf-8", "replace"))
    if start is not None:
        yield Problem(name, start, "unclosed_doc", "<doc> not closed before the end of the file")


def _parse_text(lines, name: str):
    for line_no, line in lines:
        if line.strip():
            text = _decode(line, name, line_no)
            yield text if isinstance(text, Problem) else Document(f"{name}:{line_no}", None, None, text, name, line_no)


_PARSERS = {"json": _parse_json, "doc": _parse_doc, "text": _parse_text}


def iter_documents(source: str | Path, fmt: str = "auto",
                   on_read: Callable[[int], None] | None = None) -> Iterator[Document | Problem]:
    """Every Document of a file or directory tree, and a Problem for each rejected one, in file order.

    `on_read(n)` is told the source bytes (compressed, as on disk) read since its last call."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    for path, name in _files(Path(source)):
        lines = _lines(path, on_read)
        line_no = 0
        file_fmt, lines = _detect(lines) if fmt == "auto" else (fmt, lines)
        try:
            for item in _PARSERS[file_fmt](lines, name):
                line_no = item.line_no
                yield item
        except (OSError, EOFError) as error:  # damaged compressed stream: keep what came before
            yield Problem(name, line_no or None, "unreadable_file", str(error) or type(error).__name__)


# ---------------------------------------------------------------- segmentation

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
    """One tokenization of (the rest of) a document: its text, tokens and their start offsets."""

    def __init__(self, backend, text: str):
        self.text = text
        self.encoding = backend.encode(text, add_special_tokens=False)
        self.n_tokens = len(self.encoding)

    @cached_property
    def offsets(self) -> list[tuple[int, int]]:
        return self.encoding.offsets

    @cached_property
    def starts(self) -> list[int]:
        return [start for start, _ in self.offsets]

    def cut(self, first: int, last: int) -> int | None:
        """The cut k in [first, last] (a segment ends before token k) the module doc prefers, None if all
        are mid-word."""
        after, before = self.offsets[first - 1][1], self.starts[last]
        candidates = []
        newline = self.text.rfind("\n", after, before)
        if newline >= 0:
            candidates.append(bisect.bisect_left(self.starts, newline + 1, first, last + 1))
        sentence = None
        for sentence in _SENTENCE_END.finditer(self.text, self.starts[first - 1], before):
            pass
        if sentence is not None:
            candidates.append(bisect.bisect_left(self.starts, sentence.end(), first, last + 1))
        word_of = self.encoding.token_to_word
        for k in (*candidates, *range(last, first - 1, -1)):
            if word_of(k) != word_of(k - 1):
                return k
        return None


def segment(text: str, tokenizer, max_tokens: int = 512) -> Iterator[Segment]:
    """Cut a document into Segments of at most `max_tokens` tokens (special tokens not counted).

    `tokenizer`: an HF fast tokenizer or a `tokenizers.Tokenizer`. The rule is in the module doc."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
    backend = _backend(tokenizer)
    base = 0                                  # where the current tokenization starts in text
    while True:
        encoded = _Encoded(backend, text[base:] if base else text)
        n = encoded.n_tokens
        lo, lo_char = 0, 0                    # first token and character of the next segment
        while n - lo > max_tokens:
            k = encoded.cut(lo + max(1, max_tokens // 2), lo + max_tokens)
            if k is None:
                break
            yield _span(text, base + lo_char, base + encoded.starts[k], k - lo)
            lo, lo_char = k, encoded.starts[k]
        else:
            if n - lo or text[base + lo_char:].strip():
                yield _span(text, base + lo_char, len(text), n - lo)
            return
        # Mid-word cut: the most whole tokens whose text tokenizes on its own within the limit; the
        # rest of the document is then tokenized afresh.
        starts, k = encoded.starts, lo + max_tokens
        while True:
            count = len(backend.encode(text[base + lo_char: base + starts[k]], add_special_tokens=False))
            if count <= max_tokens or k == lo + 1:
                break
            k -= 1
        yield _span(text, base + lo_char, base + starts[k], count)
        base += starts[k]


# ---------------------------------------------------------------- workers

_WORKER_TOKENIZER = None


def _init_worker(tokenizer_json: str) -> None:
    global _WORKER_TOKENIZER
    from tokenizers import Tokenizer

    _WORKER_TOKENIZER = _backend(Tokenizer.from_str(tokenizer_json))


def _segment_texts(args: tuple[list[str], int]) -> list[tuple[int, list[tuple[int, int, int]]]]:
    """Per text: its UTF-8 size and its segments as (start, end, n_tokens)."""
    texts, max_tokens = args
    return [(len(text.encode("utf-8")), [(s.start, s.end, s.n_tokens) for s in segment(text, _WORKER_TOKENIZER, max_tokens)])
            for text in texts]


def _chunks(items: Iterable[Document | Problem]) -> Iterator[list[Document | Problem]]:
    chunk, size = [], 0
    for item in items:
        chunk.append(item)
        if isinstance(item, Document):
            size += len(item.text)
            if size >= _CHUNK_CHARS:
                yield chunk
                chunk, size = [], 0
    if chunk:
        yield chunk


def _segmented(items, tokenizer_json: str, max_tokens: int, workers: int):
    """(chunk, per-document results) in input order; at most 2 chunks per worker in flight."""
    if workers <= 1:
        _init_worker(tokenizer_json)
        for chunk in _chunks(items):
            yield chunk, _segment_texts(([d.text for d in chunk if isinstance(d, Document)], max_tokens))
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(tokenizer_json,)) as pool:
        pending = deque()
        for chunk in _chunks(items):
            texts = [d.text for d in chunk if isinstance(d, Document)]
            pending.append((chunk, pool.apply_async(_segment_texts, ((texts, max_tokens),))))
            if len(pending) >= 2 * workers:
                chunk, result = pending.popleft()
                yield chunk, result.get()
        while pending:
            chunk, result = pending.popleft()
            yield chunk, result.get()


# ---------------------------------------------------------------- loading

def _tokenizer_identity(tokenizer) -> tuple[str, str]:
    """`name@sha256[:12]` of the tokenizer's full definition (vocabulary, normaliser, ...), and that definition."""
    definition = _backend(tokenizer).to_str()
    name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    return f"{name}@{hashlib.sha256(definition.encode()).hexdigest()[:12]}", definition


def _n_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


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


class _Writer:
    """Buffers rows of one load and appends them to the raw tables."""

    def __init__(self, con, corpus: str, lang: str, batch: int, report: WikipediaReport):
        self.con, self.corpus, self.lang, self.batch, self.report = con, corpus, lang, batch, report
        self.next_segment_id = batch * SEGMENT_ID_STRIDE
        self.docs, self.segments, self.problems = [], [], []
        self.buffered_chars = 0

    def add(self, chunk: list[Document | Problem], results) -> None:
        results = iter(results)
        for item in chunk:
            if isinstance(item, Problem):
                self.report.add_problem(item)
                self.problems.append((self.lang, item.source_file, item.line_no, item.problem, item.detail, self.batch))
                continue
            n_bytes, spans = next(results)
            for seg_no, (start, end, n_tokens) in enumerate(spans):
                self.segments.append((self.next_segment_id, item.doc_id, seg_no, item.text[start:end], n_tokens))
                self.next_segment_id += 1
                self.buffered_chars += end - start
            self.docs.append((item.doc_id, item.title, item.url, item.source_file, item.line_no, len(spans),
                              sum(span[2] for span in spans), n_bytes))
        if self.buffered_chars >= _FLUSH_CHARS or len(self.docs) >= 200_000:
            self.flush()

    def flush(self) -> None:
        constants = [self.corpus, self.lang, self.batch]
        self._insert("INSERT INTO raw.wiki_documents SELECT $1, $2, *, $3, now() FROM new_rows", constants,
                     ["doc_id", "title", "url", "source_file", "line_no", "n_segments", "n_tokens", "n_bytes"],
                     self.docs)
        self._insert("INSERT INTO raw.wiki_segments SELECT $1, $2, *, $3 FROM new_rows", constants,
                     ["segment_id", "doc_id", "seg_no", "text", "n_tokens"], self.segments)
        self._insert("INSERT INTO raw.quarantine SELECT 'wikipedia', *, now() FROM new_rows", [],
                     ["lang", "source_file", "line_no", "problem", "detail", "load_batch"], self.problems)
        self.docs, self.segments, self.problems, self.buffered_chars = [], [], [], 0

    def _insert(self, sql: str, parameters: list, names: list[str], rows: list[tuple]) -> None:
        if rows:
            self.con.register("new_rows", pa.table(dict(zip(names, map(list, zip(*rows))))))
            self.con.execute(sql, parameters)
            self.con.unregister("new_rows")


_DUPLICATES = ("""
CREATE TEMP TABLE wiki_duplicates AS
SELECT * FROM (
    SELECT doc_id, source_file, line_no, n_segments,
           -- documents were written in (source_file, line_no) order, their segments numbered along
           sum(n_segments) OVER (ORDER BY source_file, line_no ROWS UNBOUNDED PRECEDING) - n_segments AS first_segment,
           row_number() OVER same_id AS occurrence,
           first_value(source_file || ':' || line_no) OVER same_id AS first_seen
    FROM raw.wiki_documents WHERE load_batch = $batch
    WINDOW same_id AS (PARTITION BY doc_id ORDER BY source_file, line_no)
) WHERE occurrence > 1""", """
DELETE FROM raw.wiki_segments s USING wiki_duplicates d
 WHERE s.load_batch = $batch AND s.segment_id >= $base + d.first_segment
   AND s.segment_id < $base + d.first_segment + d.n_segments""", """
DELETE FROM raw.wiki_documents w USING wiki_duplicates d
 WHERE w.load_batch = $batch AND w.source_file = d.source_file AND w.line_no = d.line_no""", """
INSERT INTO raw.quarantine SELECT 'wikipedia', $lang, source_file, line_no, 'duplicate_doc_id',
       'doc ' || doc_id || ' first seen at ' || first_seen, $batch, now() FROM wiki_duplicates""")


def _drop_duplicates(con, lang: str, batch: int, report: WikipediaReport) -> None:
    """Keep the first document of each doc_id; quarantine the others with their segments."""
    distinct, total = con.execute("SELECT count(DISTINCT doc_id), count(*) FROM raw.wiki_documents "
                                  "WHERE load_batch = ?", [batch]).fetchone()
    if distinct == total:
        return
    parameters = {"batch": batch, "base": batch * SEGMENT_ID_STRIDE, "lang": lang}
    for statement in _DUPLICATES:
        con.execute(statement, {name: value for name, value in parameters.items() if f"${name}" in statement})
    for doc_id, source_file, line_no, first_seen in con.execute(
            "SELECT doc_id, source_file, line_no, first_seen FROM wiki_duplicates ORDER BY source_file, line_no").fetchall():
        report.add_problem(Problem(source_file, line_no, "duplicate_doc_id", f"doc {doc_id} first seen at {first_seen}"))
    con.execute("DROP TABLE wiki_duplicates")


def ingest_wikipedia(database: str | Path, source: str | Path, lang: str, tokenizer, corpus: str = "wikipedia",
                     dump_date: str | date | None = None, max_tokens: int = 512, workers: int | None = None,
                     progress: bool = True, fmt: str = "auto") -> WikipediaReport:
    """Load one language of a WikiExtractor corpus into the build database, cut into segments.

    Raises IngestError when the source is missing, the language unknown, or nothing usable was read
    (then nothing is written)."""
    source = Path(source)
    if lang not in MLAMA_LANGUAGES:
        raise IngestError(f"unknown language code {lang!r} (mLAMA has {len(MLAMA_LANGUAGES)})")
    if fmt not in FORMATS:
        raise IngestError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    if max_tokens < 1:
        raise IngestError(f"max_tokens must be at least 1, not {max_tokens}")
    try:
        tokenizer_id, tokenizer_json = _tokenizer_identity(tokenizer)
    except ValueError as error:
        raise IngestError(str(error)) from error
    files = _files(source)
    if not files:
        raise IngestError(f"{source}: no files")
    report = WikipediaReport(corpus, lang, _parse_dump_date(dump_date))
    sha = _content_sha256(files, fmt, progress)
    workers = workers or _n_cores()

    con = db.connect(database)
    try:
        con.execute(WIKI_SCHEMA)
        last = con.execute("SELECT content_sha256, dump_date, tokenizer, max_tokens FROM raw.wiki_corpora "
                           "WHERE corpus = ? AND lang = ?", [corpus, lang]).fetchone()
        if last == (sha, report.dump_date, tokenizer_id, max_tokens):
            return report
        with db.transaction(con):
            batch = db.new_batch(con, "wikipedia", str(source), lang, sha, 0, 0)
            con.execute("DELETE FROM raw.quarantine WHERE kind = 'wikipedia' AND load_batch IN "
                        "(SELECT load_batch FROM raw.wiki_corpora WHERE corpus = ? AND lang = ?)", [corpus, lang])
            for table in ("wiki_corpora", "wiki_documents", "wiki_segments"):
                con.execute(f"DELETE FROM raw.{table} WHERE corpus = ? AND lang = ?", [corpus, lang])
            writer = _Writer(con, corpus, lang, batch, report)
            total = sum(path.stat().st_size for path, _ in files)
            with tqdm(total=total, desc=f"{corpus} {lang}", unit="B", unit_scale=True, disable=not progress) as bar:
                items = iter_documents(source, fmt, on_read=bar.update)
                for chunk, results in _segmented(items, tokenizer_json, max_tokens, workers):
                    writer.add(chunk, results)
            writer.flush()
            _drop_duplicates(con, lang, batch, report)
            con.execute("""
                INSERT INTO raw.wiki_corpora
                SELECT ?, ?, ?, ?, ?, count(*), coalesce(sum(n_segments), 0), coalesce(sum(n_tokens), 0),
                       coalesce(sum(n_bytes), 0), ?, ?, now()
                FROM raw.wiki_documents WHERE load_batch = ?""",
                        [corpus, lang, report.dump_date, tokenizer_id, max_tokens, sha, batch, batch])
            (report.n_documents, report.n_segments, report.n_tokens, report.n_bytes) = con.execute(
                "SELECT n_documents, n_segments, n_tokens, n_bytes FROM raw.wiki_corpora WHERE load_batch = ?",
                [batch]).fetchone()
            if not report.n_documents:
                raise IngestError(f"{source}: no usable documents read; " + ("; ".join(report.problem_lines()) or "empty"))
            con.execute("UPDATE raw.load_batches SET n_rows = ?, n_quarantined = ? WHERE load_batch = ?",
                        [report.n_documents + report.n_segments, sum(report.problem_counts.values()), batch])
        report.loaded = True
        return report
    finally:
        con.close()
