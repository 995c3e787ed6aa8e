"""Knowledge tracing: which facts occur in a language's corpus -> raw.fact_presence."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from compute.tracing import trace as trace_segments
from compute.tracing import trace_parallel
from raw import db

FETCH_ROWS = 20_000
PARALLEL_FROM_BYTES = 50_000_000  # below this, starting worker processes costs more than it saves


@dataclass
class TraceReport:
    traced: dict[str, tuple[int, int]] = field(default_factory=dict)  # lang -> (present, facts)
    unchanged: list[str] = field(default_factory=list)

    def summary_lines(self) -> list[str]:
        lines = [f"traced {len(self.traced)} languages, {len(self.unchanged)} unchanged"]
        lines += [f"  {lang}: {present:,} of {total:,} facts present" for lang, (present, total) in
                  sorted(self.traced.items())]
        return lines


def _segments(con, corpus: str, lang: str):
    """Stream (segment_id, text) of one language's corpus."""
    cursor = con.execute("SELECT segment_id, text FROM raw.wiki_segments WHERE corpus = ? AND lang = ?",
                         [corpus, lang])
    while rows := cursor.fetchmany(FETCH_ROWS):
        yield from rows


def trace(database: str | Path, corpus: str = "wikipedia", langs: list[str] | None = None,
          workers: int | None = None, progress: bool = True) -> TraceReport:
    """Flag every fact of each loaded language as present or absent in its corpus.

    Only languages whose corpus or mLAMA facts changed since they were last traced are traced
    again; each language's flags are replaced in one transaction."""
    con = db.connect(database)
    report = TraceReport()
    try:
        todo = con.execute("""
            SELECT c.lang, c.n_bytes, c.load_batch AS corpus_batch, f.facts_batch, p.corpus_batch AS traced_corpus,
                   p.facts_batch AS traced_facts
            FROM raw.wiki_corpora c
            JOIN (SELECT lang, max(load_batch) AS facts_batch FROM raw.mlama_facts GROUP BY lang) f USING (lang)
            LEFT JOIN (SELECT DISTINCT lang, corpus_batch, facts_batch FROM raw.fact_presence WHERE corpus = $corpus) p
              USING (lang)
            WHERE c.corpus = $corpus AND ($langs IS NULL OR list_contains($langs, c.lang))
              AND c.load_batch IN (SELECT load_batch FROM raw.load_batches WHERE kind = 'wikipedia')  -- not trace-corpus's
            ORDER BY c.lang""", {"corpus": corpus, "langs": langs or None}).fetchall()
        if not todo:
            raise ValueError(f"no {corpus} corpus loaded by ingest-wikipedia for a language with mLAMA facts "
                             f"(run ingest-wikipedia and ingest-mlama first; trace-corpus traces its own corpora)")
        for lang, n_bytes, corpus_batch, facts_batch, traced_corpus, traced_facts in tqdm(
                todo, desc="tracing", unit="lang", disable=not progress):
            if (traced_corpus, traced_facts) == (corpus_batch, facts_batch):
                report.unchanged.append(lang)
                continue
            facts = con.execute("SELECT uuid, sub_label, obj_label FROM raw.mlama_facts WHERE lang = ? "
                                "ORDER BY uuid", [lang]).fetchall()
            segments = _segments(con, corpus, lang)
            rows = trace_parallel(segments, facts, lang, workers) if n_bytes >= PARALLEL_FROM_BYTES \
                else trace_segments(segments, facts, lang)
            flags = pa.table({
                "uuid": [r.uuid for r in rows], "is_present": [r.present for r in rows],
                "n_segments": [r.n_segments for r in rows], "example_segment_id": [r.example_segment_id for r in rows],
            })
            with db.transaction(con):
                db.new_batch(con, "trace", corpus, lang, None, len(rows), 0)  # new flags: the next build sees them
                con.execute("DELETE FROM raw.fact_presence WHERE corpus = ? AND lang = ?", [corpus, lang])
                con.register("flags", flags)
                con.execute("INSERT INTO raw.fact_presence (corpus, lang, uuid, is_present, n_segments, "
                            "example_segment_id, corpus_batch, facts_batch, traced_at, example_doc_id, example_seg_no) "
                            "SELECT ?, ?, f.uuid, f.is_present, f.n_segments, f.example_segment_id, ?, ?, now(), "
                            "s.doc_id, s.seg_no FROM flags f LEFT JOIN raw.wiki_segments s "
                            "ON s.segment_id = f.example_segment_id", [corpus, lang, corpus_batch, facts_batch])
                con.unregister("flags")
            report.traced[lang] = (sum(r.present for r in rows), len(rows))
    finally:
        con.close()
    return report
