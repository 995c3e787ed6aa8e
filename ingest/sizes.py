"""A per-language size table (CSV: `lang` plus one numeric column per measure) -> raw.language_sizes.

For example the paper's Wikipedia sizes (abstracts_size, articles_size). Loading a table under the
same source name replaces it; the same content again changes nothing. Bad rows are quarantined.
"""
from __future__ import annotations

import csv
import hashlib
import io
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


def ingest_sizes(database: str | Path, path: str | Path, source: str | None = None) -> SizesReport:
    """Load a size table; `source` names it (default: the file name without extension)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
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
        lang = (record.get("lang") or "").strip()
        if lang not in MLAMA_LANGUAGES:
            report.problems.append(Problem(str(path), line_no, "unknown_language", f"'{lang}'"))
            continue
        if lang in seen:
            report.problems.append(Problem(str(path), line_no, "duplicate_language", lang))
            continue
        seen.add(lang)
        for measure in measures:
            try:
                rows.append({"lang": lang, "measure": measure, "size": float(record[measure]), "line_no": line_no})
            except (TypeError, ValueError):
                report.problems.append(Problem(str(path), line_no, "not_a_number", f"{measure}={record[measure]!r}"))
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
