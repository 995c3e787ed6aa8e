"""Knowledge neurons and interventions: probed facts -> shards -> raw.attributions, and the neuron
sets the build computed -> shards -> raw.interventions. Both resume where they stopped."""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from compute.attribution import attribute as attribute_queries, candidates
from compute.interventions import OPS, Edit, outcomes
from compute.models import load_model, model_row
from compute.probe import build_for
from compute.queries import QueryError
from ingest import shards
from raw import db, tables

# The current prediction of each query (fact, template) by a model
CURRENT_PREDICTIONS = """
SELECT model_id, lang, uuid, template_id, template, sub_label, obj_label, is_correct,
       skip_reason IS NULL AS is_probed, load_batch
FROM raw.predictions
WHERE model_id = $model_id
QUALIFY row_number() OVER (PARTITION BY model_id, lang, uuid, template_id ORDER BY load_batch DESC) = 1
"""

# Queries still to attribute: correct (or, with population "all", probed) facts whose current
# prediction has no attribution with these steps loaded after it; the first $limit per language.
ATTRIBUTE_TODO = f"""
WITH current AS ({CURRENT_PREDICTIONS})
SELECT lang, uuid, template_id, template, sub_label, obj_label
FROM current c
WHERE (is_correct OR ($population = 'all' AND is_probed))
  AND ($langs IS NULL OR list_contains($langs, lang))
  AND NOT EXISTS (SELECT 1 FROM raw.attributions a
                  WHERE a.model_id = c.model_id AND a.lang = c.lang AND a.uuid = c.uuid
                    AND a.template_id = c.template_id AND a.ig_steps = $ig_steps AND a.load_batch > c.load_batch)
QUALIFY $limit IS NULL OR row_number() OVER (PARTITION BY lang ORDER BY md5(uuid)) <= $limit
ORDER BY lang, md5(uuid)
"""

# The sets of the build: PROBELESS top-k, knowledge neurons (per language), language-agnostic (per fact)
SETS = """
SELECT 'probeless' AS set_kind, lang AS set_lang, uuid, list(neuron_id ORDER BY neuron_rank) AS neurons
FROM intermediate.int_active_neurons WHERE model_id = $model_id AND neuron_rank <= $k GROUP BY ALL
UNION ALL
SELECT 'knowledge', lang, uuid, list(neuron_id ORDER BY neuron_id)
FROM intermediate.int_knowledge_neurons WHERE model_id = $model_id GROUP BY ALL
UNION ALL
SELECT 'language_agnostic', NULL, uuid, list(neuron_id ORDER BY neuron_id)
FROM intermediate.int_language_agnostic_neurons WHERE model_id = $model_id GROUP BY ALL
"""

# Correct queries (language B) of mLAMA's own template, the paper's query, not intervened on yet
INTERVENE_TODO = f"""
WITH current AS ({CURRENT_PREDICTIONS})
SELECT lang, uuid, template_id, template, sub_label, obj_label
FROM current c
WHERE is_correct AND template_id = $mlama AND ($langs IS NULL OR list_contains($langs, lang))
  AND NOT EXISTS (SELECT 1 FROM raw.interventions i
                  WHERE i.model_id = c.model_id AND i.lang = c.lang AND i.uuid = c.uuid
                    AND i.template_id = c.template_id AND i.load_batch > c.load_batch)
ORDER BY lang, md5(uuid)
"""


@dataclass
class NeuronReport:
    what: str  # "attributed" or "intervened on"
    model_id: str
    device: str
    done: dict[str, int] = field(default_factory=dict)  # lang -> queries in this run

    def summary_lines(self) -> list[str]:
        return [f"{self.what} {sum(self.done.values()):,} queries in {len(self.done)} languages with "
                f"{self.model_id} on {self.device}"]


def _prepared(database, model, shard_dir, device, loaded):
    """The model (its id as the warehouse knows its weights), described beside the shards, and
    shards left by an interrupted run loaded."""
    loaded = loaded or load_model(model, device=device)
    shards.load_shards(database, shard_dir)
    con = db.connect(database)
    try:
        known = con.execute("SELECT min(model_id) FROM raw.models WHERE weights_sha256 = ?",
                            [loaded.weights_sha256]).fetchone()[0]
    finally:
        con.close()
    loaded = replace(loaded, model_id=known or loaded.model_id)
    shards.write_model(shard_dir, model_row(loaded))
    return loaded


def _queries(loaded, todo: pa.Table) -> list[tuple[dict, object]]:
    """(fact row, query) for the rows whose query can be built (a probed fact's always can)."""
    found = []
    for row in todo.to_pylist():
        try:
            found.append((row, build_for(loaded, row["template"], row["sub_label"], row["obj_label"])))
        except QueryError:
            continue
    return found


def attribute(database: str | Path, model: str, shard_dir: str | Path, langs: list[str] | None = None,
              device: str | None = None, batch_size: int = 4, limit: int | None = None, ig_steps: int = 20,
              attribution_floor: float = 0.1, population: str = "correct", progress: bool = True,
              loaded=None) -> NeuronReport:
    """Integrated-gradients attributions of every FFN neuron for the facts `model` predicts correctly
    (population "all": every probed fact) and has not attributed yet with `ig_steps`; per query the
    neurons at or above `attribution_floor` x its largest attribution go to raw.attributions, one
    shard per language, each loaded as soon as it is written."""
    shard_dir = Path(shard_dir)
    loaded = _prepared(database, model, shard_dir, device, loaded)
    con = db.connect(database)
    try:
        todo = con.execute(ATTRIBUTE_TODO, {"model_id": loaded.model_id, "langs": langs or None, "limit": limit,
                                            "ig_steps": ig_steps, "population": population}).to_arrow_table()
    finally:
        con.close()
    report = NeuronReport("attributed", loaded.model_id, loaded.device)
    for lang in sorted(set(todo["lang"].to_pylist())):
        found = _queries(loaded, todo.filter(pc.equal(todo["lang"], lang)))
        rows = []
        for a in attribute_queries(loaded, [q for _, q in found], ig_steps, batch_size, progress):
            kept = candidates(a.attributions, attribution_floor)
            fact = found[a.index][0]
            rows.append({"model_id": loaded.model_id, "lang": lang, "uuid": fact["uuid"],
                         "template_id": fact["template_id"], "ig_steps": ig_steps, "gold_prob": a.gold_prob,
                         "max_attribution": float(a.attributions.max()),
                         "neuron_ids": [n for n, _ in kept], "attributions": [v for _, v in kept]})
        if rows:
            schema = tables.ATTRIBUTIONS.produced_schema()
            shards.write_shard(shard_dir, pa.Table.from_pylist(rows, schema=schema), "attributions")
            shards.load_shards(database, shard_dir)
        report.done[lang] = len(rows)
    return report


def random_control(neurons: list[int], d_ff: int, seed: int, key: str) -> list[int]:
    """A set with as many neurons in each layer as `neurons`, drawn uniformly in that layer; the
    same for the same seed and key."""
    rng = random.Random(f"{seed}|{key}")
    layers: dict[int, int] = {}
    for n in neurons:
        layers[n // d_ff] = layers.get(n // d_ff, 0) + 1
    return sorted(layer * d_ff + i for layer, count in sorted(layers.items()) for i in rng.sample(range(d_ff), count))


def intervene(database: str | Path, model: str, shard_dir: str | Path, langs: list[str] | None = None,
              device: str | None = None, batch_size: int = 32, k: int = 50, seed: int = 0,
              progress: bool = True, loaded=None) -> NeuronReport:
    """Suppress and enhance every neuron set of each correct fact (PROBELESS top-k, knowledge
    neurons, language-agnostic neurons, and per PROBELESS set a random control with as many
    neurons per layer, seeded) found in language A, on its query in every language B where it is
    correct (`langs`: these B only), not intervened on yet. Reads the sets of the last build."""
    shard_dir = Path(shard_dir)
    loaded = _prepared(database, model, shard_dir, device, loaded)
    con = db.connect(database)
    try:
        built = {name for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'intermediate' UNION "
            "SELECT view_name FROM duckdb_views() WHERE schema_name = 'intermediate'").fetchall()}
        needed = {"int_active_neurons", "int_knowledge_neurons", "int_language_agnostic_neurons"}
        if needed - built:
            raise ValueError(f"{database}: no neuron sets yet ({', '.join(sorted(needed - built))}): "
                             "run `factroots build` after attribute")
        sets = con.execute(SETS, {"model_id": loaded.model_id, "k": k}).fetchall()
        todo = con.execute(INTERVENE_TODO, {"model_id": loaded.model_id, "langs": langs or None,
                                            "mlama": tables.MLAMA_TEMPLATE}).to_arrow_table()
    finally:
        con.close()
    by_fact: dict[str, list[tuple[str, str | None, list[int]]]] = {}
    for kind, set_lang, uuid, neurons in sets:
        by_fact.setdefault(uuid, []).append((kind, set_lang, neurons))
        if kind == "probeless":
            control = random_control(neurons, loaded.d_ff, seed, f"{loaded.model_id}|{uuid}|{set_lang}")
            by_fact[uuid].append(("random", set_lang, control))

    report = NeuronReport("intervened on", loaded.model_id, loaded.device)
    for lang in sorted(set(todo["lang"].to_pylist())):
        found = [(fact, q) for fact, q in _queries(loaded, todo.filter(pc.equal(todo["lang"], lang)))
                 if fact["uuid"] in by_fact]
        plan = [(fact, None, None) for fact, _ in found]  # first the queries as they are
        edits = [Edit(q) for _, q in found]
        for fact, q in found:
            for neuron_set in by_fact[fact["uuid"]]:
                for op, factor in OPS.items():
                    plan.append((fact, neuron_set, op))
                    edits.append(Edit(q, tuple(neuron_set[2]), factor))
        results = list(outcomes(loaded, edits, batch_size, progress))
        before = {fact["uuid"]: results[i] for i, (fact, _) in enumerate(found)}
        rows = [{"model_id": loaded.model_id, "lang": lang, "uuid": fact["uuid"], "template_id": fact["template_id"],
                 "set_kind": neuron_set[0], "set_lang": neuron_set[1], "op": op, "factor": OPS[op],
                 "n_neurons": len(neuron_set[2]), "p_before": before[fact["uuid"]].gold_prob,
                 "p_after": result.gold_prob, "correct_before": before[fact["uuid"]].is_correct,
                 "correct_after": result.is_correct, "seed": seed}
                for (fact, neuron_set, op), result in zip(plan, results) if neuron_set is not None]
        if rows:
            schema = tables.INTERVENTIONS.produced_schema()
            shards.write_shard(shard_dir, pa.Table.from_pylist(rows, schema=schema), "interventions")
            shards.load_shards(database, shard_dir)
        report.done[lang] = len(found)
    return report
