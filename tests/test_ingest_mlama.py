"""mLAMA ingest: validation and quarantine, idempotence, replacement, atomicity."""
from __future__ import annotations

import zipfile

import pytest

from conftest import fact, rows, write_release
from ingest import mlama
from ingest.mlama import ingest_mlama
from ingest.problems import IngestError

GOOD = {
    "en": {"templates": {"P36": "The capital of [X] is [Y] .", "P17": "[X] is in [Y] ."},
           "facts": {"P36": [fact("u1", "France", "Paris"), fact("u2", "Japan", "Tokyo")],
                     "P17": [fact("u3", "Lyon", "France")]}},
    "fr": {"templates": {"P36": "La capitale de [X] est [Y] ."},
           "facts": {"P36": [fact("u1", "France", "Paris")]}},
}



def quarantine(database):
    return rows(database, "SELECT source_file, line_no, problem FROM raw.quarantine ORDER BY source_file, line_no")


def test_loads_rows_with_provenance(tmp_path, settings):
    release = write_release(tmp_path / "rel", GOOD)
    report = ingest_mlama(settings.build_database, release, progress=False)
    assert sorted(report.loaded) == ["en", "fr"] and report.n_facts == 4 and report.n_templates == 3
    got = rows(settings.build_database, "SELECT lang, relation, uuid, source_file, line_no, load_batch IS NOT NULL, "
               "loaded_at IS NOT NULL FROM raw.mlama_facts ORDER BY lang, uuid")
    assert got == [("en", "P36", "u1", "en/P36.jsonl", 1, True, True), ("en", "P36", "u2", "en/P36.jsonl", 2, True, True),
                   ("en", "P17", "u3", "en/P17.jsonl", 1, True, True), ("fr", "P36", "u1", "fr/P36.jsonl", 1, True, True)]
    assert quarantine(settings.build_database) == []


def test_each_bad_row_is_quarantined_with_file_line_and_reason(tmp_path, settings):
    release = write_release(tmp_path / "rel", {
        "en": {"templates": {"P36": "The capital of [X] is [Y] .", "P1": "[X] has no object .",
                             "P2": "nothing to fill [Y] ."},
               "facts": {"P36": [fact("u1", "France", "Paris"),
                                 '{"sub_label": "Spain", "obj_label": "Madrid"',        # malformed JSON
                                 '{"sub_label": "Spain", "obj_label": "Madrid", "uuid": "u5"}',  # missing fields
                                 fact("u6", "Italy", " "),                               # empty label
                                 fact("u1", "Germany", "Berlin"),                        # duplicate uuid
                                 b'{"sub_uri": "Q1", "obj_uri": "Q2", "sub_label": "\xff\xfe", '
                                 b'"obj_label": "x", "lineid": 1, "uuid": "u7"}'],      # invalid UTF-8
                         "P99": [fact("u8", "A", "B")]}},                                 # relation without template
        "xx": {"templates": {"P36": "[X] [Y]"}, "facts": {"P36": [fact("u9", "A", "B")]}},  # unknown language
    })
    report = ingest_mlama(settings.build_database, release, progress=False)
    assert report.n_facts == 1
    assert quarantine(settings.build_database) == [
        ("en/P36.jsonl", 2, "malformed_json"), ("en/P36.jsonl", 3, "missing_field"),
        ("en/P36.jsonl", 4, "empty_label"), ("en/P36.jsonl", 5, "duplicate_uuid"),
        ("en/P36.jsonl", 6, "invalid_utf8"), ("en/P99.jsonl", 1, "no_template"),
        ("en/templates.jsonl", 2, "template_missing_y"), ("en/templates.jsonl", 3, "template_missing_x"),
        ("xx/", None, "unknown_language"),
    ]
    lines = report.summary_lines()
    assert any("malformed_json (first: en/P36.jsonl:2" in line for line in lines)
    # the first occurrence of the duplicated uuid is kept
    assert rows(settings.build_database, "SELECT obj_label FROM raw.mlama_facts") == [("Paris",)]


def test_strict_refuses_and_writes_nothing(tmp_path, settings):
    release = write_release(tmp_path / "rel", {"en": {"templates": {"P36": "[X] [Y]"},
                                                     "facts": {"P36": [fact("u1", "A", "B"), "{oops"]}}})
    with pytest.raises(IngestError, match="malformed_json"):
        ingest_mlama(settings.build_database, release, strict=True, progress=False)
    assert not settings.build_database.exists()


def test_nothing_usable_is_an_error(tmp_path, settings):
    release = write_release(tmp_path / "rel", {"en": {"templates": {"P36": "[X] [Y]"}, "facts": {"P36": ["{bad"]}}})
    with pytest.raises(IngestError, match="no usable facts"):
        ingest_mlama(settings.build_database, release, progress=False)


def test_unknown_language_code_asked_for(tmp_path, settings):
    release = write_release(tmp_path / "rel", GOOD)
    with pytest.raises(IngestError, match="unknown language code.*qq"):
        ingest_mlama(settings.build_database, release, langs=["en", "qq"], progress=False)


def test_subset_of_languages(tmp_path, settings):
    release = write_release(tmp_path / "rel", GOOD)
    ingest_mlama(settings.build_database, release, langs=["fr"], progress=False)
    assert rows(settings.build_database, "SELECT DISTINCT lang FROM raw.mlama_facts") == [("fr",)]


def test_reloading_changes_nothing_and_a_changed_language_is_replaced(tmp_path, settings):
    release = write_release(tmp_path / "rel", GOOD)
    ingest_mlama(settings.build_database, release, progress=False)
    before = rows(settings.build_database, "SELECT * FROM raw.mlama_facts ORDER BY lang, uuid")
    again = ingest_mlama(settings.build_database, release, progress=False)
    assert again.loaded == [] and sorted(again.unchanged) == ["en", "fr"]
    assert rows(settings.build_database, "SELECT * FROM raw.mlama_facts ORDER BY lang, uuid") == before

    changed = {**GOOD, "fr": {"templates": {"P36": "La capitale de [X] est [Y] ."},
                              "facts": {"P36": [fact("u2", "Japon", "Tokyo")]}}}
    write_release(tmp_path / "rel", changed)
    report = ingest_mlama(settings.build_database, release, progress=False)
    assert report.loaded == ["fr"]
    assert rows(settings.build_database, "SELECT lang, uuid FROM raw.mlama_facts ORDER BY lang, uuid") == [
        ("en", "u1"), ("en", "u2"), ("en", "u3"), ("fr", "u2")]


def test_crash_mid_load_leaves_the_warehouse_as_it_was(tmp_path, settings, monkeypatch):
    release = write_release(tmp_path / "rel", GOOD)
    ingest_mlama(settings.build_database, release, progress=False)
    before = rows(settings.build_database, "SELECT * FROM raw.mlama_facts ORDER BY lang, uuid")
    write_release(tmp_path / "rel", {"en": {"templates": GOOD["en"]["templates"],
                                            "facts": {"P36": [fact("u9", "Peru", "Lima")]}}})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    real_batch = mlama.db.new_batch

    def batch_then_crash(con, *args):
        real_batch(con, *args)
        con.execute("DELETE FROM raw.mlama_facts")  # half-way through the replacement
        crash()

    monkeypatch.setattr(mlama.db, "new_batch", batch_then_crash)
    with pytest.raises(KeyboardInterrupt):
        ingest_mlama(settings.build_database, release, progress=False)
    assert rows(settings.build_database, "SELECT * FROM raw.mlama_facts ORDER BY lang, uuid") == before
    assert rows(settings.build_database, "SELECT count(*) FROM raw.load_batches")[0][0] == 2


def test_reads_the_release_zip(tmp_path, settings):
    release = write_release(tmp_path / "mlama1.1", GOOD)
    archive = tmp_path / "mlama1.1.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in release.rglob("*.jsonl"):
            out.write(path, f"mlama1.1/{path.relative_to(release)}")
    report = ingest_mlama(settings.build_database, archive, progress=False)
    assert report.n_facts == 4
    assert rows(settings.build_database, "SELECT DISTINCT source_file FROM raw.mlama_facts ORDER BY 1") == [
        ("en/P17.jsonl",), ("en/P36.jsonl",), ("fr/P36.jsonl",)]


def test_not_a_release(tmp_path, settings):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    with pytest.raises(IngestError, match="not a directory or a zip"):
        ingest_mlama(settings.build_database, bogus, progress=False)


def test_a_language_without_templates_is_named_and_keeps_its_rows(tmp_path, settings):
    content = {"en": {"templates": {"P36": "[X] is [Y] ."}, "facts": {"P36": [fact("u1", "A", "B")]}},
               "fr": {"templates": {"P36": "[X] est [Y] ."}, "facts": {"P36": [fact("u1", "A", "B"),
                                                                             fact("u2", "C", "D")]}}}
    ingest_mlama(settings.build_database, write_release(tmp_path / "good", content), progress=False)
    broken = write_release(tmp_path / "broken", dict(content, en={"templates": {"P36": "[X] was [Y] ."},
                                                                  "facts": {"P36": [fact("u1", "A", "B")]}}))
    (broken / "fr" / "templates.jsonl").unlink()
    with pytest.raises(IngestError) as error:
        ingest_mlama(settings.build_database, broken, progress=False)
    message = str(error.value)
    assert message.startswith("fr not loaded: none of its 2 fact lines is usable (missing_templates at "
                              "fr/templates.jsonl")
    assert "(1 other language(s) loaded, 0 unchanged)" in message and "\n" not in message
    assert rows(settings.build_database, "SELECT lang, count(*) FROM raw.mlama_facts GROUP BY lang ORDER BY lang") == \
        [("en", 1), ("fr", 2)]
    assert rows(settings.build_database, "SELECT template FROM raw.mlama_templates ORDER BY lang") == \
        [("[X] was [Y] .",), ("[X] est [Y] .",)]
