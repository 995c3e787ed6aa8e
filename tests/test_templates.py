"""More than one query per fact: template sets loaded beside mLAMA, probed incrementally, and the
per-template marts (tests/test_templates.yaml has the hand-worked SQL unit tests)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from compute.models import wrap_model
from conftest import fact, rows, write_release
from ingest import shards, templates
from ingest.mlama import ingest_mlama
from ingest.problems import IngestError
from ingest.templates import ingest_templates
from test_probe import tiny_bert
from warehouse.build import build
from warehouse.cli import main
from warehouse.probing import probe

RELEASE = {
    "en": {"templates": {"P19": "[X] was born in [Y] .", "P36": "The capital of [X] is [Y] ."},
           "facts": {"P19": [fact("u1", "Allan", "Paris"), fact("u2", "Allan", "Rome")],
                     "P36": [fact("u3", "France", "Paris")]}},
    "fr": {"templates": {"P19": "[X] est né à [Y] ."}, "facts": {"P19": [fact("u1", "Allan", "Paris")]}},
}
PARAPHRASES = {
    "en": [{"relation": "P19", "template": "[X] died in [Y] .", "template_id": "p1"},
           {"relation": "P19", "template": "[X] is the capital of [Y] .", "template_id": "p2"},
           {"relation": "P36", "template": "[Y] is the capital of [X] .", "template_id": "p1"}],
    "fr": [{"relation": "P19", "template": "[X] est mort à [Y] .", "template_id": "p1"}],
}


def write_set(root, languages: dict[str, list]):
    """A template set: {lang: [line (a dict written as JSON, or a str written as it is)]}."""
    for lang, lines in languages.items():
        (root / lang).mkdir(parents=True, exist_ok=True)
        text = "\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False) for line in lines)
        (root / lang / "templates.jsonl").write_text(text + "\n")
    return root


def loaded_templates(database):
    return rows(database, "SELECT lang, relation, template_id FROM raw.mlama_templates ORDER BY ALL")


@pytest.fixture
def release(tmp_path, settings):
    ingest_mlama(settings.build_database, write_release(tmp_path / "release", RELEASE), progress=False)
    return tmp_path / "release"


def test_a_set_loads_beside_mlama_once_and_survives_a_release_reload(tmp_path, settings, release):
    report = ingest_templates(settings.build_database, write_set(tmp_path / "para", PARAPHRASES), progress=False)
    assert sorted(report.loaded) == ["en", "fr"] and report.n_templates == 4
    assert report.summary_lines() == ["template set para: 2 languages loaded (4 templates), 0 unchanged"]
    everything = [("en", "P19", "mlama"), ("en", "P19", "p1"), ("en", "P19", "p2"), ("en", "P36", "mlama"),
                  ("en", "P36", "p1"), ("fr", "P19", "mlama"), ("fr", "P19", "p1")]
    assert loaded_templates(settings.build_database) == everything
    again = ingest_templates(settings.build_database, tmp_path / "para", progress=False)
    assert again.loaded == [] and sorted(again.unchanged) == ["en", "fr"]

    # the release changes (a new fact in en): its rows are replaced, the set's stay
    more = {"P36": [fact("u3", "France", "Paris"), fact("u4", "Italy", "Rome")]}
    changed = dict(RELEASE, en=dict(RELEASE["en"], facts={**RELEASE["en"]["facts"], **more}))
    assert ingest_mlama(settings.build_database, write_release(release, changed), progress=False).loaded == ["en"]
    assert loaded_templates(settings.build_database) == everything
    # the set changes: what it gave en before is replaced (p2 gone), fr is unchanged
    write_set(tmp_path / "para", {"en": PARAPHRASES["en"][:1] + PARAPHRASES["en"][2:]})
    report = ingest_templates(settings.build_database, tmp_path / "para", progress=False)
    assert report.loaded == ["en"] and report.unchanged == ["fr"]
    assert loaded_templates(settings.build_database) == [t for t in everything if t != ("en", "P19", "p2")]
    # a second set beside the first
    ingest_templates(settings.build_database, write_set(tmp_path / "other", {"fr": [
        {"relation": "P19", "template": "[X] , né à [Y] .", "template_id": "p2"}]}), progress=False)
    assert ("fr", "P19", "p2") in loaded_templates(settings.build_database)
    assert rows(settings.build_database, "SELECT count(*) FROM raw.quarantine") == [(0,)]


def test_bad_lines_are_quarantined_with_file_and_line(tmp_path, settings, release):
    write_set(tmp_path / "bad", {
        "en": [PARAPHRASES["en"][0],                                                       # 1 good
               {"relation": "P99", "template": "[X] in [Y] .", "template_id": "p1"},        # 2 unknown relation
               {"relation": "P19", "template": "[X] lived in [Y] .", "template_id": "p1"},  # 3 repeats line 1's id
               {"relation": "P19", "template": "[X] lived in [Y] .", "template_id": "mlama"},  # 4 mLAMA's own id
               {"relation": "P19", "template": "lived in [Y] .", "template_id": "p3"},      # 5 no [X]
               {"relation": "P19", "template": "[X] lived .", "template_id": "p4"},         # 6 no [Y]
               {"relation": "P19", "template": "[X] lived in [Y] ."},                       # 7 no template_id
               '{"relation": "P19", '],                                                     # 8 not JSON
        "xx": [PARAPHRASES["en"][0]],                                                       # not an mLAMA code
        "de": [PARAPHRASES["en"][0]],                                                       # no de facts loaded
    })
    report = ingest_templates(settings.build_database, tmp_path / "bad", progress=False)
    assert sorted(report.loaded) == ["de", "en", "xx"]  # what de and xx had is now only their quarantine rows
    got = rows(settings.build_database, "SELECT kind, lang, source_file, line_no, problem FROM raw.quarantine "
                                        "ORDER BY source_file, line_no")
    assert got == [
        ("templates", "de", "bad/de/templates.jsonl", None, "unknown_language"),
        ("templates", "en", "bad/en/templates.jsonl", 2, "unknown_relation"),
        ("templates", "en", "bad/en/templates.jsonl", 3, "duplicate_template"),
        ("templates", "en", "bad/en/templates.jsonl", 4, "duplicate_template"),
        ("templates", "en", "bad/en/templates.jsonl", 5, "template_missing_x"),
        ("templates", "en", "bad/en/templates.jsonl", 6, "template_missing_y"),
        ("templates", "en", "bad/en/templates.jsonl", 7, "missing_field"),
        ("templates", "en", "bad/en/templates.jsonl", 8, "malformed_json"),
        ("templates", "xx", "bad/xx/templates.jsonl", None, "unknown_language"),
    ]
    lines = report.summary_lines()
    assert "quarantined 2 x duplicate_template (first: bad/en/templates.jsonl:3: P19 template_id 'p1' first at " \
           "bad/en/templates.jsonl:1)" in lines
    assert any(line.startswith("quarantined 1 x unknown_relation (first: bad/en/templates.jsonl:2: ") for line in lines)
    assert [t for t in loaded_templates(settings.build_database) if t[2] != "mlama"] == [("en", "P19", "p1")]
    # a template_id another set already gave the relation is quarantined too, naming where it came from
    write_set(tmp_path / "clash", {"en": [PARAPHRASES["en"][0], PARAPHRASES["en"][1]]})
    clash = ingest_templates(settings.build_database, tmp_path / "clash", progress=False)
    assert clash.n_templates == 1 and f"{(tmp_path / 'bad').resolve().as_posix()}: bad/en/templates.jsonl:1" in \
        clash.summary_lines()[1]


def test_a_file_without_usable_template_keeps_what_the_set_gave_before(tmp_path, settings, release):
    ingest_templates(settings.build_database, write_set(tmp_path / "para", PARAPHRASES), progress=False)
    before = loaded_templates(settings.build_database)
    write_set(tmp_path / "para", {"en": [{"relation": "P19", "template": "no slots", "template_id": "p1"}],
                                  "fr": PARAPHRASES["fr"] + [{"relation": "P19", "template": "[X] ? [Y]",
                                                              "template_id": "p5"}]})
    with pytest.raises(IngestError) as error:
        ingest_templates(settings.build_database, tmp_path / "para", progress=False)
    assert str(error.value) == ("en not loaded: no usable template (template_missing_x at para/en/templates.jsonl:1: "
                                "no slots); what the set gave before is kept (1 other language(s) loaded, 0 unchanged)")
    assert loaded_templates(settings.build_database) == before + [("fr", "P19", "p5")]
    with pytest.raises(IngestError, match="strict: quarantined 1 x template_missing_x"):
        ingest_templates(settings.build_database, tmp_path / "para", strict=True, progress=False)
    with pytest.raises(IngestError, match="no usable template read"):
        ingest_templates(settings.build_database, tmp_path / "para", langs=["en"], progress=False)
    assert loaded_templates(settings.build_database) == before + [("fr", "P19", "p5")]


def test_a_crash_mid_load_leaves_the_templates_as_they_were(tmp_path, settings, release, monkeypatch):
    ingest_templates(settings.build_database, write_set(tmp_path / "para", PARAPHRASES), progress=False)
    before = rows(settings.build_database, "SELECT * FROM raw.mlama_templates ORDER BY ALL")
    write_set(tmp_path / "para", {"en": PARAPHRASES["en"][:1]})
    real_insert = templates.db.insert

    def insert_then_crash(con, table, *args, **kwargs):
        real_insert(con, table, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(templates.db, "insert", insert_then_crash)
    with pytest.raises(KeyboardInterrupt):
        ingest_templates(settings.build_database, tmp_path / "para", progress=False)
    assert rows(settings.build_database, "SELECT * FROM raw.mlama_templates ORDER BY ALL") == before


def test_template_ids_in_the_release_layout(tmp_path, settings):
    release = write_release(tmp_path / "release", {"en": {
        "templates": {"P19": "[X] was born in [Y] ."},
        "facts": {"P19": [fact("u1", "Allan", "Paris")], "P20": [fact("u2", "Allan", "Rome")]}}})
    with open(release / "en" / "templates.jsonl", "a") as out:
        for line in ({"relation": "P19", "template": "[X] died in [Y] .", "template_id": "p1"},
                     {"relation": "P20", "template": "[X] died in [Y] .", "template_id": "p1"},
                     {"relation": "P19", "template": "[X] , born in [Y] .", "template_id": "p1"}):
            out.write(json.dumps(line) + "\n")
    report = ingest_mlama(settings.build_database, release, progress=False)
    assert loaded_templates(settings.build_database) == [("en", "P19", "mlama"), ("en", "P19", "p1"),
                                                          ("en", "P20", "p1")]
    # P20 has a paraphrase but not mLAMA's own template: its fact cannot be the paper's query
    assert rows(settings.build_database, "SELECT source_file, line_no, problem FROM raw.quarantine ORDER BY ALL") == [
        ("en/P20.jsonl", 1, "no_template"), ("en/templates.jsonl", 4, "duplicate_template")]
    assert report.n_facts == 1


def test_adding_a_template_set_probes_only_its_queries(tmp_path, settings, release):
    model, tokenizer = tiny_bert()
    loaded = wrap_model(model, tokenizer, "tiny", device="cpu")

    def run():
        return probe(settings.build_database, "tiny", settings.shard_dir, activations="all", progress=False,
                     loaded=loaded)

    assert run().probed == {"en": 3, "fr": 1}
    ingest_templates(settings.build_database, write_set(tmp_path / "para", PARAPHRASES), progress=False)
    second = run()
    # en: u1 and u2 (P19) with p1 and p2, u3 (P36) with p1; fr: u1 with p1
    assert (second.probed, second.n_already) == ({"en": 5, "fr": 1}, 4)
    assert second.summary_lines()[0].startswith("probed 4 facts (6 queries) in 2 languages with tiny@")
    third = run()
    assert (third.probed, third.n_already) == ({}, 10)
    queries = rows(settings.build_database, "SELECT lang, uuid, template_id, query FROM raw.predictions "
                                            "WHERE lang = 'en' ORDER BY ALL")
    assert queries == [
        ("en", "u1", "mlama", "Allan was born in [MASK] ."), ("en", "u1", "p1", "Allan died in [MASK] ."),
        ("en", "u1", "p2", "Allan is the capital of [MASK] ."), ("en", "u2", "mlama", "Allan was born in [MASK] ."),
        ("en", "u2", "p1", "Allan died in [MASK] ."), ("en", "u2", "p2", "Allan is the capital of [MASK] ."),
        ("en", "u3", "mlama", "The capital of France is [MASK] ."),
        ("en", "u3", "p1", "[MASK] is the capital of France ."),
    ]
    # activations come from mLAMA's own template only, captured in the first run and never again
    assert rows(settings.build_database, "SELECT lang, uuid, count(*) FROM raw.activations GROUP BY ALL ORDER BY ALL") \
        == [("en", "u1", 2), ("en", "u2", 2), ("en", "u3", 2), ("fr", "u1", 2)]  # 2 layers each
    assert rows(settings.build_database, "SELECT count(*) FROM raw.load_batches WHERE kind = 'activations'") == [(2,)]


def prediction(uuid, template_id, correct):
    return dict(model_id="m@abc", lang="en", relation="P19", uuid=uuid, template="[X] t [Y]", template_id=template_id,
                sub_label="s", obj_label="o", query="s t [MASK]", n_mask_tokens=1, gold_token_ids=[1],
                pred_token_ids=[1 if correct else 2], gold_text="o", pred_text="o", gold_log_prob=-0.5,
                is_correct=correct, skip_reason=None, probed_at=datetime.now(timezone.utc))


def test_a_reprobed_query_replaces_only_its_template_rows(settings):
    shards.write_model(settings.shard_dir, {"model_id": "m@abc", "name_or_path": "m", "weights_sha256": "f" * 64,
                                            "n_layers": 1, "d_ff": 2})

    def load(kind, rows_):
        schema = shards.SHARD_SCHEMA if kind == "predictions" else shards.SCHEMAS[kind]
        shards.write_shard(settings.shard_dir, pa.Table.from_pylist(rows_, schema=schema), kind)
        shards.load_shards(settings.build_database, settings.shard_dir)

    def state():
        return (rows(settings.build_database, "SELECT uuid, template_id, is_correct FROM raw.predictions ORDER BY ALL"),
                rows(settings.build_database, "SELECT uuid FROM raw.activations ORDER BY ALL"))

    load("predictions", [prediction(u, t, False) for u in ("u1", "u2") for t in ("mlama", "p1")])
    load("activations", [dict(model_id="m@abc", lang="en", uuid=u, activations=[0.5, 1.0]) for u in ("u1", "u2")])
    load("predictions", [prediction("u1", "p1", True)])  # a paraphrase re-probed: the fact's activations stay
    assert state() == ([("u1", "mlama", False), ("u1", "p1", True), ("u2", "mlama", False), ("u2", "p1", False)],
                       [("u1",), ("u2",)])
    load("predictions", [prediction("u2", "mlama", True)])  # mLAMA's own re-probed: its activations go with it
    assert state() == ([("u1", "mlama", False), ("u1", "p1", True), ("u2", "mlama", True), ("u2", "p1", False)],
                       [("u1",)])


def test_a_shard_written_before_template_sets_holds_mlama_queries(settings):
    shards.write_model(settings.shard_dir, {"model_id": "m@abc", "name_or_path": "m", "weights_sha256": "f" * 64})
    old = pa.Table.from_pylist([prediction("u1", "mlama", True)], schema=shards.SHARD_SCHEMA).drop(["template_id"])
    folder = shards.model_dir(settings.shard_dir, "m@abc") / "en"
    folder.mkdir(parents=True)
    pq.write_table(old, folder / "predictions-old.parquet")
    shards.load_shards(settings.build_database, settings.shard_dir)
    assert rows(settings.build_database, "SELECT uuid, template_id FROM raw.predictions") == [("u1", "mlama")]


# outcome of each hand-made query: (lang, uuid, template_id) -> True/False (correct or not), None (skipped)
OUTCOMES = {("en", "u1", "mlama"): True, ("en", "u2", "mlama"): False, ("en", "u3", "mlama"): True,
            ("fr", "u1", "mlama"): False}
PARAPHRASE_OUTCOMES = {("en", "u1", "p1"): True, ("en", "u1", "p2"): False, ("en", "u2", "p1"): True,
                       ("en", "u2", "p2"): None, ("en", "u3", "p1"): False}  # fr u1 p1 is not probed


def write_outcomes(settings, outcomes):
    """Prediction shards for `outcomes`, built from the query inputs as loaded."""
    shards.write_model(settings.shard_dir, {"model_id": "m@abc", "name_or_path": "m", "weights_sha256": "f" * 64,
                                            "n_layers": 1, "d_ff": 2})
    inputs = {(lang, uuid, template_id): (relation, template, sub, obj) for lang, uuid, template_id, relation,
              template, sub, obj in rows(settings.build_database, """
              SELECT f.lang, f.uuid, t.template_id, f.relation, t.template, f.sub_label, f.obj_label
              FROM raw.mlama_facts f JOIN raw.mlama_templates t USING (lang, relation)""")}
    for lang in ("en", "fr"):
        batch = []
        for (query_lang, uuid, template_id), correct in outcomes.items():
            if query_lang == lang:
                relation, template, sub, obj = inputs[lang, uuid, template_id]
                batch.append(dict(prediction(uuid, template_id, bool(correct)), lang=lang, relation=relation,
                                  template=template, sub_label=sub, obj_label=obj,
                                  skip_reason="too_long" if correct is None else None,
                                  **({"query": None, "n_mask_tokens": None, "gold_token_ids": None,
                                      "pred_token_ids": None} if correct is None else {})))
        if batch:
            shards.write_shard(settings.shard_dir, pa.Table.from_pylist(batch, schema=shards.SHARD_SCHEMA))
    shards.load_shards(settings.build_database, settings.shard_dir)


@pytest.mark.slow
def test_per_template_marts_and_the_paper_tables_untouched_by_a_set(tmp_path, settings, release):
    write_outcomes(settings, OUTCOMES)
    build(settings, progress=False)
    paper = "SELECT lang, n_probed, n_correct, p_at_1, computed_at FROM p_at_1 ORDER BY lang"
    before = rows(settings.published_database, paper)
    assert [r[:3] for r in before] == [("en", 3, 2), ("fr", 1, 0)]

    ingest_templates(settings.build_database, write_set(tmp_path / "para", PARAPHRASES), progress=False)
    write_outcomes(settings, PARAPHRASE_OUTCOMES)
    build(settings, progress=False)
    assert rows(settings.published_database, paper) == before  # same numbers, not even recomputed

    outcomes = {**OUTCOMES, **PARAPHRASE_OUTCOMES}
    queries = {(lang, uuid, template_id) for lang, uuid, template_id in rows(
        settings.published_database, "SELECT lang, uuid, template_id FROM predictions")}
    assert queries == set(outcomes) | {("fr", "u1", "p1")}
    by_template = {}  # (lang, template_id) -> [facts, probed, correct], counted here
    for lang, uuid, template_id in queries:
        counts = by_template.setdefault((lang, template_id), [0, 0, 0])
        outcome = outcomes.get((lang, uuid, template_id))
        counts[0] += 1
        counts[1] += outcome is not None
        counts[2] += outcome is True
    got = rows(settings.published_database, "SELECT lang, template_id, n_facts, n_probed, n_correct, p_at_1 "
                                            "FROM p_at_1_by_template")
    assert {(lang, t): (n, p, c) for lang, t, n, p, c, _ in got} == {k: tuple(v) for k, v in by_template.items()}
    for lang, t, _, n_probed, n_correct, p_at_1 in got:
        assert p_at_1 == (pytest.approx(n_correct / n_probed) if n_probed else None)
    mlama = {lang: (p, c) for lang, t, _, p, c, _ in got if t == "mlama"}
    assert mlama == {lang: (n, c) for lang, n, c, _, _ in before}  # the paper's P@1 is the 'mlama' template's

    consistency = {(lang, uuid): (n, c, share) for lang, uuid, n, c, share in rows(
        settings.published_database, "SELECT lang, uuid, n_templates, n_correct, consistency FROM fact_consistency")}
    # en u1: mlama, p1 right, p2 wrong -> 2/3; u2: mlama wrong, p1 right, p2 skipped -> 1/2;
    # u3: mlama right, p1 wrong -> 1/2; fr u1: mlama wrong, p1 not probed -> 0/1
    assert consistency == {("en", "u1"): (3, 2, pytest.approx(2 / 3)), ("en", "u2"): (2, 1, 0.5),
                           ("en", "u3"): (2, 1, 0.5), ("fr", "u1"): (1, 0, 0.0)}


def test_the_command_loads_the_release_and_its_sets(tmp_path, capsys):
    release = write_release(tmp_path / "release", RELEASE)
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "--quiet", "ingest-mlama"]) == 2  # neither a release nor a set
    write_set(tmp_path / "para", PARAPHRASES)
    write_set(tmp_path / "more", {"en": [{"relation": "P19", "template": "[X] lives in .", "template_id": "p9"},
                                         {"relation": "P19", "template": "[X] lives in [Y] .", "template_id": "p9"}]})
    assert main(["--data-dir", data, "--quiet", "ingest-mlama", str(release), "--templates", str(tmp_path / "para"),
                 "--templates", str(tmp_path / "more")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "mLAMA: 2 languages loaded (4 facts, 3 templates), 0 unchanged",
        "template set para: 2 languages loaded (4 templates), 0 unchanged",
        "template set more: 1 languages loaded (1 templates), 0 unchanged",
        "quarantined 1 x template_missing_y (first: more/en/templates.jsonl:1: [X] lives in .)"]
    assert main(["--data-dir", data, "--quiet", "ingest-mlama", "--templates", str(tmp_path / "nowhere")]) == 1
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nowhere'}: no such file or directory"
