"""The HTML report, rendered in headless Chromium from the classification scenario's warehouse."""
from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from conftest import SHARED_DATA, needs_shared
from warehouse.report import report
from warehouse.settings import ROOT, load_settings
from test_classification import warehouse  # noqa: F401  (module fixture: a fully built small warehouse)

CHROMIUM = Path("/usr/bin/chromium")
FIGURES = {2: "P@1 vs corpus size", 3: "language overlap", 5: "neuron similarity", 6: "absence rates",
           7: "absence reasons"}
SECOND = "xlmr@111111111111"  # a second model with P@1 only: no data but for Figure 2 (P@1 vs size)


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
    con.close()
    reference = tmp / "table2.csv"
    reference.write_text("lang,language,mbert_p1,xlmr_p1\nen,English,15.25,10.5\nfr,French,12.0,9.75\n")
    return report(settings, tmp / "out", reference)


def test_report_holds_table2_and_every_section(rendered):
    page = rendered.read_text()
    first, second = page.split(f"<h2>{SECOND}</h2>")
    for title in ["Table 2: P@1 per language", *(f"Figure {n}: {t}" for n, t in FIGURES.items()),
                  "Fact types per language"]:
        assert title in first and title in second, title
    assert "<th>mBERT published (%)</th>" in first and "<th>XLM-R published (%)</th>" in second
    row = "<tr><td>{}</td><td>{}</td><td>8</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
    assert row.format("en", "English", 6, "75.00", "15.25", "+59.75") in first
    assert row.format("fr", "French", 4, "50.00", "12.00", "+38.00") in first
    assert row.format("de", "", 4, "50.00", "", "") in first
    assert row.format("en", "English", 6, "75.00", "10.50", "+64.50") in second
    assert "<td>wikipedia</td><td>de</td><td>0</td><td>2</td><td>0</td><td>2</td><td>0</td>" in first
    assert second.count("no data yet") == len(FIGURES)  # figures 3 to 7 and the fact types
    assert sorted(p.name for p in rendered.parent.glob("*.png")) == sorted(
        [f"1_class-model@000000000000_fig{n}.png" for n in FIGURES] + [f"2_{SECOND}_fig2.png"])


def test_without_a_reference_or_a_published_file(warehouse, tmp_path):  # noqa: F811
    page = report(warehouse, tmp_path / "out").read_text()
    assert "Table 2: P@1 per language" in page and "published (%)" not in page
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
    assert set(sizes) == {f"fig{n}-1" for n in FIGURES} | {"fig2-2"}
    for name, size in sizes.items():
        assert size and int(size[1]) > 100 and int(size[2]) > 100, (name, size and size[0])
