"""mLAMA release (a directory or the zip) -> raw.mlama_templates, raw.mlama_facts, raw.quarantine.

A templates.jsonl line may carry a template_id; without one it is mLAMA's own template ('mlama'),
the one every fact needs (ingest/templates.py loads template sets beside the release).

Each language folder is one load batch and one transaction. A folder whose content hash matches
its last load is skipped; a changed folder replaces that language's rows. Predictions made from
the old rows stay in raw.predictions; the models ignore those whose query inputs changed.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pyarrow as pa
from tqdm import tqdm

from ingest.problems import IngestError, Problem
from raw import db, tables
from raw.languages import MLAMA_LANGUAGES

FACT_FIELDS = ("sub_uri", "obj_uri", "sub_label", "obj_label", "lineid", "uuid")


@dataclass
class LanguageLoad:
    """What one language folder holds after validation."""

    lang: str
    content_sha256: str
    templates: list[dict] = field(default_factory=list)
    facts: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass
class IngestReport:
    what: str = "mLAMA"                                  # the release, or "template set NAME"
    loaded: list[str] = field(default_factory=list)      # languages (re)loaded
    unchanged: list[str] = field(default_factory=list)   # same content as last time
    n_facts: int = 0
    n_templates: int = 0
    problems: list[Problem] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        facts = f"{self.n_facts:,} facts, " if self.what == "mLAMA" else ""
        lines = [f"{self.what}: {len(self.loaded)} languages loaded ({facts}{self.n_templates:,} templates), "
                 f"{len(self.unchanged)} unchanged"]
        for kind, count in Counter(p.problem for p in self.problems).most_common():
            first = next(p for p in self.problems if p.problem == kind)
            where = first.source_file + (f":{first.line_no}" if first.line_no else "")
            lines.append(f"quarantined {count:,} x {kind} (first: {where}: {first.detail})")
        return lines


def language_files(source: Path) -> dict[str, dict[str, callable]]:
    """Map folder name -> {file name: reader of its bytes} for a directory or a zip."""
    folders: dict[str, dict[str, callable]] = {}
    if source.is_dir():
        for path in sorted(source.glob("*/*.jsonl")):
            folders.setdefault(path.parent.name, {})[f"{path.parent.name}/{path.name}"] = path.read_bytes
        return folders
    if zipfile.is_zipfile(source):
        archive = zipfile.ZipFile(source)
        for name in sorted(archive.namelist()):
            member = PurePosixPath(name)
            if member.suffix == ".jsonl" and len(member.parts) >= 2:
                lang = member.parent.name
                folders.setdefault(lang, {})[f"{lang}/{member.name}"] = (lambda n=name: archive.read(n))
        return folders
    raise IngestError(f"{source}: not a directory or a zip file")


def parse_lines(name: str, data: bytes, problems: list[Problem]):
    """Yield (line number, JSON object) for each valid line; record the bad ones."""
    for line_no, raw_line in enumerate(data.split(b"\n"), start=1):
        if not raw_line.strip():
            continue
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError as error:
            problems.append(Problem(name, line_no, "invalid_utf8", str(error)))
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(Problem(name, line_no, "malformed_json", error.msg))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(name, line_no, "malformed_json", "line is not a JSON object"))
            continue
        yield line_no, record


def read_templates(lang: str, name: str, data: bytes, problems: list[Problem], taken: dict[tuple, str],
                   default_id: str | None = tables.MLAMA_TEMPLATE, relations: set[str] | None = None) -> list[dict]:
    """The valid lines of a templates.jsonl ({"relation", "template", "template_id"}), as rows of
    raw.mlama_templates; the bad ones go to `problems`. A line without a template_id gets
    `default_id` (None: it must have one). A (relation, template_id) may occur once: in this file, and
    in `taken` ((relation, template_id) -> where, the templates of the language loaded from elsewhere).
    `relations`, when given, are the relations a line may name (those of the facts loaded)."""
    rows: list[dict] = []
    seen = dict(taken)
    for line_no, record in parse_lines(name, data, problems):
        relation, template = record.get("relation"), record.get("template")
        template_id = record.get("template_id", default_id)
        if not isinstance(relation, str) or not isinstance(template, str):
            problems.append(Problem(name, line_no, "missing_field", "needs string fields 'relation' and 'template'"))
        elif not isinstance(template_id, str) or not template_id.strip():
            problems.append(Problem(name, line_no, "missing_field", "needs a non-empty string field 'template_id'"))
        elif relations is not None and relation not in relations:
            problems.append(Problem(name, line_no, "unknown_relation", f"no fact of {relation} is loaded in {lang}"))
        elif "[X]" not in template:
            problems.append(Problem(name, line_no, "template_missing_x", template))
        elif "[Y]" not in template:
            problems.append(Problem(name, line_no, "template_missing_y", template))
        elif (relation, template_id) in seen:
            problems.append(Problem(name, line_no, "duplicate_template",
                                    f"{relation} template_id '{template_id}' first at {seen[relation, template_id]}"))
        else:
            seen[relation, template_id] = f"{name}:{line_no}"
            rows.append(dict(lang=lang, relation=relation, template=template, template_id=template_id,
                             source_file=name, line_no=line_no))
    return rows


def read_language(lang: str, files: dict[str, callable], taken: dict[str, dict] | None = None) -> LanguageLoad:
    """Read and validate one language folder; `taken`: lang -> the templates loaded by template
    sets ((relation, template_id) -> where), which the folder's templates may not repeat."""
    digest = hashlib.sha256()
    contents = {}
    for name in sorted(files):
        contents[name] = files[name]()
        digest.update(name.encode() + b"\0" + contents[name] + b"\0")
    load = LanguageLoad(lang, digest.hexdigest())
    if lang not in MLAMA_LANGUAGES:
        load.problems.append(Problem(f"{lang}/", None, "unknown_language",
                                     f"'{lang}' is not an mLAMA language code"))
        return load

    template_name = f"{lang}/templates.jsonl"
    if template_name not in contents:
        load.problems.append(Problem(template_name, None, "missing_templates", "no such file: no fact can be queried"))
    load.templates = read_templates(lang, template_name, contents.pop(template_name, b""), load.problems,
                                    taken.get(lang, {}) if taken else {})
    templates = {t["relation"]: t["template"] for t in load.templates if t["template_id"] == tables.MLAMA_TEMPLATE}

    first_seen: dict[str, str] = {}
    for name, data in contents.items():
        relation = PurePosixPath(name).stem
        for line_no, record in parse_lines(name, data, load.problems):
            missing = [f for f in FACT_FIELDS if record.get(f) is None]
            if missing:
                load.problems.append(Problem(name, line_no, "missing_field", "missing " + ", ".join(missing)))
                continue
            sub_label, obj_label = str(record["sub_label"]), str(record["obj_label"])
            uuid = str(record["uuid"])
            if not sub_label.strip() or not obj_label.strip():
                load.problems.append(Problem(name, line_no, "empty_label", f"uuid {uuid}"))
            elif relation not in templates:
                load.problems.append(Problem(name, line_no, "no_template", f"no valid mLAMA template (template_id "
                                             f"'{tables.MLAMA_TEMPLATE}') for {relation} in {template_name}"))
            elif uuid in first_seen:
                load.problems.append(Problem(name, line_no, "duplicate_uuid",
                                             f"{uuid} first seen at {first_seen[uuid]}"))
            else:
                first_seen[uuid] = f"{name}:{line_no}"
                load.facts.append(dict(
                    lang=lang, relation=relation, uuid=uuid, sub_uri=str(record["sub_uri"]),
                    obj_uri=str(record["obj_uri"]), sub_label=sub_label, obj_label=obj_label,
                    lineid=record["lineid"] if isinstance(record["lineid"], int) else None,
                    source_file=name, line_no=line_no,
                ))
    return load


def _store(con, load: LanguageLoad, source: str) -> None:
    """Replace the language's rows with this load, in one transaction."""
    with db.transaction(con):
        batch = db.new_batch(con, "mlama", source, load.lang, load.content_sha256,
                             len(load.facts) + len(load.templates), len(load.problems))
        con.execute("DELETE FROM raw.mlama_facts WHERE lang = ?", [load.lang])
        con.execute("DELETE FROM raw.mlama_templates WHERE lang = ? AND load_batch IN "
                    "(SELECT load_batch FROM raw.load_batches WHERE kind = 'mlama')", [load.lang])  # not the sets'
        con.execute("DELETE FROM raw.quarantine WHERE kind = 'mlama' AND lang = ?", [load.lang])
        for table, rows in ((tables.MLAMA_FACTS, load.facts), (tables.MLAMA_TEMPLATES, load.templates)):
            db.insert(con, table, pa.Table.from_pylist(rows, schema=table.arrow_schema(("load_batch", "loaded_at"))),
                      load_batch=batch)
        problems = [{"lang": load.lang, **vars(p)} for p in load.problems]
        db.insert(con, tables.QUARANTINE, pa.Table.from_pylist(problems, schema=PROBLEM_SCHEMA),
                  kind="mlama", load_batch=batch)


PROBLEM_SCHEMA = tables.QUARANTINE.arrow_schema(("kind", "load_batch", "loaded_at"))


def ingest_mlama(database: str | Path, source: str | Path, langs: list[str] | None = None,
                 strict: bool = False, progress: bool = True) -> IngestReport:
    """Load an mLAMA release (directory or zip) into the build database.

    Raises IngestError when nothing usable was read, or when `strict` and any row was quarantined
    (in strict mode nothing is written at all); and, after loading the other languages, when an
    mLAMA language folder gave no usable fact (its rows loaded before are kept).
    """
    source = Path(source)
    if not source.exists():
        raise IngestError(f"{source}: no such file or directory")
    if langs:
        unknown = sorted(set(langs) - MLAMA_LANGUAGES)
        if unknown:
            raise IngestError(f"unknown language code(s): {', '.join(unknown)} (mLAMA has {len(MLAMA_LANGUAGES)})")
    folders = language_files(source)
    if langs:
        missing = sorted(set(langs) - set(folders))
        if missing:
            raise IngestError(f"{source}: no folder for language(s) {', '.join(missing)}")
        folders = {lang: files for lang, files in folders.items() if lang in langs}
    if not folders:
        raise IngestError(f"{source}: no <lang>/*.jsonl files found")

    taken = {}
    if Path(database).exists():
        con = db.connect(database)
        try:
            taken = other_templates(con)
        finally:
            con.close()
    loads = [read_language(lang, files, taken)
             for lang, files in tqdm(folders.items(), desc="reading mLAMA", unit="lang", disable=not progress)]
    report = IngestReport(problems=[p for load in loads for p in load.problems])
    if strict and report.problems:
        raise IngestError("strict: " + "; ".join(report.summary_lines()[1:]))
    if not any(load.facts for load in loads):
        raise IngestError(f"{source}: no usable facts read; " + "; ".join(report.summary_lines()[1:]))

    con = db.connect(database)
    try:
        last = dict(con.execute("""
            SELECT lang, arg_max(content_sha256, load_batch) FROM raw.load_batches
            WHERE kind = 'mlama' GROUP BY lang""").fetchall())
        dropped = [load for load in loads if load.lang in MLAMA_LANGUAGES and not load.facts]
        for load in tqdm(loads, desc="loading mLAMA", unit="lang", disable=not progress):
            if load in dropped:
                continue
            if last.get(load.lang) == load.content_sha256:
                report.unchanged.append(load.lang)
                continue
            _store(con, load, str(source))
            report.loaded.append(load.lang)
            report.n_facts += len(load.facts)
            report.n_templates += len(load.templates)
    finally:
        con.close()
    if dropped:
        raise IngestError("; ".join(_not_loaded(load) for load in dropped) +
                          f" ({len(report.loaded)} other language(s) loaded, {len(report.unchanged)} unchanged)")
    return report


def other_templates(con, template_set: str | None = None) -> dict[str, dict[tuple, str]]:
    """lang -> {(relation, template_id): where} of the templates loaded, but those of the mLAMA
    release (`template_set` None) or of the template set loaded from `template_set`."""
    found: dict[str, dict[tuple, str]] = {}
    for lang, relation, template_id, where in con.execute("""
            SELECT t.lang, t.relation, t.template_id, b.source || ': ' || t.source_file || ':' || t.line_no
            FROM raw.mlama_templates t JOIN raw.load_batches b USING (load_batch)
            WHERE CASE WHEN $set IS NULL THEN b.kind <> 'mlama' ELSE b.kind <> 'templates' OR b.source <> $set END
            """, {"set": template_set}).fetchall():
        found.setdefault(lang, {})[relation, template_id] = where
    return found


def _not_loaded(load: LanguageLoad) -> str:
    """One line on a language folder that gave no usable fact, naming its first problem."""
    first = load.problems[0] if load.problems else Problem(f"{load.lang}/", None, "no_facts", "no fact files")
    where = first.source_file + (f":{first.line_no}" if first.line_no else "")
    n_lines = sum(p.problem != "missing_templates" and not p.source_file.endswith("templates.jsonl")
                  for p in load.problems)
    return (f"{load.lang} not loaded: none of its {n_lines:,} fact lines is usable "
            f"({first.problem} at {where}: {first.detail}); rows loaded before are kept")
