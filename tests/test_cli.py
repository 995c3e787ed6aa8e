"""The command line: one clear error line and a non-zero exit on bad input."""
from __future__ import annotations

import re

import click

from conftest import fact, write_release
from warehouse.cli import cli, main
from warehouse.settings import ROOT


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
    assert len(err) == 1 and err[0].startswith("error: cannot load language model") and "no-model-here" in err[0]


def test_summary_before_any_build(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "--quiet", "summary"]) == 0
    assert "nothing published yet" in capsys.readouterr().out


def test_shared_options_go_before_or_after_the_command(tmp_path, capsys):
    before, after = tmp_path / "before", tmp_path / "after"
    assert main(["--data-dir", str(before), "--quiet", "settings"]) == 0
    assert main(["settings", "--data-dir", str(after), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"data directory: {before}  (--data-dir)" in out and f"data directory: {after}  (--data-dir)" in out
    assert (before / "factroots.toml").exists() and (after / "factroots.toml").exists()
    assert main(["--quiet", "settings", "--verbose"]) == 2
    assert "--quiet and --verbose exclude each other" in capsys.readouterr().err


def test_an_unknown_option_is_a_usage_error(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "probe", "--activations", "some"]) == 2
    assert "'some' is not one of 'correct', 'all', 'none'" in capsys.readouterr().err


def readme_commands() -> list[tuple[str, str, str | None]]:
    """(command, --option, its a|b|c values or None) for every `factroots <command> ... --option` in the README."""
    found = []
    for line in (ROOT / "README.md").read_text().splitlines():
        for command, rest in re.findall(r"factroots ([a-z][a-z-]*)((?:(?!factroots ).)*)", line):
            found += [(command, option, values or None)
                      for option, values in re.findall(r"(--[a-z][a-z-]*)(?:[ =]([\w:.-]+(?:\|[\w:.-]+)+))?", rest)]
    return found


def test_every_option_in_the_readme_is_in_the_commands_help():
    found = readme_commands()
    assert ("probe", "--activations", "correct|all|none") in found and ("report", "--reference", None) in found
    for command, option, values in found:
        assert command in cli.commands, f"README names an unknown command: factroots {command}"
        help_text = cli.commands[command].get_help(click.Context(cli.commands[command], info_name=command))
        assert re.search(rf"^ +{option}\b", help_text, re.M), f"README: factroots {command} {option} is not in its --help"
        if values and f"{option} [" in help_text:  # a choice: the README lists the same values
            assert f"{option} [{values}]" in help_text, f"README: factroots {command} {option} {values}"


def test_quiet_silences_every_bar_and_sqlmesh_speaks_only_when_verbose(tmp_path, capsys):
    from transformers import BertConfig, BertForMaskedLM
    from tiny_tokenizers import wordpiece_tokenizer

    tokenizer = wordpiece_tokenizer()
    BertForMaskedLM(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
                               num_attention_heads=2, intermediate_size=32)).save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    release = write_release(tmp_path / "rel", {"en": {"templates": {"P36": "[X] is [Y] ."},
                                                      "facts": {"P36": [fact("u1", "subject", "object")]}}})
    data = str(tmp_path / "data")
    capsys.readouterr()
    assert main(["--data-dir", data, "--quiet", "ingest-mlama", str(release)]) == 0
    assert main(["--data-dir", data, "--quiet", "probe", "--model", str(tmp_path / "lm")]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "probed 1 facts" in out  # no "Loading weights", no probe bar
    assert main(["--data-dir", data, "build"]) == 0
    out, err = capsys.readouterr()
    assert "published warehouse" in out and "marts.p_at_1" not in out + err
    # a new load batch gives SQLMesh something to run (a build with nothing new runs no model)
    more = write_release(tmp_path / "more", {"fr": {"templates": {"P36": "[X] est [Y] ."},
                                                    "facts": {"P36": [fact("u1", "sujet", "objet")]}}})
    assert main(["--data-dir", data, "--quiet", "ingest-mlama", str(more)]) == 0
    capsys.readouterr()
    assert main(["--data-dir", data, "--verbose", "build"]) == 0
    out = capsys.readouterr().out
    assert "int_p_at_1" in out, out  # SQLMesh's line per model run
