"""Exact knowledge tracing over a sharded corpus -> raw.corpus_shards, raw.shard_fact_counts, then
raw.fact_presence and raw.wiki_corpora.

Each shard is traced by a worker (ingest/corpora.py; here, in local processes or on Ray actors)
and its counts are stored as soon as it is done, one transaction per shard: an interrupted run
resumes with the shards not traced yet. A shard is traced again only when it changed (size or
modification time) or what it is traced for did (the facts, the tokenizer, max_tokens, the
fields). The merge then replaces the (corpus, lang)'s presence flags and statistics in one
transaction: a fact's n_segments is the sum over the shards, its example the first shard's (in
name order) first segment holding both labels. A shard that cannot be read is quarantined (named
in raw.quarantine) and counts for nothing; the others count. No segment text enters DuckDB.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from compute import distributed
from compute.pool import n_cores
from compute.segments import tokenizer_identity
from ingest.corpora import ShardCounts, ShardTracer, list_shards, trace_shard
from ingest.problems import IngestError, Problem
from ingest.wikipedia import _parse_dump_date
from raw import db
from raw.languages import MLAMA_LANGUAGES
from raw.tables import CORPUS_SHARDS, SHARD_FACT_COUNTS


@dataclass
class CorpusTraceReport:
    corpus: str
    lang: str
    n_shards: int = 0
    n_traced: int = 0                  # shards traced in this run (the others were traced before)
    quarantined: list[str] = field(default_factory=list)   # "shard: why"
    n_documents: int = 0
    n_segments: int = 0
    n_tokens: int = 0
    n_bytes: int = 0
    n_present: int = 0
    n_facts: int = 0
    unchanged: bool = False

    def summary_lines(self) -> list[str]:
        what = f"{self.corpus} {self.lang}"
        if self.unchanged:
            return [f"{what}: unchanged ({self.n_shards:,} shards traced before)"]
        lines = [f"{what}: {self.n_shards:,} shards ({self.n_traced:,} traced now, {len(self.quarantined):,} "
                 f"quarantined), {self.n_documents:,} documents, {self.n_segments:,} segments, {self.n_tokens:,} "
                 f"tokens, {self.n_bytes / 1e6:,.1f} MB", f"  {self.n_present:,} of {self.n_facts:,} facts present"]
        if self.quarantined:
            lines.append(f"quarantined {len(self.quarantined):,} unreadable shard(s), not counted "
                         f"(first: {self.quarantined[0]})")
        return lines


def _where(problem: Problem) -> str:
    return f"{f'line {problem.line_no}: ' if problem.line_no else ''}{problem.problem}: {problem.detail}"


def _store(con, corpus: str, lang: str, fingerprint: str, counts: ShardCounts, uuids: list[str]) -> None:
    """One shard's statistics and fact counts, in one transaction (a retraced shard's replace its old ones)."""
    first = counts.refused or (counts.problems[0] if counts.problems else None)
    with db.transaction(con):
        for table in ("corpus_shards", "shard_fact_counts"):
            con.execute(f"DELETE FROM raw.{table} WHERE corpus = ? AND lang = ? AND shard = ?", [corpus, lang, counts.shard])
        con.execute(f"INSERT INTO {CORPUS_SHARDS.qualified} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                    [corpus, lang, counts.shard, fingerprint, counts.refused is not None, len(counts.problems),
                     first and _where(first), counts.n_documents, counts.n_segments, counts.n_tokens, counts.n_bytes])
        if counts.hits:
            hits = sorted(counts.hits.items())
            db.insert(con, SHARD_FACT_COUNTS, pa.table({
                "uuid": [uuids[fact] for fact, _ in hits], "n_segments": [h[0] for _, h in hits],
                "example_doc_id": [h[1] for _, h in hits], "example_seg_no": pa.array([h[2] for _, h in hits], pa.int32()),
            }), corpus=corpus, lang=lang, shard=counts.shard)


# One quarantine row per unreadable shard, and per readable shard with quarantined records (their count, the first)
QUARANTINE_SQL = """
INSERT INTO raw.quarantine
SELECT 'corpus', $lang, shard, NULL, CASE WHEN is_quarantined THEN 'unreadable_shard' ELSE 'quarantined_records' END,
       CASE WHEN is_quarantined THEN 'not counted: ' || problem
            ELSE n_quarantined || ' record(s) not counted, first: ' || problem END,
       $batch, now()
FROM raw.corpus_shards WHERE corpus = $corpus AND lang = $lang AND (is_quarantined OR n_quarantined > 0)
"""

MERGE_SQL = """
INSERT INTO raw.fact_presence (corpus, lang, uuid, is_present, n_segments, corpus_batch, facts_batch, traced_at,
                               example_shard, example_doc_id, example_seg_no)
WITH counts AS (
    SELECT c.uuid, sum(c.n_segments) AS n_segments,
           arg_min((c.shard, c.example_doc_id, c.example_seg_no), c.shard) AS example
    FROM raw.shard_fact_counts c
    JOIN raw.corpus_shards s USING (corpus, lang, shard)
    WHERE c.corpus = $corpus AND c.lang = $lang AND NOT s.is_quarantined
    GROUP BY c.uuid
)
SELECT $corpus, $lang, f.uuid, c.uuid IS NOT NULL, coalesce(c.n_segments, 0), $corpus_batch, $facts_batch, now(),
       c.example[1], c.example[2], c.example[3]
FROM raw.mlama_facts f
LEFT JOIN counts c USING (uuid)
WHERE f.lang = $lang
"""


def _merge(con, corpus: str, lang: str, source: Path, dump_date, tokenizer_id: str, max_tokens: int,
           facts_batch: int, report: CorpusTraceReport) -> None:
    """Replace the (corpus, lang)'s statistics and presence flags by the merge of its shards."""
    stats = con.execute("SELECT count(*) FILTER (NOT is_quarantined), coalesce(sum(n_documents), 0), "
                        "coalesce(sum(n_segments), 0), coalesce(sum(n_tokens), 0), coalesce(sum(n_bytes), 0), "
                        "count(*) FILTER (is_quarantined) FROM raw.corpus_shards WHERE corpus = ? AND lang = ?",
                        [corpus, lang]).fetchone()
    n_read, report.n_documents, report.n_segments, report.n_tokens, report.n_bytes, n_quarantined = stats
    if not n_read:
        raise IngestError(f"{source}: no readable shard (first: {report.quarantined[0] if report.quarantined else '-'})")
    fingerprints = con.execute("SELECT string_agg(fingerprint, ',' ORDER BY shard) FROM raw.corpus_shards "
                               "WHERE corpus = ? AND lang = ?", [corpus, lang]).fetchone()[0]
    sha = hashlib.sha256(f"{fingerprints}\0{dump_date}".encode()).hexdigest()
    last = con.execute("SELECT c.content_sha256, p.facts_batch FROM raw.wiki_corpora c LEFT JOIN "
                       "(SELECT DISTINCT corpus, lang, facts_batch FROM raw.fact_presence) p USING (corpus, lang) "
                       "WHERE c.corpus = ? AND c.lang = ?", [corpus, lang]).fetchone()
    if last == (sha, facts_batch):
        report.unchanged = True
    else:
        with db.transaction(con):
            batch = db.new_batch(con, "corpus", str(source), lang, sha, report.n_segments, n_quarantined)
            con.execute("DELETE FROM raw.quarantine WHERE kind = 'corpus' AND load_batch IN "
                        "(SELECT load_batch FROM raw.wiki_corpora WHERE corpus = ? AND lang = ?)", [corpus, lang])
            con.execute("DELETE FROM raw.wiki_corpora WHERE corpus = ? AND lang = ?", [corpus, lang])
            con.execute("INSERT INTO raw.wiki_corpora VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                        [corpus, lang, dump_date, tokenizer_id, max_tokens, *stats[1:5], sha, batch])
            con.execute(QUARANTINE_SQL, {"corpus": corpus, "lang": lang, "batch": batch})
            con.execute("DELETE FROM raw.fact_presence WHERE corpus = ? AND lang = ?", [corpus, lang])
            con.execute(MERGE_SQL, {"corpus": corpus, "lang": lang, "corpus_batch": batch, "facts_batch": facts_batch})
    report.n_present, report.n_facts = con.execute(
        "SELECT count(*) FILTER (is_present), count(*) FROM raw.fact_presence WHERE corpus = ? AND lang = ?",
        [corpus, lang]).fetchone()


def trace_corpus(database: str | Path, source: str | Path, lang: str, tokenizer, corpus: str | None = None,
                 max_tokens: int = 512, text_field: str = "text", id_field: str = "id",
                 dump_date: str | date | None = None, ray: str | None = None, workers: int | None = None,
                 progress: bool = True) -> CorpusTraceReport:
    """Trace the facts of `lang` through every shard of `source` (a file or a directory tree on a disk
    every worker reaches), exactly; `corpus` defaults to the source's name.

    Locally, `workers` processes (default: all cores; spawned, so a script needs the `__main__`
    guard); with `ray` (an address, "auto", or "" for a Ray on this machine), one actor per CPU of
    the cluster. The tokenizer (HF fast tokenizer) cuts documents into segments of at most
    `max_tokens` tokens, as ingest-wikipedia does."""
    source = Path(source)
    corpus = corpus or source.name
    if lang not in MLAMA_LANGUAGES:
        raise IngestError(f"unknown language code {lang!r} (mLAMA has {len(MLAMA_LANGUAGES)})")
    if max_tokens < 1:
        raise IngestError(f"max_tokens must be at least 1, not {max_tokens}")
    if not source.exists():
        raise IngestError(f"{source}: no such file or directory")
    dump_date = _parse_dump_date(dump_date)
    tokenizer_id, tokenizer_json = tokenizer_identity(tokenizer)
    con = db.connect(database)
    try:
        facts = con.execute("SELECT uuid, sub_label, obj_label FROM raw.mlama_facts WHERE lang = ? ORDER BY uuid",
                            [lang]).fetchall()
        facts_batch = con.execute("SELECT max(load_batch) FROM raw.mlama_facts WHERE lang = ?", [lang]).fetchone()[0]
        if not facts:
            raise IngestError(f"no mLAMA facts loaded for {lang!r} (run ingest-mlama first)")
        traced_for = f"{facts_batch}\0{tokenizer_id}\0{max_tokens}\0{text_field}\0{id_field}"
        shards = list_shards(source, traced_for)
        if not shards:
            raise IngestError(f"{source}: no files")
        report = CorpusTraceReport(corpus, lang, n_shards=len(shards))
        done = dict(con.execute("SELECT shard, fingerprint FROM raw.corpus_shards WHERE corpus = ? AND lang = ?",
                                [corpus, lang]).fetchall())
        names = [shard.name for shard in shards]
        with db.transaction(con):  # shards gone from the corpus
            for table in ("corpus_shards", "shard_fact_counts"):
                con.execute(f"DELETE FROM raw.{table} WHERE corpus = ? AND lang = ? AND NOT list_contains(?, shard)",
                            [corpus, lang, names])
        todo = [shard for shard in shards if done.get(shard.name) != shard.fingerprint]
        fingerprints = {shard.name: shard.fingerprint for shard in todo}
        uuids = [uuid for uuid, _, _ in facts]
        setup = partial(ShardTracer, facts, lang, tokenizer_json, max_tokens, text_field, id_field)
        n_local = None if ray is not None else min(workers or n_cores(), max(1, len(todo)))
        with distributed.workers(setup, ray, n_local) as pool, \
                tqdm(total=len(todo), desc=f"tracing {corpus} {lang}", unit="shard", disable=not progress) as bar:
            for shard, counts in pool.map(trace_shard, todo):
                _store(con, corpus, lang, fingerprints[shard.name], counts, uuids)
                report.n_traced += 1
                bar.update()
        report.quarantined = [f"{shard}: {problem}" for shard, problem in con.execute(
            "SELECT shard, problem FROM raw.corpus_shards WHERE corpus = ? AND lang = ? AND is_quarantined "
            "ORDER BY shard", [corpus, lang]).fetchall()]
        _merge(con, corpus, lang, source, dump_date, tokenizer_id, max_tokens, facts_batch, report)
        return report
    finally:
        con.close()
