"""The HTML report, rendered in headless Chromium from the classification scenario's warehouse."""
from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from conftest import SHARED_DATA, needs_shared, rows as conftest_rows
from warehouse.report import report
from warehouse.settings import ROOT, load_settings
from test_classification import BLOCK, D_FF, MODEL, warehouse  # noqa: F401  (module fixture: a built warehouse)

CHROMIUM = Path("/usr/bin/chromium")
FIGURES = {"fig2": "Figure 2: P@1 vs corpus size", "fig3": "Figure 3: language overlap",
           "fig4": "Figure 4: one fact's active neurons", "fig5": "Figure 5: neuron similarity",
           "fig6": "Figure 6: absence rates", "fig8": "Figure 8: absence reasons",
           "kn-layers": "Knowledge neurons per layer", "kn-overlap": "Knowledge-neuron overlap across languages",
           "laa-layers": "Language-agnostic neurons per layer",
           "method-agreement": "PROBELESS and knowledge neurons agree",
           "interventions": "Interventions: change of the gold probability"}
TABLES = ["Table 2: P@1 per language", "Absent but predicted: examples per reason", "Fact types per language",
          "Interventions by fact type (the classification's causal test)"]
SECOND = "xlmr@111111111111"  # a second model with P@1 only: no data but for Figure 2 (P@1 vs size)
# the neuron marts (issue 11's contract), a few hand-made rows for the first model
NEURON_MARTS = {
    "knowledge_neurons": ("model_id TEXT, lang TEXT, uuid TEXT, neuron_id INT, layer INT, neuron_index INT, "
                          "n_templates INT, template_share DOUBLE",
                          [("en", "f1", 0, 0, 3, 1, 1.0), ("en", "f1", 1, 0, 4, 1, 1.0),
                           ("fr", "f1", 2, 0, 3, 1, 1.0)]),
    "knowledge_neuron_overlap": ("model_id TEXT, uuid TEXT, lang_a TEXT, lang_b TEXT, jaccard DOUBLE",
                                 [("f1", "en", "fr", 0.5), ("f1", "fr", "en", 0.5)]),
    "language_agnostic_neurons": ("model_id TEXT, uuid TEXT, neuron_id INT, layer INT, neuron_index INT, "
                                  "laa_score DOUBLE, n_languages INT", [("f1", 3, 0, 3, 0.9, 2)]),
    "method_agreement": ("model_id TEXT, lang TEXT, uuid TEXT, jaccard DOUBLE, rank_overlap DOUBLE",
                         [("en", "f1", 0.25, 0.5), ("fr", "f1", 0.5, 0.75)]),
    "intervention_summary": ("model_id TEXT, set_kind TEXT, op TEXT, same_language BOOLEAN, n BIGINT, "
                             "mean_change_rate DOUBLE, flip_rate DOUBLE",
                             [("knowledge", "suppress", True, 2, -0.8, 0.5),
                              ("knowledge", "suppress", False, 2, -0.4, 0.0),
                              ("random", "suppress", True, 2, -0.05, 0.0),
                              ("knowledge", "enhance", True, 2, 0.3, 0.0)]),
    "intervention_by_fact_type": ("model_id TEXT, fact_type TEXT, set_kind TEXT, op TEXT, same_language BOOLEAN, "
                                  "n BIGINT, mean_change_rate DOUBLE, flip_rate DOUBLE",
                                  [("cross_lingual_shared", "knowledge", "suppress", False, 3, -0.5, 1 / 3),
                                   ("language_independent", "knowledge", "suppress", False, 2, -0.1, 0.0)]),
}


@pytest.fixture(scope="module")
def rendered(warehouse, tmp_path_factory):  # noqa: F811
    """The report of a copy of the warehouse: its model named as mBERT, plus an XLM-R with P@1 only."""
    tmp = tmp_path_factory.mktemp("report")
    settings = load_settings(tmp / "data")
    settings.published_database.parent.mkdir(parents=True)
    shutil.copy(warehouse.published_database, settings.published_database)
    con = duckdb.connect(str(settings.published_database))
    con.execute("UPDATE models SET name_or_path = 'bert-base-multilingual-cased'")
    con.execute(f"INSERT INTO models SELECT * REPLACE ('{SECOND}' AS model_id, 'xlm-roberta-base' AS name_or_path) "
                "FROM models")
    con.execute(f"INSERT INTO p_at_1 SELECT * REPLACE ('{SECOND}' AS model_id) FROM p_at_1")
    con.execute("ALTER TABLE models ADD COLUMN IF NOT EXISTS family TEXT")
    con.execute(f"UPDATE models SET family = if(model_id = '{SECOND}', 'causal', 'masked')")
    for table, (columns, rows) in NEURON_MARTS.items():  # hand-made rows in the (empty) published marts
        con.execute(f"CREATE TEMP TABLE hand ({columns})")
        con.executemany(f"INSERT INTO hand VALUES (?{', ?' * len(rows[0])})", [(MODEL, *row) for row in rows])
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM hand")
        con.execute("DROP TABLE hand")
    con.close()
    reference = tmp / "table2.csv"
    reference.write_text("lang,language,mbert_p1,xlmr_p1\nen,English,15.25,10.5\nfr,French,12.0,9.75\n")
    return report(settings, tmp / "out", reference)


def test_report_holds_table2_and_every_section(rendered):
    page = rendered.read_text()
    first, second = page.split(f"<h2>{SECOND}</h2>")
    for title in [*TABLES, *FIGURES.values()]:
        assert html.escape(title) in first and html.escape(title) in second, title
    assert "<th>mBERT published (%)</th>" in first and "<th>XLM-R published (%)</th>" in second
    row = "<tr><td>{}</td><td>{}</td><td>8</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
    assert row.format("en", "English", 6, "75.00", "15.25", "+59.75") in first
    assert row.format("fr", "French", 4, "50.00", "12.00", "+38.00") in first
    assert row.format("de", "", 4, "50.00", "", "") in first
    assert row.format("en", "English", 6, "75.00", "10.50", "+64.50") in second
    assert "<td>wikipedia</td><td>de</td><td>0</td><td>2</td><td>0</td><td>2</td><td>0</td>" in first
    # all but Figure 2 and Table 2 have no data for the second model
    assert second.count("no data yet") == len(FIGURES) - 1 + len(TABLES) - 1
    assert "no data yet" not in first
    assert sorted(p.name for p in rendered.parent.glob("*.png")) == sorted(
        [f"1_{MODEL}_{key}.png" for key in FIGURES] + [f"2_{SECOND}_fig2.png"])
    # every figure and table carries its SQL
    assert first.count("<details><summary>SQL</summary>") == len(FIGURES) + len(TABLES) + 1  # + models side by side
    assert ("<tr><td>cross_lingual_shared</td><td>knowledge</td><td>suppress</td><td>other</td><td>3</td>"
            "<td>-50.00</td><td>33.33</td></tr>") in first
    assert "<tr><td>wikipedia</td><td>de</td><td>shared_entity_tokens</td><td>P36</td><td>Paris Hilton</td>" in first


def test_models_side_by_side(rendered):
    page = rendered.read_text()
    side = page[page.index("Table 2: P@1 per language, models side by side"):page.index(f"<h2>{MODEL}</h2>")]
    assert f"<th>{MODEL} (masked)</th><th>{SECOND} (causal)</th>" in side
    assert "<tr><td>en</td><td>75.00</td><td>75.00</td></tr>" in side


def figure_sql(page: str, key: str) -> str:
    """The SQL shown under a figure of the first model, as a reader would copy it."""
    after = page[page.index(f"id='{key}-1'"):]
    return html.unescape(re.search(r"<pre>(.*?)</pre>", after, re.S)[1])


def test_figure4_sql_reruns_to_one_facts_neurons_per_layer_bin(rendered):
    """f7 and f8 have active neurons in all three languages; f7 comes first: its block of 50 neurons."""
    published = rendered.parent.parent / "data" / "factroots.duckdb"
    rows = conftest_rows(published, figure_sql(rendered.read_text(), "fig4"))
    bins = Counter(neuron * 16 // D_FF for neuron in range(BLOCK["f7"] * 50, (BLOCK["f7"] + 1) * 50))
    expected = sorted((lang, "subject f7 → object f7", 0, layer_bin, n, 1)
                      for lang in ["de", "en", "fr"] for layer_bin, n in bins.items())
    assert sorted(rows) == expected


def test_without_a_reference_or_a_published_file(warehouse, tmp_path):  # noqa: F811
    page = report(warehouse, tmp_path / "out").read_text()
    assert "Table 2: P@1 per language" in page and "published (%)" not in page
    assert "<h3>Knowledge neurons per layer</h3>\n<p class=\"nodata\">no data yet</p>" in page  # no such mart
    with pytest.raises(FileNotFoundError, match="nothing published yet"):
        report(load_settings(tmp_path / "empty"), tmp_path / "out2")


def shipped_table2() -> dict[tuple[str, str], tuple[str, float]]:
    with open(ROOT / "seeds" / "paper_p_at_1.csv", newline="") as f:
        return {(r["paper_model"], r["lang"]): (r["language"], float(r["p_at_1"])) for r in csv.DictReader(f)}


@needs_shared
def test_the_shipped_table2_holds_the_papers_figures():
    with open(SHARED_DATA / "reference" / "zhao2024_table2_p1.csv", newline="") as f:
        paper = list(csv.DictReader(f))
    shipped = shipped_table2()
    assert len(shipped) == 2 * len(paper) == 2 * 53
    for row in paper:
        for model, column in (("mBERT", "mbert_p1"), ("XLM-R", "xlmr_p1")):
            language, p_at_1 = shipped[model, row["lang"]]
            assert language == row["language"] and 100 * p_at_1 == pytest.approx(float(row[column]), abs=1e-9)


def test_without_a_reference_the_report_uses_the_shipped_table(rendered):
    settings = load_settings(rendered.parent.parent / "data")
    first = report(settings, rendered.parent.parent / "out2").read_text().split(f"<h2>{SECOND}</h2>")[0]
    language, p_at_1 = shipped_table2()["mBERT", "en"]
    assert "<th>mBERT published (%)</th>" in first
    assert f"<tr><td>en</td><td>{language}</td><td>8</td><td>6</td><td>75.00</td><td>{100 * p_at_1:.2f}</td>" \
           f"<td>{75 - 100 * p_at_1:+.2f}</td></tr>" in first


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless check needs Debian's chromium (/usr/bin/chromium)")
def test_every_figure_renders_in_chromium(rendered, tmp_path):
    dom = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path}", "--dump-dom", rendered.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    images = re.findall(r"<img [^>]*>", dom)
    sizes = {re.search(r'id="([^"]+)"', img)[1]: re.search(r'data-loaded="(\d+)x(\d+)"', img) for img in images}
    assert set(sizes) == {f"{key}-1" for key in FIGURES} | {"fig2-2"}
    for name, size in sizes.items():
        assert size and int(size[1]) > 100 and int(size[2]) > 100, (name, size and size[0])
