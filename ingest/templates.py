"""Template sets (paraphrases, ParaRel / RML-LAMA style) -> raw.mlama_templates, raw.quarantine.

A set is a folder (or zip) laid out like the mLAMA release, <lang>/templates.jsonl, one template a
line: {"relation": "P19", "template": "[X] was born in [Y] .", "template_id": "born-in-2"}. Other
files are ignored, so a release whose templates.jsonl carries extra template_ids is a set too.
A set is known by its folder's absolute path. Each (set, language) is one load batch and one
transaction, replacing the templates that set gave the language before; the same file over the same
facts again changes nothing. The language's mLAMA facts must be loaded first. Quarantined, with file
and line: a language that is not mLAMA's or has no facts loaded (unknown_language), a relation
without facts in the language (unknown_relation), a template_id the relation already has in the
language (duplicate_template: mLAMA's own 'mlama', another set's, or an earlier line's), a template
without [X] or [Y], a line without template_id. A language whose file gives no usable template is
not loaded (what the set gave it before stays) and is named in an error after the others load.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from ingest.mlama import (PROBLEM_SCHEMA, IngestReport, LanguageLoad, language_files, other_templates,
                          read_templates)
from ingest.problems import IngestError, Problem
from raw import db, tables
from raw.languages import MLAMA_LANGUAGES

TEMPLATE_FILE = "templates.jsonl"


def _read(lang: str, name: str, data: bytes, facts_batch: int | None, relations: set[str] | None,
          taken: dict[tuple, str]) -> LanguageLoad:
    """Validate one language's templates.jsonl of the set; its hash covers the facts it was checked against."""
    load = LanguageLoad(lang, hashlib.sha256(data + f"\0{facts_batch}".encode()).hexdigest())
    if lang not in MLAMA_LANGUAGES:
        load.problems.append(Problem(name, None, "unknown_language", f"'{lang}' is not an mLAMA language code"))
    elif relations is None:
        load.problems.append(Problem(name, None, "unknown_language",
                                     f"no mLAMA facts of '{lang}' loaded (run ingest-mlama on the release first)"))
    else:
        load.templates = read_templates(lang, name, data, load.problems, taken, default_id=None, relations=relations)
        if not load.templates and not load.problems:
            load.problems.append(Problem(name, None, "no_templates", "the file holds no template line"))
    return load


def _store(con, load: LanguageLoad, source: str) -> None:
    """Replace what the set gave the language before with this load, in one transaction."""
    with db.transaction(con):
        before = "(SELECT load_batch FROM raw.load_batches WHERE kind = 'templates' AND source = ? AND lang = ?)"
        con.execute(f"DELETE FROM raw.mlama_templates WHERE load_batch IN {before}", [source, load.lang])
        con.execute(f"DELETE FROM raw.quarantine WHERE load_batch IN {before}", [source, load.lang])
        batch = db.new_batch(con, "templates", source, load.lang, load.content_sha256, len(load.templates),
                             len(load.problems))
        db.insert(con, tables.MLAMA_TEMPLATES,
                  pa.Table.from_pylist(load.templates, schema=tables.MLAMA_TEMPLATES.arrow_schema(("load_batch", "loaded_at"))),
                  load_batch=batch)
        db.insert(con, tables.QUARANTINE, pa.Table.from_pylist(
            [{"lang": load.lang, **vars(p)} for p in load.problems], schema=PROBLEM_SCHEMA),
            kind="templates", load_batch=batch)


def ingest_templates(database: str | Path, source: str | Path, langs: list[str] | None = None,
                     strict: bool = False, progress: bool = True) -> IngestReport:
    """Load a template set (a folder or zip of <lang>/templates.jsonl) beside the loaded mLAMA facts.

    Raises IngestError when no file of the set gives a usable template, or when `strict` and any line
    was quarantined (nothing is written then); and, after loading the other languages, when a file
    gave none (the templates the set gave that language before are kept)."""
    source = Path(source)
    if not source.exists():
        raise IngestError(f"{source}: no such file or directory")
    if not Path(database).exists():
        raise IngestError("no mLAMA facts loaded yet: run ingest-mlama on the release first")
    files = {lang: found[f"{lang}/{TEMPLATE_FILE}"] for lang, found in language_files(source).items()
             if f"{lang}/{TEMPLATE_FILE}" in found}
    if langs:
        missing = sorted(set(langs) - set(files))
        if missing:
            raise IngestError(f"{source}: no {TEMPLATE_FILE} for language(s) {', '.join(missing)}")
        files = {lang: read for lang, read in files.items() if lang in langs}
    if not files:
        raise IngestError(f"{source}: no <lang>/{TEMPLATE_FILE} found")
    set_id = source.resolve().as_posix()
    report = IngestReport(what=f"template set {source.name}")
    con = db.connect(database)
    try:
        facts = {lang: (batch, set(relations)) for lang, batch, relations in con.execute(
            "SELECT lang, max(load_batch), list(DISTINCT relation) FROM raw.mlama_facts GROUP BY lang").fetchall()}
        taken = other_templates(con, set_id)
        last = dict(con.execute("SELECT lang, arg_max(content_sha256, load_batch) FROM raw.load_batches "
                                "WHERE kind = 'templates' AND source = ? GROUP BY lang", [set_id]).fetchall())
        loads = [_read(lang, f"{source.name}/{lang}/{TEMPLATE_FILE}", read(), *facts.get(lang, (None, None)),
                       taken.get(lang, {}))
                 for lang, read in tqdm(files.items(), desc="reading templates", unit="lang", disable=not progress)]
        report.problems = [p for load in loads for p in load.problems]
        if strict and report.problems:
            raise IngestError("strict: " + "; ".join(report.summary_lines()[1:]))
        if not any(load.templates for load in loads):
            raise IngestError(f"{source}: no usable template read; " + "; ".join(report.summary_lines()[1:]))
        dropped = [load for load in loads if load.lang in facts and not load.templates]
        for load in loads:
            if load in dropped:
                continue
            if last.get(load.lang) == load.content_sha256:
                report.unchanged.append(load.lang)
                continue
            _store(con, load, set_id)
            report.loaded.append(load.lang)
            report.n_templates += len(load.templates)
    finally:
        con.close()
    if dropped:
        first = [load.problems[0] for load in dropped]
        raise IngestError("; ".join(f"{load.lang} not loaded: no usable template ({p.problem} at {p.source_file}"
                                    f"{f':{p.line_no}' if p.line_no else ''}: {p.detail})"
                                    for load, p in zip(dropped, first))
                          + f"; what the set gave before is kept ({len(report.loaded)} other language(s) loaded, "
                          f"{len(report.unchanged)} unchanged)")
    return report
