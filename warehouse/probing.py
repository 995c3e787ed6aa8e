"""Probe the facts in the warehouse with a masked or causal LM: facts -> shards -> raw.predictions."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from compute.ffn import FFNNotFoundError, ffn_output_projections
from compute.probe import probe as probe_facts
from raw import db
from raw.tables import CAPTURE_MODES, MLAMA_TEMPLATE
from warehouse.blocks import Block, blocks, model_workers, register_model, run, write_block

# Queries still to probe for a model: each (fact, template) of the first $limit facts per language
# (in a fixed pseudo-random order, the same in every language) that has no prediction built from the
# same inputs, or, for mLAMA's own template, whose activations are wanted ($capture: correct or all)
# and missing.
TODO_SQL = """
WITH chosen AS (
    SELECT f.lang, f.relation, f.uuid, f.sub_label, f.obj_label, md5(f.uuid) AS draw
    FROM raw.mlama_facts f
    WHERE $langs IS NULL OR list_contains($langs, f.lang)
    QUALIFY $limit IS NULL OR row_number() OVER (PARTITION BY f.lang ORDER BY md5(f.uuid)) <= $limit
), queries AS (
    SELECT c.*, t.template, t.template_id
    FROM chosen c
    JOIN raw.mlama_templates t USING (lang, relation)
), predicted AS (
    SELECT q.uuid, q.lang, q.template_id, p.is_correct, p.skip_reason IS NULL AS is_probed
    FROM queries q
    JOIN raw.predictions p
      ON p.model_id = $model_id AND p.lang = q.lang AND p.uuid = q.uuid AND p.template_id = q.template_id
     AND p.template = q.template AND p.sub_label = q.sub_label AND p.obj_label = q.obj_label
    QUALIFY row_number() OVER (PARTITION BY q.lang, q.uuid, q.template_id ORDER BY p.load_batch DESC) = 1
), captured AS (
    SELECT DISTINCT lang, uuid FROM raw.activations WHERE model_id = $model_id
)
SELECT q.lang, q.relation, q.uuid, q.template, q.template_id, q.sub_label, q.obj_label
FROM queries q
LEFT JOIN predicted p USING (lang, uuid, template_id)
WHERE p.uuid IS NULL
   OR q.template_id = $mlama
      AND (($capture = 'correct' AND p.is_correct) OR ($capture = 'all' AND p.is_probed))
      AND NOT EXISTS (SELECT 1 FROM captured a WHERE a.lang = q.lang AND a.uuid = q.uuid)
ORDER BY q.lang, q.draw, q.template_id
"""


@dataclass
class ProbeReport:
    model_id: str
    device: str
    family: str = "masked"
    probed: dict[str, int] = field(default_factory=dict)  # lang -> queries (fact, template) probed in this run
    n_facts: int = 0                                       # (lang, fact) pairs those queries are of
    n_already: int = 0                                     # queries skipped: probed before
    # lang -> the model's facts whose template puts [Y] before [X] (a causal LM cannot be asked them)
    object_before_subject: dict[str, int] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        total = sum(self.probed.values())
        lines = [f"probed {self.n_facts:,} facts ({total:,} queries) in {len(self.probed)} languages with "
                 f"{self.model_id} on {self.device} ({self.n_already:,} already probed)"]
        if self.family == "causal" and self.probed:
            counts = ", ".join(f"{lang} {self.object_before_subject.get(lang, 0):,}" for lang in sorted(self.probed))
            lines.append(f"  not probed, [Y] before [X] in the template (object_before_subject): {counts}")
        return lines


def _ffn_problem(loaded) -> str | None:
    """Why the model's FFN activations cannot be captured, or None."""
    try:
        ffn_output_projections(loaded)
    except FFNNotFoundError as exc:
        return str(exc)
    return None


def _probe_tables(loaded, block: Block, progress: bool, batch_size: int, activations: str,
                  activation_dtype: str) -> tuple[int, dict[str, pa.Table]]:
    """The block's predictions and the activations kept (from mLAMA's own template's queries only)."""
    is_mlama = pc.equal(block.facts["template_id"], MLAMA_TEMPLATE)
    pairs = []
    for queries, capture in ((block.facts.filter(is_mlama), activations),
                             (block.facts.filter(pc.invert(is_mlama)), "none")):
        if queries.num_rows:
            batches = probe_facts(loaded, queries, batch_size, progress, capture, activation_dtype)
            pairs += batches if capture != "none" else [(batch, None) for batch in batches]
    captured = [a for _, a in pairs if a is not None]
    return block.facts.num_rows, {"predictions": pa.Table.from_batches([p for p, _ in pairs]),
                                  "activations": pa.Table.from_batches(captured) if captured else None}


def _probe_block(loaded, block: Block, shard_dir: str | Path, model_id: str, batch_size: int, activations: str,
                 activation_dtype: str, progress: bool) -> int:
    """Probe one block and write its shards (predictions, then activations); a block whose shards are
    already there (a retry after its worker died) is not probed again. Returns its number of queries."""
    kinds = ("predictions",) if activations == "none" else ("predictions", "activations")
    tables = partial(_probe_tables, batch_size=batch_size, activations=activations, activation_dtype=activation_dtype)
    return write_block(loaded, block, shard_dir, model_id, kinds, tables, progress)


def probe(database: str | Path, model: str, shard_dir: str | Path, langs: list[str] | None = None,
          device: str | None = None, batch_size: int = 32, limit: int | None = None,
          activations: str = "correct", activation_dtype: str = "float16", shard_size: int = 2000,
          progress: bool = True, loaded=None, ray: str | None = None) -> ProbeReport:
    """Probe the queries of `langs` (default: every loaded language) that `model` has not probed yet:
    each fact with each template of its relation (mLAMA's own and the template sets loaded).

    `limit` takes the first facts per language in a fixed pseudo-random order by uuid (the same
    facts in every language, and the same on every run). `activations` says whose FFN activations
    to keep, from mLAMA's own template's query: "correct" facts (the PROBELESS population), "all"
    probed facts, or "none"; facts probed before without the activations asked for now are probed
    again. Results go to Parquet shards of at most `shard_size` queries, each loaded as soon as it
    is written, so an interrupted run resumes where it stopped. `loaded` passes an in-memory model
    (compute.models.wrap_model) instead of loading `model`. `ray`: a Ray address ("" a Ray on this
    machine, "auto" the running cluster) to probe on one actor per GPU (or CPU) of the cluster, each
    loading the model once and writing the same shards to `shard_dir` (a path or URI every node reaches).
    """
    if activations not in CAPTURE_MODES:
        raise ValueError(f"activations must be one of {', '.join(CAPTURE_MODES)}, not {activations!r}")
    with model_workers(database, model, shard_dir, device, loaded, ray) as pool:
        if activations != "none":  # before anything is written: refuse a model that cannot give them
            problem = pool.ask(_ffn_problem)
            if problem:
                raise FFNNotFoundError(f"{problem}; probe it with --activations none to keep its predictions only")
        row = register_model(pool, database, shard_dir)
        con = db.connect(database)
        try:
            if langs:
                known = {r[0] for r in con.execute("SELECT DISTINCT lang FROM raw.mlama_facts").fetchall()}
                missing = sorted(set(langs) - known)
                if missing:
                    raise ValueError(f"language(s) not loaded: {', '.join(missing)} (run ingest-mlama first)")
            params = {"model_id": row["model_id"], "langs": langs or None, "limit": limit, "capture": activations,
                      "mlama": MLAMA_TEMPLATE}
            todo = con.execute(TODO_SQL, params).to_arrow_table()
            done = con.execute("SELECT count(DISTINCT (lang, uuid, template_id)) FROM raw.predictions "
                               "WHERE model_id = ? AND (? IS NULL OR list_contains(?, lang))",
                               [row["model_id"], langs or None, langs or None]).fetchone()[0]
        finally:
            con.close()

        report = ProbeReport(row["model_id"], pool.ask(attrgetter("device")), row["family"], n_already=done)
        report.n_facts = len(set(zip(todo["lang"].to_pylist(), todo["uuid"].to_pylist())))
        work = partial(_probe_block, shard_dir=shard_dir, model_id=row["model_id"], batch_size=batch_size,
                       activations=activations, activation_dtype=activation_dtype)
        report.probed = run(pool, work, blocks(todo, shard_size), database, shard_dir, "probe", progress)
    con = db.connect(database)
    try:
        report.object_before_subject = {lang: 0 for lang in report.probed} | dict(con.execute(
            "SELECT lang, count(*) FROM raw.predictions WHERE model_id = ? AND skip_reason = 'object_before_subject' "
            "AND list_contains(?, lang) GROUP BY lang", [row["model_id"], list(report.probed)]).fetchall())
    finally:
        con.close()
    return report

