"""The command line: one clear error line and a non-zero exit on bad input."""
from __future__ import annotations

from conftest import fact, write_release
from warehouse.cli import main


def test_missing_source_is_one_error_line(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "--quiet", "ingest-mlama", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "nowhere" in err[0]


def test_ingest_reports_problems_and_strict_fails(tmp_path, capsys):
    release = write_release(tmp_path / "rel", {"en": {"templates": {"P36": "[X] is [Y] ."},
                                                      "facts": {"P36": [fact("u1", "A", "B"), "{broken"]}}})
    data = str(tmp_path / "data")
    assert main(["--data-dir", data, "--quiet", "ingest-mlama", str(release), "--strict"]) == 1
    assert "malformed_json" in capsys.readouterr().err
    assert main(["--data-dir", data, "--quiet", "ingest-mlama", str(release)]) == 0
    out = capsys.readouterr().out
    assert "1 languages loaded" in out and "quarantined 1 x malformed_json (first: en/P36.jsonl:2" in out


def test_a_model_that_cannot_be_loaded(tmp_path, capsys):
    missing = tmp_path / "no-model-here"
    assert main(["--data-dir", str(tmp_path), "--quiet", "probe", "--model", str(missing)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot load masked LM") and "no-model-here" in err[0]


def test_summary_before_any_build(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "--quiet", "summary"]) == 0
    assert "nothing published yet" in capsys.readouterr().out
