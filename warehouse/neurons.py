"""Knowledge neurons and interventions: probed facts -> shards -> raw.attributions, and the neuron
sets the build computed -> shards -> raw.interventions. Both resume where they stopped."""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from pathlib import Path

import pyarrow as pa

from compute.attribution import attribute as attribute_queries, candidates
from compute.interventions import OPS, Edit, outcomes
from compute.probe import build_for
from compute.queries import QueryError
from raw import db, tables
from raw.tables import MLAMA_TEMPLATE
from warehouse.blocks import Block, blocks, model_workers, register_model, run, write_block

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

# Correct queries (language B) of mLAMA's own template, the paper's query
INTERVENE_CANDIDATES = f"""
WITH current AS ({CURRENT_PREDICTIONS})
SELECT lang, uuid, template_id, template, sub_label, obj_label
FROM current c
WHERE is_correct AND template_id = $mlama AND ($langs IS NULL OR list_contains($langs, lang))
ORDER BY lang, md5(uuid)
"""

# The sets each query was last intervened with, after its current prediction
MEASURED = f"""
WITH current AS ({CURRENT_PREDICTIONS})
SELECT i.lang, i.uuid, i.set_kind, i.set_lang, i.set_md5
FROM raw.interventions i
JOIN current c USING (model_id, lang, uuid, template_id)
WHERE c.template_id = $mlama AND i.load_batch > c.load_batch
QUALIFY rank() OVER (PARTITION BY i.lang, i.uuid ORDER BY i.load_batch DESC) = 1
"""


# A fact's neuron sets, as its block carries them to the worker
SET_LIST = pa.list_(pa.struct([("kind", pa.string()), ("lang", pa.string()), ("neurons", pa.list_(pa.int64())),
                               ("md5", pa.string())]))


@dataclass
class NeuronReport:
    what: str  # "attributed" or "intervened on"
    model_id: str
    device: str
    done: dict[str, int] = field(default_factory=dict)  # lang -> queries in this run

    def summary_lines(self) -> list[str]:
        return [f"{self.what} {sum(self.done.values()):,} queries in {len(self.done)} languages with "
                f"{self.model_id} on {self.device}"]


def _queries(loaded, todo: pa.Table) -> list[tuple[dict, object]]:
    """(fact row, query) for the rows whose query can be built (a probed fact's always can)."""
    found = []
    for row in todo.to_pylist():
        try:
            found.append((row, build_for(loaded, row["template"], row["sub_label"], row["obj_label"])))
        except QueryError:
            continue
    return found


def _attribution_tables(loaded, block: Block, progress: bool, ig_steps: int, batch_size: int,
                        attribution_floor: float) -> tuple[int, dict[str, pa.Table]]:
    """Per query of the block, the neurons at or above `attribution_floor` x its largest attribution."""
    found = _queries(loaded, block.facts)
    rows = []
    for a in attribute_queries(loaded, [q for _, q in found], ig_steps, batch_size, progress):
        kept = candidates(a.attributions, attribution_floor)
        fact = found[a.index][0]
        rows.append({"model_id": loaded.model_id, "lang": block.lang, "uuid": fact["uuid"],
                     "template_id": fact["template_id"], "ig_steps": ig_steps, "gold_prob": a.gold_prob,
                     "max_attribution": float(a.attributions.max()),
                     "neuron_ids": [n for n, _ in kept], "attributions": [v for _, v in kept]})
    return len(rows), {"attributions": pa.Table.from_pylist(rows, schema=tables.ATTRIBUTIONS.produced_schema())}


def attribution_settings(variables: dict) -> dict:
    """attribute()'s arguments that the warehouse's settings give."""
    return {"ig_steps": variables["ig_steps"], "attribution_floor": variables["attribution_floor"],
            "population": variables["kn_population"]}


def intervention_settings(variables: dict) -> dict:
    """intervene()'s arguments that the warehouse's settings give."""
    return {"k": variables["intervention_k"], "seed": variables["intervention_seed"]}


def attribute(database: str | Path, model: str, shard_dir: str | Path, langs: list[str] | None = None,
              device: str | None = None, batch_size: int = 8, limit: int | None = None, ig_steps: int = 20,
              attribution_floor: float = 0.1, population: str = "correct", shard_size: int = 200,
              progress: bool = True, loaded=None, ray: str | None = None) -> NeuronReport:
    """Integrated-gradients attributions of every FFN neuron for the facts `model` predicts correctly
    (population "all": every probed fact) and has not attributed yet with `ig_steps`; per query the
    neurons at or above `attribution_floor` x its largest attribution go to raw.attributions, in
    shards of at most `shard_size` queries of one language, each loaded as soon as it is written.
    `ray`: a Ray address, as for warehouse.probing.probe (one worker per GPU or CPU of the cluster)."""
    with model_workers(database, model, shard_dir, device, loaded, ray) as pool:
        row = register_model(pool, database, shard_dir)
        con = db.connect(database)
        try:
            todo = con.execute(ATTRIBUTE_TODO, {"model_id": row["model_id"], "langs": langs or None, "limit": limit,
                                                "ig_steps": ig_steps, "population": population}).to_arrow_table()
        finally:
            con.close()
        report = NeuronReport("attributed", row["model_id"], pool.ask(attrgetter("device")))
        make_tables = partial(_attribution_tables, ig_steps=ig_steps, batch_size=batch_size,
                         attribution_floor=attribution_floor)
        work = partial(write_block, shard_dir=shard_dir, model_id=row["model_id"], kinds=("attributions",),
                       tables=make_tables)
        report.done = run(pool, work, blocks(todo, shard_size), database, shard_dir, "attribute", progress)
    return report


def random_control(neurons: list[int], d_ff: int, seed: int, key: str) -> list[int]:
    """A set with as many neurons in each layer as `neurons`, drawn uniformly in that layer; the
    same for the same seed and key."""
    rng = random.Random(f"{seed}|{key}")
    layers: dict[int, int] = {}
    for n in neurons:
        layers[n // d_ff] = layers.get(n // d_ff, 0) + 1
    return sorted(layer * d_ff + i for layer, count in sorted(layers.items()) for i in rng.sample(range(d_ff), count))


def set_md5(neurons: list[int]) -> str:
    """A neuron set's fingerprint: the md5 of its ids in ascending order, comma-joined."""
    return hashlib.md5(",".join(map(str, sorted(neurons))).encode()).hexdigest()


def _with_sets(todo: pa.Table, sets: list[tuple], model_id: str, d_ff: int, seed: int,
               measured: dict[tuple[str, str], set]) -> pa.Table:
    """The queries of todo whose neuron sets (kind, lang A, neurons, md5; a random control beside
    each PROBELESS set) are not those they were last measured with (`measured`: (lang, uuid) ->
    {(kind, lang A, md5)}), with a column `sets`, so that a block carries what its worker needs."""
    by_fact: dict[str, list[dict]] = {}
    for kind, set_lang, uuid, neurons in sets:
        found = by_fact.setdefault(uuid, [])
        found.append({"kind": kind, "lang": set_lang, "neurons": neurons, "md5": set_md5(neurons)})
        if kind == "probeless":
            control = random_control(neurons, d_ff, seed, f"{model_id}|{uuid}|{set_lang}")
            found.append({"kind": "random", "lang": set_lang, "neurons": control, "md5": set_md5(control)})
    current = {uuid: {(s["kind"], s["lang"], s["md5"]) for s in found} for uuid, found in by_fact.items()}
    changed = [current.get(uuid, set()) != measured.get((lang, uuid), set())
               for lang, uuid in zip(todo["lang"].to_pylist(), todo["uuid"].to_pylist())]
    todo = todo.filter(pa.array(changed, pa.bool_()))
    return todo.append_column("sets", pa.array([by_fact.get(uuid, []) for uuid in todo["uuid"].to_pylist()],
                                               type=SET_LIST))


def _intervention_tables(loaded, block: Block, progress: bool, batch_size: int,
                         seed: int) -> tuple[int, dict[str, pa.Table]]:
    """Each set of each of the block's queries suppressed and enhanced, after the query as it is."""
    found = [(fact, q) for fact, q in _queries(loaded, block.facts) if fact["sets"]]
    plan = [(fact, None, None) for fact, _ in found]  # first the queries as they are
    edits = [Edit(q) for _, q in found]
    for fact, q in found:
        for neuron_set in fact["sets"]:
            for op, factor in OPS.items():
                plan.append((fact, neuron_set, op))
                edits.append(Edit(q, tuple(neuron_set["neurons"]), factor))
    results = list(outcomes(loaded, edits, batch_size, progress))
    before = {fact["uuid"]: results[i] for i, (fact, _) in enumerate(found)}
    rows = [{"model_id": loaded.model_id, "lang": block.lang, "uuid": fact["uuid"], "template_id": fact["template_id"],
             "set_kind": neuron_set["kind"], "set_lang": neuron_set["lang"], "op": op, "factor": OPS[op],
             "n_neurons": len(neuron_set["neurons"]), "set_md5": neuron_set["md5"], "p_before": before[fact["uuid"]].gold_prob,
             "p_after": result.gold_prob, "correct_before": before[fact["uuid"]].is_correct,
             "correct_after": result.is_correct, "seed": seed}
            for (fact, neuron_set, op), result in zip(plan, results) if neuron_set is not None]
    return len(found), {"interventions": pa.Table.from_pylist(rows, schema=tables.INTERVENTIONS.produced_schema())}


def intervene(database: str | Path, model: str, shard_dir: str | Path, langs: list[str] | None = None,
              device: str | None = None, batch_size: int = 32, k: int = 50, seed: int = 0, shard_size: int = 200,
              progress: bool = True, loaded=None, ray: str | None = None) -> NeuronReport:
    """Suppress and enhance every neuron set of each correct fact (PROBELESS top-k, knowledge
    neurons, language-agnostic neurons, and per PROBELESS set a random control with as many
    neurons per layer, seeded) found in language A, on its query in every language B where it is
    correct (`langs`: these B only), unless it was measured with the same sets after its current
    prediction (a query whose sets changed since, after a build, another k or seed, is measured
    again, all its sets); shards of at most `shard_size` queries of one language. Reads the sets of
    the last build. `ray`: as for attribute."""
    with model_workers(database, model, shard_dir, device, loaded, ray) as pool:
        row = register_model(pool, database, shard_dir)
        con = db.connect(database)
        try:
            built = {name for (name,) in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'intermediate' UNION "
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'intermediate'").fetchall()}
            needed = {"int_active_neurons", "int_knowledge_neurons", "int_language_agnostic_neurons"}
            if needed - built:
                raise ValueError(f"{database}: no neuron sets yet ({', '.join(sorted(needed - built))}): "
                                 "run `factroots build` after attribute")
            sets = con.execute(SETS, {"model_id": row["model_id"], "k": k}).fetchall()
            todo = con.execute(INTERVENE_CANDIDATES, {"model_id": row["model_id"], "langs": langs or None,
                                                      "mlama": MLAMA_TEMPLATE}).to_arrow_table()
            measured: dict[tuple[str, str], set] = {}
            for lang, uuid, *key in con.execute(MEASURED, {"model_id": row["model_id"],
                                                           "mlama": MLAMA_TEMPLATE}).fetchall():
                measured.setdefault((lang, uuid), set()).add(tuple(key))
        finally:
            con.close()
        todo = _with_sets(todo, sets, row["model_id"], row["d_ff"], seed, measured)
        report = NeuronReport("intervened on", row["model_id"], pool.ask(attrgetter("device")))
        make_tables = partial(_intervention_tables, batch_size=batch_size, seed=seed)
        work = partial(write_block, shard_dir=shard_dir, model_id=row["model_id"], kinds=("interventions",),
                       tables=make_tables)
        report.done = run(pool, work, blocks(todo, shard_size), database, shard_dir, "intervene", progress)
    return report
