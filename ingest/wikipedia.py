"""WikiExtractor output -> raw.wiki_documents, raw.wiki_segments, raw.wiki_corpora, raw.quarantine.

Input: one file or a directory tree (`AA/wiki_00`, ...; files read in path order, hidden files
skipped), each plain, gzip or bzip2 (told by its first bytes, not its name). A file's format is
told by its first non-blank line: `{` starts JSON lines (`--json`), `<doc` the `<doc ...>` text
format, anything else plain text with one document per non-blank line (doc_id `file:line`);
`fmt` forces one. In the `<doc>` format the title line WikiExtractor writes after the tag is
dropped, as `--json` output has none.

Segments: each document is tokenized once and cut into contiguous spans of at most `max_tokens`
tokens of the given tokenizer, special tokens not counted (a model with 512 positions takes 510 of
them plus [CLS] and [SEP]). A span that must be cut ends, within the second half of its window of
`max_tokens` tokens, at the last paragraph break, else the last sentence end (. ! ? followed by
white space, or 。！？), else the last start of a word of the tokenizer's pre-tokenizer, else at
the window's end. A segment's text is its span without the white space at either end: the
segments, in order, are the document with only white space removed at the cuts. n_tokens is the
number of the document's tokens in the span when both its ends are word starts (tokenizing the
segment on its own gives the same with WordPiece and SentencePiece); after a cut inside a word (a
。 with SentencePiece, whose words are split at spaces only, or a window without any boundary) it
is the segment tokenized on its own, and the cut moves left until that fits.

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
"""
from __future__ import annotations

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
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

import pyarrow as pa
from tqdm import tqdm

from ingest.problems import IngestError, Problem
from raw.languages import MLAMA_LANGUAGES
from raw import db

FORMATS = ("auto", "json", "doc", "text")
SEGMENT_ID_STRIDE = 10_000_000_000   # segments per load batch in the segment_id space
_CHUNK_CHARS = 1_000_000              # text sent to a worker at a time
_FLUSH_CHARS = 32_000_000             # segment text buffered before an INSERT
DUCKDB_MEMORY_LIMIT = "1GB"           # DuckDB's share during a load; the staged rows spill to disk
_DOC_OPEN = re.compile(rb"<doc(\s[^\n]*)?>\s*$")
_ATTRIBUTE = re.compile(r'(\w+)="(.*?)"(?=\s+\w+="|\s*$)')
_SENTENCE_END = re.compile(r"[.!?](?=\s)|[。！？]")


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
        line_no = 0
        try:
            file_fmt, lines = _detect(_lines(path, on_read)) if fmt == "auto" else (fmt, _lines(path, on_read))
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


# ---------------------------------------------------------------- workers

_WORKER_TOKENIZER = None


def _init_worker(tokenizer_json: str) -> None:
    global _WORKER_TOKENIZER
    from tokenizers import Tokenizer

    _WORKER_TOKENIZER = _backend(Tokenizer.from_str(tokenizer_json))


def _segment_texts(args: tuple[list[str], int]) -> list[tuple[int, list[tuple[int, int, int]]]]:
    """Per text: its UTF-8 size and its segments as (start, end, n_tokens)."""
    texts, max_tokens = args
    return [(len(text.encode("utf-8")),
             [(s.start, s.end, s.n_tokens) for s in segment(text, _WORKER_TOKENIZER, max_tokens)])
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


class _Stager:
    """Buffers the rows of one load and appends them to TEMP tables, each flush its own transaction."""

    def __init__(self, con, report: WikipediaReport):
        self.con, self.report = con, report
        for table, columns in _STAGED.items():
            con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({columns})")
        self.n_docs = self.n_segments = 0
        self.docs, self.segments, self.problems = [], [], []
        self.buffered_chars = 0

    def add(self, chunk: list[Document | Problem], results) -> None:
        results = iter(results)
        for item in chunk:
            if isinstance(item, Problem):
                self.report.add_problem(item)
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
        problems = "; ".join(report.problem_lines()) or "no documents"
        raise IngestError(f"{source}: no usable documents read; {problems}")
    with db.transaction(con):
        batch = db.new_batch(con, "wikipedia", str(source), lang, sha, report.n_documents + report.n_segments,
                             sum(report.problem_counts.values()))
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
                     progress: bool = True, fmt: str = "auto") -> WikipediaReport:
    """Load one language of a WikiExtractor corpus into the build database, cut into segments.

    `workers` processes (default: all cores) are spawned, not forked: a script calling this needs the
    `if __name__ == "__main__":` guard; workers=1 works in this process. Raises IngestError when the
    source is missing, the language unknown, or nothing usable was read (then nothing is written)."""
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

    con = db.connect(database)
    memory_limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    try:
        last = con.execute("SELECT content_sha256, dump_date, tokenizer, max_tokens FROM raw.wiki_corpora "
                           "WHERE corpus = ? AND lang = ?", [corpus, lang]).fetchone()
        if last == (sha, report.dump_date, tokenizer_id, max_tokens):
            return report
        con.execute(f"SET memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
        stager = _Stager(con, report)
        total = sum(path.stat().st_size for path, _ in files)
        with tqdm(total=total, desc=f"{corpus} {lang}", unit="B", unit_scale=True, disable=not progress) as bar:
            items = iter_documents(source, fmt, on_read=bar.update)
            for chunk, results in _segmented(items, tokenizer_json, max_tokens, workers or _n_cores()):
                stager.add(chunk, results)
        stager.flush()
        stager.drop_duplicates()
        _swap_in(con, corpus, lang, source, sha, tokenizer_id, max_tokens, report)
        return report
    finally:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.close()
