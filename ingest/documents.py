"""WikiExtractor output (or plain text) -> Documents, and a Problem for each rejected one.

Input: one file or a directory tree (`AA/wiki_00`, ...; files read in path order, hidden files
skipped), each plain, gzip, bzip2 or zstandard (told by its first bytes, not its name). A file's format is
told by its first non-blank line: `{` or a whole JSON array starts JSON lines (`--json`), `<doc`
the `<doc ...>` text format, anything else plain text with one document per non-blank line
(doc_id `file:line`); `fmt` forces one. JSON lines name their document id and text by the
fields `id` and `text` (other corpora's names can be given: `url`, `content`, ...). In the `<doc>` format the title line WikiExtractor writes
after the tag is dropped, as `--json` output has none.

What a corpus file must be, else it is refused whole by a Problem of a FILE_REFUSALS kind, at the
line where it shows:
- UTF-8 text: a UTF-16 or UTF-32 byte-order mark, or a NUL byte anywhere, refuses it as
  `refused_encoding`, naming the encoding it looks like (a UTF-8 byte-order mark is dropped);
- text, not binary data: more than MAX_CONTROL_SHARE of its documents' characters C0 or C1
  control characters (U+0000-U+001F, U+007F-U+009F) other than tab, newline and carriage return
  refuses it as `refused_control_characters`;
- the structure it claims: more than BAD_RECORDS_TOLERATED bad records (lines that are not a JSON
  object with id and text, `<doc>`s not closed, lines outside a `<doc>`, invalid UTF-8...) that are
  also more than MAX_BAD_SHARE of its records refuse it as `refused_structure`; fewer are
  quarantined one by one.
A compressed stream that is damaged or cut short gives an `unreadable_file` Problem (DAMAGED)
saying how many documents were read before the damage. Either is its file's last item, after the
documents read before it was found: a consumer that keeps documents drops a refused file's.
"""
from __future__ import annotations

import bz2
import gzip
import html
import io
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa

from ingest.problems import IngestError, Problem

FORMATS = ("auto", "json", "doc", "text")
_DOC_OPEN = re.compile(rb"<doc(\s[^\n]*)?>\s*$")
_ATTRIBUTE = re.compile(r'(\w+)="(.*?)"(?=\s+\w+="|\s*$)')
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_UTF8_BOM = b"\xef\xbb\xbf"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_FOREIGN_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32-LE"), (b"\x00\x00\xfe\xff", "UTF-32-BE"),
                 (b"\xff\xfe", "UTF-16-LE"), (b"\xfe\xff", "UTF-16-BE"))
_FORMAT_NAMES = {"json": "WikiExtractor JSON-lines file", "doc": "WikiExtractor <doc> file",
                 "text": "UTF-8 text file"}

MAX_CONTROL_SHARE = 0.01      # of a file's document characters
BAD_RECORDS_TOLERATED = 10    # bad records a file may always have
MAX_BAD_SHARE = 0.10          # of a file's records, beyond BAD_RECORDS_TOLERATED
FILE_REFUSALS = frozenset({"refused_encoding", "refused_control_characters", "refused_structure"})
DAMAGED = "unreadable_file"


@dataclass(frozen=True)
class Document:
    doc_id: str
    title: str | None
    url: str | None
    text: str
    source_file: str
    line_no: int


def input_files(source: Path) -> list[tuple[Path, str]]:
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


class _Refused(Exception):
    """The file is not UTF-8 text: (line number, detail)."""


def _encoding_refusal(line_no: int, line: bytes) -> _Refused | None:
    """Why a line shows the file is not UTF-8 text, if it does."""
    if line_no == 1:
        for bom, encoding in _FOREIGN_BOMS:
            if line.startswith(bom):
                return _Refused(line_no, f"starts with a {encoding} byte-order mark: {encoding} text, not UTF-8")
    if b"\0" in line:
        n_nul = line.count(0)
        guess = "looks like UTF-32" if n_nul > 0.6 * len(line) else \
            "looks like UTF-16" if n_nul > 0.3 * len(line) else "binary data"
        return _Refused(line_no, f"NUL bytes ({n_nul:,} of the line's {len(line):,}): {guess}, not UTF-8 text")
    return None


def _lines(path: Path, on_read: Callable[[int], None] | None) -> Iterator[tuple[int, bytes]]:
    """(line number, line without its line end) of a plain, gzip, bzip2 or zstandard file; _Refused at
    the first line that shows it is not UTF-8 text."""
    with open(path, "rb") as raw:
        magic = raw.read(4)
        raw.seek(0)
        stream = gzip.GzipFile(fileobj=raw) if magic[:2] == b"\x1f\x8b" else \
            bz2.BZ2File(raw) if magic[:3] == b"BZh" else \
            io.BufferedReader(pa.CompressedInputStream(pa.PythonFile(raw, mode="r"), "zstd")) \
            if magic == _ZSTD_MAGIC else raw
        done = 0
        for line_no, line in enumerate(stream, start=1):
            if refusal := _encoding_refusal(line_no, line):
                raise refusal
            line = line.rstrip(b"\r\n")
            yield line_no, line.removeprefix(_UTF8_BOM) if line_no == 1 else line
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
            fmt = "json" if head.startswith(b"{") or _is_json_array(head) else \
                "doc" if head.startswith(b"<doc") else "text"
            return fmt, _prepend((line_no, line), lines)
    return "text", iter(())


def _is_json_array(line: bytes) -> bool:
    """Whether a line is a whole JSON array (lines of arrays claim JSON lines, as badly as can be)."""
    if not line.startswith(b"["):
        return False
    try:
        return isinstance(json.loads(line), list)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return False


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


def _parse_json(lines, name: str, text_field: str = "text", id_field: str = "id"):
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
        missing = [key for key, kinds in ((id_field, (str, int)), (text_field, str))
                   if not isinstance(record.get(key), kinds)]
        if missing:
            yield Problem(name, line_no, "missing_field", "missing or not a string: " + ", ".join(missing))
            continue
        title, url = record.get("title"), record.get("url")
        document = Document(str(record[id_field]), title if isinstance(title, str) else None,
                            url if isinstance(url, str) else None, record[text_field], name, line_no)
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


class _Tally:
    """What one file held so far, for the checks of the module doc."""

    def __init__(self, name: str):
        self.name = name
        self.n_documents = self.n_bad = self.n_chars = self.n_controls = 0
        self.first_bad: Problem | None = None
        self.first_control_line: int | None = None
        self.last_line = 0

    def add(self, item: Document | Problem) -> None:
        self.last_line = item.line_no
        if isinstance(item, Problem):
            self.n_bad += 1
            self.first_bad = self.first_bad or item
            return
        self.n_documents += 1
        self.n_chars += len(item.text)
        if n_controls := len(_CONTROL.findall(item.text)):
            self.n_controls += n_controls
            self.first_control_line = self.first_control_line or item.line_no

    def refusal(self, fmt: str) -> Problem | None:
        """The Problem that refuses the file, if the items so far break a rule."""
        if self.n_controls > MAX_CONTROL_SHARE * self.n_chars:
            return Problem(self.name, self.first_control_line, "refused_control_characters",
                           f"{self.n_controls / self.n_chars:.1%} of its characters are control characters "
                           f"(more than {MAX_CONTROL_SHARE:.0%}): not text")
        n_records = self.n_documents + self.n_bad
        if self.n_bad > BAD_RECORDS_TOLERATED and self.n_bad > MAX_BAD_SHARE * n_records:
            first = self.first_bad
            return Problem(self.name, first.line_no, "refused_structure",
                           f"{self.n_bad:,} of its {n_records:,} records bad (first: {first.problem}: "
                           f"{first.detail}): not a {_FORMAT_NAMES[fmt]}")
        return None


def iter_documents(source: str | Path, fmt: str = "auto", on_read: Callable[[int], None] | None = None,
                   text_field: str = "text", id_field: str = "id") -> Iterator[Document | Problem]:
    """Every Document of a file or directory tree, and a Problem for each rejected one, in file order;
    a file that breaks a rule of the module doc ends with one file Problem.

    `on_read(n)` is told the source bytes (compressed, as on disk) read since its last call;
    `text_field` and `id_field` name a JSON line's text and document id."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (use {', '.join(FORMATS)})")
    parsers = {**_PARSERS, "json": lambda lines, name: _parse_json(lines, name, text_field, id_field)}
    for path, name in input_files(Path(source)):
        tally, file_fmt, damage = _Tally(name), fmt, None
        try:
            file_fmt, lines = _detect(_lines(path, on_read)) if fmt == "auto" else (fmt, _lines(path, on_read))
            for item in parsers[file_fmt](lines, name):
                tally.add(item)
                yield item
        except _Refused as refusal:
            line_no, detail = refusal.args
            yield Problem(name, line_no, "refused_encoding", detail)
            continue
        except (OSError, EOFError, zlib.error, pa.ArrowException) as error:  # a damaged compressed stream
            damage = Problem(name, tally.last_line or None, DAMAGED,
                             f"{str(error) or type(error).__name__}; {tally.n_documents:,} documents read "
                             f"before the damage")
        refusal = tally.refusal(file_fmt)
        if refusal or damage:
            yield refusal or damage
