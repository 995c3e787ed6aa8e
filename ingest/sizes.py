"""A per-language size table (CSV: `lang` plus one numeric column per measure) -> raw.language_sizes.

For example the paper's Wikipedia sizes (abstracts_size, articles_size). Loading a table under the
same source name replaces it; the same content again changes nothing. A language mLAMA does not
have, or one given twice, is quarantined; a value that is not a finite number >= 0, or a row with
more or fewer fields than the header, refuses the whole file (the table loaded before stays).
"""
from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from ingest.problems import IngestError, Problem
from raw import db, tables
from raw.languages import MLAMA_LANGUAGES


@dataclass
class SizesReport:
    source: str
    n_rows: int = 0
    unchanged: bool = False
    problems: list[Problem] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        if self.unchanged:
            return [f"sizes {self.source}: unchanged"]
        lines = [f"sizes {self.source}: {self.n_rows:,} values loaded"]
        lines += [f"quarantined {p.source_file}:{p.line_no}: {p.problem} ({p.detail})" for p in self.problems]
        return lines


def _check_fields(path: Path, line_no: int, record: dict, n_fields: int) -> None:
    # csv.DictReader puts fields past the header's under None, and fills missing ones with None
    n = sum(value is not None for key, value in record.items() if key is not None) + len(record.get(None) or [])
    if n != n_fields:
        raise IngestError(f"{path}:{line_no}: {n} fields, the header has {n_fields}; nothing loaded")


def _size(path: Path, line_no: int, measure: str, text: str) -> float:
    try:
        size = float(text)
    except ValueError:
        size = math.nan
    if not (math.isfinite(size) and size >= 0):
        raise IngestError(f"{path}:{line_no}: {measure}={text!r} is not a size (a finite number >= 0); nothing loaded")
    return size


def ingest_sizes(database: str | Path, path: str | Path, source: str | None = None) -> SizesReport:
    """Load a size table; `source` names it (default: the file name without extension)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")  # a byte-order mark is not part of the first column's name
    except OSError as error:
        raise IngestError(f"{path}: {error.strerror}") from error
    except UnicodeDecodeError as error:
        raise IngestError(f"{path}: not UTF-8 ({error.reason} at byte {error.start})") from error
    source = source or path.stem
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "lang" not in reader.fieldnames or len(reader.fieldnames) < 2:
        raise IngestError(f"{path}:1: needs a 'lang' column and at least one size column")
    measures = [name for name in reader.fieldnames if name != "lang"]
    report, rows, seen = SizesReport(source), [], set()
    for line_no, record in enumerate(reader, start=2):
        _check_fields(path, line_no, record, len(reader.fieldnames))
        lang = (record.get("lang") or "").strip()
        if lang not in MLAMA_LANGUAGES:
            report.problems.append(Problem(str(path), line_no, "unknown_language", f"'{lang}'"))
            continue
        if lang in seen:
            report.problems.append(Problem(str(path), line_no, "duplicate_language", lang))
            continue
        seen.add(lang)
        rows += [{"lang": lang, "measure": measure, "size": _size(path, line_no, measure, record[measure]),
                  "line_no": line_no} for measure in measures]
    if not rows:
        raise IngestError(f"{path}: no usable rows")
    digest = hashlib.sha256(source.encode() + b"\0" + data).hexdigest()
    con = db.connect(database)
    try:
        last = con.execute("SELECT arg_max(content_sha256, load_batch) FROM raw.load_batches "
                           "WHERE kind = 'sizes' AND source = ?", [source]).fetchone()[0]
        if last == digest:
            report.unchanged = True
            return report
        with db.transaction(con):
            batch = db.new_batch(con, "sizes", source, None, digest, len(rows), len(report.problems))
            con.execute("DELETE FROM raw.language_sizes WHERE source = ?", [source])
            con.execute("DELETE FROM raw.quarantine WHERE kind = 'sizes' AND source_file = ?", [str(path)])
            db.insert(con, tables.LANGUAGE_SIZES, pa.Table.from_pylist(rows), source=source,
                      source_file=str(path), load_batch=batch)
            problems = pa.Table.from_pylist([vars(p) for p in report.problems],
                                            schema=tables.QUARANTINE.arrow_schema(("kind", "lang", "load_batch", "loaded_at")))
            db.insert(con, tables.QUARANTINE, problems, kind="sizes", lang=None, load_batch=batch)
        report.n_rows = len(rows)
        return report
    finally:
        con.close()
