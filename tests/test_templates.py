"""More than one query per fact: template sets loaded beside mLAMA, probed incrementally, and the
per-template marts (tests/test_templates.yaml has the hand-worked SQL unit tests)."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow as pa
import pytest

from compute.models import wrap_model
from conftest import fact, rows, write_release
from ingest import shards, templates
from ingest.mlama import ingest_mlama
from ingest.problems import IngestError
from ingest.templates import ingest_templates
from test_probe import tiny_bert

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
