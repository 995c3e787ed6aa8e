"""End to end on the bundled default: tiny model, sample facts, probe, build, publish."""
from __future__ import annotations

import shutil

import duckdb
import pytest

from warehouse.cli import main
from warehouse.demo import demo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory, default_bert, default_gpt2):
    from warehouse.settings import load_settings
    settings = load_settings(tmp_path_factory.mktemp("demo") / "data")
    for trained in (default_bert, default_gpt2):  # the session's training, found by the demo's cache
        shutil.copytree(trained, settings.model_cache_dir / trained.name)
    return settings, demo(settings, progress=False)


def test_demo_builds_a_published_warehouse_with_correct_predictions(built):
    settings, lines = built
    con = duckdb.connect(str(settings.published_database), read_only=True)
    families = dict(con.execute("SELECT family, model_id FROM models").fetchall())
    assert sorted(families) == ["causal", "masked"]  # the tiny BERT and the tiny GPT-2 side by side
    for model_id in families.values():
        per_lang = con.execute("SELECT lang, n_facts, n_probed, n_correct FROM p_at_1 WHERE model_id = ? "
                               "ORDER BY lang", [model_id]).fetchall()
        flags = con.execute("SELECT lang, count(*) FILTER (WHERE is_correct) FROM predictions WHERE model_id = ? "
                            "GROUP BY lang ORDER BY lang", [model_id]).fetchall()
        pairs = con.execute("SELECT count(*) FROM language_overlap WHERE model_id = ?", [model_id]).fetchone()[0]
        types = dict(con.execute("SELECT fact_type, count(*) FROM fact_classification WHERE model_id = ? "
                                 "GROUP BY ALL", [model_id]).fetchall())
        n_active = con.execute("SELECT count(DISTINCT (lang, uuid)) FROM active_neurons WHERE model_id = ?",
                               [model_id]).fetchone()[0]
        assert [lang for lang, *_ in per_lang] == ["de", "en", "fr"]
        assert all(n_facts == n_probed > 0 for _, n_facts, n_probed, _ in per_lang)  # no [Y]-first template
        assert all(n_correct > 0 for *_, n_correct in per_lang), f"{model_id} should get some facts right"
        assert [(lang, n_correct) for lang, *_, n_correct in per_lang] == flags
        assert pairs == 6
        # every correct fact is classified, and has its active neurons (the sample traces all three languages)
        assert sum(types.values()) == n_active == sum(n_correct for *_, n_correct in per_lang)
        assert types.get("language_independent", 0) > 0
    con.close()
    assert sum("facts correct" in line for line in lines) == 2
    assert "  not probed, [Y] before [X] in the template (object_before_subject): de 0, en 0, fr 0" in lines


NEURON_MARTS = ("knowledge_neurons", "knowledge_neuron_overlap", "language_agnostic_neurons", "method_agreement",
                "interventions", "intervention_summary", "intervention_by_fact_type")


def test_demo_fills_every_neuron_mart(built):
    settings, lines = built
    con = duckdb.connect(str(settings.published_database), read_only=True)
    counts = {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in NEURON_MARTS}
    kinds = {kind for (kind,) in con.execute("SELECT DISTINCT set_kind FROM interventions").fetchall()}
    con.close()
    assert all(counts.values()), counts
    assert kinds == {"probeless", "knowledge", "language_agnostic", "random"}


def test_second_run_reuses_everything(built, capsys):
    settings, _ = built
    lines = demo(settings, progress=False)
    assert any("3 unchanged" in line for line in lines)
    assert sum(line.startswith("probed 0 facts") for line in lines) == 2


def test_cli_summary_reads_the_published_file(built, capsys):
    settings, _ = built
    assert main(["--data-dir", str(settings.build_database.parent), "--quiet", "summary"]) == 0
    assert "P@1" in capsys.readouterr().out
