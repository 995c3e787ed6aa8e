"""WikiExtractor output (or plain text) -> Documents, and a Problem for each rejected one.

Input: one file or a directory tree (`AA/wiki_00`, ...; files read in path order, hidden files
skipped), each plain, gzip or bzip2 (told by its first bytes, not its name). A file's format is
told by its first non-blank line: `{` starts JSON lines (`--json`), `<doc` the `<doc ...>` text
format, anything else plain text with one document per non-blank line (doc_id `file:line`);
`fmt` forces one. In the `<doc>` format the title line WikiExtractor writes after the tag is
dropped, as `--json` output has none.
"""
from __future__ import annotations

import bz2
import gzip
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ingest.problems import IngestError, Problem

FORMATS = ("auto", "json", "doc", "text")
_DOC_OPEN = re.compile(rb"<doc(\s[^\n]*)?>\s*$")
_ATTRIBUTE = re.compile(r'(\w+)="(.*?)"(?=\s+\w+="|\s*$)')


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
    for path, name in input_files(Path(source)):
        line_no = 0
        try:
            file_fmt, lines = _detect(_lines(path, on_read)) if fmt == "auto" else (fmt, _lines(path, on_read))
            for item in _PARSERS[file_fmt](lines, name):
                line_no = item.line_no
                yield item
        except (OSError, EOFError) as error:  # damaged compressed stream: keep what came before
            yield Problem(name, line_no or None, "unreadable_file", str(error) or type(error).__name__)
