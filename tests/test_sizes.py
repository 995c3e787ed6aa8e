"""A per-language size table: what loads, what is quarantined, and what refuses the whole file."""
from __future__ import annotations

import pytest

from conftest import rows
from ingest.problems import IngestError
from ingest.sizes import ingest_sizes

GOOD = "lang,articles_size\nen,100\nfr,50.5\n"


def loaded(settings):
    return rows(settings.build_database, "SELECT lang, measure, size FROM raw.language_sizes ORDER BY lang")


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path, settings):
    path = tmp_path / "sizes.csv"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    ingest_sizes(settings.build_database, path, "paper")
    assert loaded(settings) == [("en", "articles_size", 100.0), ("fr", "articles_size", 50.5)]


@pytest.mark.parametrize("line, message", [
    ("de,nan", r"sizes.csv:4: articles_size='nan' is not a size"),
    ("de,inf", r"sizes.csv:4: articles_size='inf' is not a size"),
    ("de,-3", r"sizes.csv:4: articles_size='-3' is not a size"),
    ("de,many", r"sizes.csv:4: articles_size='many' is not a size"),
    ("de,10,11", r"sizes.csv:4: 3 fields, the header has 2"),
    ("de", r"sizes.csv:4: 1 fields, the header has 2"),
])
def test_a_bad_value_refuses_the_file_and_keeps_the_table_loaded_before(tmp_path, settings, line, message):
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    ingest_sizes(settings.build_database, good, "paper")
    bad = tmp_path / "sizes.csv"
    bad.write_text(GOOD + line + "\n")
    with pytest.raises(IngestError, match=message) as error:
        ingest_sizes(settings.build_database, bad, "paper")
    assert "\n" not in str(error.value)
    assert loaded(settings) == [("en", "articles_size", 100.0), ("fr", "articles_size", 50.5)]


def test_unknown_and_repeated_languages_are_quarantined(tmp_path, settings):
    path = tmp_path / "sizes.csv"
    path.write_text(GOOD + "xx,5\nen,7\n")
    report = ingest_sizes(settings.build_database, path, "paper")
    assert [(p.line_no, p.problem) for p in report.problems] == [(4, "unknown_language"), (5, "duplicate_language")]
    assert loaded(settings) == [("en", "articles_size", 100.0), ("fr", "articles_size", 50.5)]
    assert rows(settings.build_database, "SELECT line_no, problem FROM raw.quarantine ORDER BY line_no") == \
        [(4, "unknown_language"), (5, "duplicate_language")]
