"""Per-warehouse settings: factroots.toml in the data directory overrides the project's defaults."""
from __future__ import annotations

import re

import pytest

from conftest import rows
from test_classification import CORRECT, EXPECTED, STATED, warehouse  # noqa: F401  (module fixture)
from warehouse.build import build
from warehouse.cli import main
from warehouse.settings import SettingsError, load_settings


def test_first_use_writes_every_default_commented_out(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "settings"]) == 0
    out = capsys.readouterr().out
    text = (data / "factroots.toml").read_text()
    defaults = load_settings(data)
    assert all(s.source == "default" for s in defaults.user_settings.values())
    assert re.search(r"theta = 0.3 +from the default", out) and "memory_limit = \"8GB\"" in out
    # every setting is there, commented out below its explanation; uncommented, each gives the default
    for name, setting in defaults.user_settings.items():
        assert f"# {setting.explanation}\n# {name} = " in text, name
    (data / "factroots.toml").write_text(re.sub(r"^# (\w+ = )", r"\1", text, flags=re.M))
    uncommented = load_settings(data)
    assert {n: s.value for n, s in uncommented.user_settings.items()} == \
           {n: s.value for n, s in defaults.user_settings.items()}
    assert all(s.source == str(data / "factroots.toml") for s in uncommented.user_settings.values())
    assert uncommented.sqlmesh_config.model_dump() == defaults.sqlmesh_config.model_dump()


def test_an_override_reaches_sqlmesh_and_the_settings_command(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "factroots.toml").write_text('theta = 0.5\nmemory_limit = "2GB"\nnaming_relations = ["P17"]\n')
    settings = load_settings(data)
    assert settings.sqlmesh_config.variables["theta"] == 0.5
    assert settings.sqlmesh_config.variables["naming_relations"] == ["P17"]
    assert settings.sqlmesh_config.variables["k_neurons"] == 50
    assert settings.sqlmesh_config.gateways["local"].connection.connector_config["memory_limit"] == "2GB"
    assert settings.sqlmesh_config.cache_dir == str(data / "sqlmesh_cache")
    assert main(["--data-dir", str(data), "settings"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"theta = 0.5 +from factroots.toml", out)
    assert re.search(r"k_neurons = 50 +from the default", out)
    assert (data / "factroots.toml").read_text().startswith("theta = 0.5")  # never rewritten


@pytest.mark.parametrize("content, problem", [
    ("# a comment\ntheta = 1.5\n", ":2: theta must be between 0 and 1, not 1.5"),
    ("k_neurons = 10\nthetta = 0.2\n", ":2: unknown setting 'thetta'"),
    ("k_neurons = '50'\n", ":1: k_neurons must be a whole number, not '50'"),
    ("theta_grid = [0.1, 'x']\n", ":1: theta_grid must be a list of numbers"),
    ('probeless_population = "some"\n', ':1: probeless_population must be "correct" or "all"'),
    ("theta = \n", ": Invalid value (at line 1"),
])
def test_a_bad_settings_file_is_one_error_line_naming_file_and_line(tmp_path, capsys, content, problem):
    data = tmp_path / "data"
    data.mkdir()
    (data / "factroots.toml").write_text(content)
    with pytest.raises(SettingsError, match=re.escape(str(data / "factroots.toml") + problem)):
        load_settings(data)
    assert main(["--data-dir", str(data), "summary"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {data / 'factroots.toml'}{problem}")


def test_a_changed_theta_recomputes_what_depends_on_it_and_nothing_else(warehouse):  # noqa: F811
    def published(sql):
        return rows(warehouse.published_database, sql)

    p_at_1_before = published("SELECT model_id, lang, computed_at FROM p_at_1 ORDER BY ALL")
    assert dict(((lang, uuid), t) for lang, uuid, t in published(
        "SELECT lang, uuid, fact_type FROM fact_classification")) == EXPECTED
    warehouse.settings_file.write_text("theta = 0.0\n")
    build(load_settings(warehouse.data_dir), progress=False)

    # at theta 0 any other language where the fact is correct makes a present fact cross-lingual
    expected = dict(EXPECTED)
    for (lang, uuid), fact_type in EXPECTED.items():
        if uuid in STATED[lang]:
            shared = any(uuid in CORRECT[other] for other in CORRECT if other != lang)
            expected[lang, uuid] = "cross_lingual_shared" if shared else "language_independent"
    assert expected != EXPECTED  # en f3: correct in fr too, with neuron overlap 0
    got = dict(((lang, uuid), t) for lang, uuid, t in published(
        "SELECT lang, uuid, fact_type FROM fact_classification"))
    assert got == expected
    assert published("SELECT model_id, lang, computed_at FROM p_at_1 ORDER BY ALL") == p_at_1_before
