"""`factroots report`: the paper's Table 2 and figures as one self-contained HTML file plus PNGs."""
from __future__ import annotations

import base64
import csv
import html
import re
import textwrap
from pathlib import Path

import duckdb
from matplotlib.backends.backend_agg import FigureCanvasAgg

from warehouse import report_figures as draw
from warehouse.checks import run_expectations
from warehouse.settings import Settings

# name_or_path fragment -> the paper's model in the published table paper_p_at_1 (Table 2)
REFERENCE_MODELS = {"bert-base-multilingual": "mBERT", "xlm-roberta": "XLM-R"}
# columns of a `--reference` CSV (lang,language,mbert_p1,xlmr_p1, in percent) -> the paper's model
REFERENCE_CSV_COLUMNS = {"mbert_p1": "mBERT", "xlmr_p1": "XLM-R"}
NO_DATA = '<p class="nodata">no data yet</p>'
# marks every image with its decoded size, so a headless browser's DOM shows it rendered
MARK_IMAGES = """<script>
window.addEventListener("load", () => document.querySelectorAll("img").forEach(
  img => img.dataset.loaded = img.naturalWidth + "x" + img.naturalHeight));
</script>"""
STYLE = """<style>
body{font-family:sans-serif;margin:2em;max-width:1100px} table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right} th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left} .nodata{color:#888;font-style:italic}
figcaption{color:#444;font-size:90%;max-width:800px} details{margin:0 0 1.5em} summary{color:#555;cursor:pointer}
pre{background:#f7f7f7;padding:.5em;overflow-x:auto}
</style>"""


def write_report(settings: Settings, out: str | Path | None = None, reference: str | Path | None = None) -> list[str]:
    """`factroots report`: the report (see `report`) and the great-expectations Data Docs beside it.

    `out` defaults to report/ beside the published file."""
    out = Path(out) if out else settings.published_database.parent / "report"
    lines = [f"report written: {report(settings, out, Path(reference) if reference else None)}"]
    if not settings.build_database.exists():
        return lines + [f"data docs skipped: {settings.build_database} does not exist"]
    run_expectations(settings.build_database, docs_dir=out / "data_docs")
    return lines + [f"data docs written: {out / 'data_docs' / 'index.html'}"]


def report(settings: Settings, out_dir: Path, reference: Path | None = None) -> Path:
    """Write out_dir/report.html (figures embedded) and its PNGs from the published warehouse.

    Table 2 sets the paper's published P@1 beside ours: from the published table paper_p_at_1
    (shipped with the project), or from `reference`, a CSV of lang,language,mbert_p1,xlmr_p1 in %."""
    path = settings.published_database
    if not path.exists():
        raise FileNotFoundError(f"{path}: nothing published yet (run `factroots build`)")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=True)
    try:
        published = _read_reference(reference) if reference else _published_reference(con)
        models = con.execute("SELECT model_id, name_or_path FROM models ORDER BY model_id").fetchall()
        order = {table: [name for name, in con.execute(f"SELECT name FROM {table} ORDER BY display_order").fetchall()]
                 for table in ("fact_types", "absence_reason_types")}  # the declared lists (seeds/)
        layer_bins = settings.variables["layer_bins"]
        sections = [_model_section(_Section(con, i, model_id, out_dir), name, published, order, layer_bins)
                    for i, (model_id, name) in enumerate(models, 1)]
        side_by_side = _models_side_by_side(con)
    finally:
        con.close()
    body = "\n".join([side_by_side, *sections]) if sections else NO_DATA
    page = (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>factroots report</title>{STYLE}"
            f"</head><body><h1>factroots report</h1><p>From <code>{html.escape(str(path))}</code>.</p>\n"
            f"{body}\n{MARK_IMAGES}</body></html>\n")
    out = out_dir / "report.html"
    out.write_text(page, encoding="utf-8")
    return out


def _read_reference(path: Path) -> dict[str, dict]:
    """{lang: {"language": name, paper model: P@1 in %}} from a `--reference` CSV."""
    with open(path, newline="", encoding="utf-8") as f:
        return {row["lang"]: {"language": row.get("language", ""),
                              **{model: float(row[column]) for column, model in REFERENCE_CSV_COLUMNS.items()
                                 if row.get(column)}}
                for row in csv.DictReader(f)}


def _published_reference(con) -> dict[str, dict]:
    """The same from the published table paper_p_at_1; {} in a warehouse built before it existed."""
    if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'paper_p_at_1'").fetchall():
        return {}
    published = {}
    for model, lang, language, p_at_1 in con.execute(
            "SELECT paper_model, lang, language, p_at_1 FROM paper_p_at_1").fetchall():
        published.setdefault(lang, {"language": language})[model] = 100 * p_at_1
    return published


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _html_table(table_id: str, head: list[str], rows: list[list]) -> str:
    return (f"<table id='{table_id}'><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
            + "</table>")


def _sql_block(queries: list[str], model_id: str | None = None) -> str:
    """The queries behind a figure or table, ready to rerun on the published file (collapsed)."""
    text = "\n\n".join(textwrap.dedent(query).strip() + ";" for query in queries)
    if model_id is not None:
        text = text.replace("$model_id", _literal(model_id))
    return f"<details><summary>SQL</summary><pre>{html.escape(text)}</pre></details>"


def _models_side_by_side(con) -> str:
    """Table 2 with every model side by side (with its family, masked or causal, where published)."""
    heading = "<h2>Table 2: P@1 per language, models side by side</h2>"
    queries = ["SELECT * FROM models ORDER BY model_id", "SELECT lang, model_id, p_at_1 FROM p_at_1 ORDER BY lang"]
    cursor = con.execute(queries[0])
    columns = [c[0] for c in cursor.description]
    models = [dict(zip(columns, row)) for row in cursor.fetchall()]
    if len(models) < 2:
        return f"{heading}\n<p class='nodata'>one model only: see its section</p>"
    percent = {(lang, model_id): None if p is None else 100 * p
               for lang, model_id, p in con.execute(queries[1]).fetchall()}
    head = ["lang"] + [f"{m['model_id']} ({m['family']})" if m.get("family") else m["model_id"] for m in models]
    rows = [[lang] + [_pct(percent.get((lang, m["model_id"]))) for m in models]
            for lang in sorted({lang for lang, _ in percent})]
    return f"{heading}\n<p>P@1 (%) of each model.</p>{_html_table('table2-models', head, rows)}\n{_sql_block(queries)}"


class _Section:
    """One model's part of the report: runs each query for that model and shows it with its SQL."""

    def __init__(self, con, index: int, model_id: str, out_dir: Path):
        self.con, self.index, self.model_id, self.out_dir = con, index, model_id, out_dir
        self.prefix = f"{index}_" + re.sub(r"[^A-Za-z0-9.@-]+", "_", model_id.rsplit("/", 1)[-1])

    def rows(self, sql: str) -> list[tuple]:
        """The query's rows for this model ($model_id); none when a table it reads is not published."""
        try:
            return self.con.execute(sql, {"model_id": self.model_id} if "$model_id" in sql else None).fetchall()
        except duckdb.CatalogException:  # a mart of a newer warehouse, not in this one (yet)
            return []

    def sql(self, *queries: str) -> str:
        return _sql_block(list(queries), self.model_id)

    def figure(self, key: str, title: str, sql: str, draw_rows, caption: str, *more_sql: str) -> str:
        """A figure drawn from the rows of `sql` (PNG beside the report and embedded), with its SQL."""
        heading = f"<h3>{html.escape(title)}</h3>"
        rows = self.rows(sql)
        if not rows:
            return f"{heading}\n{NO_DATA}\n{self.sql(sql, *more_sql)}"
        png = self.out_dir / f"{self.prefix}_{key}.png"
        FigureCanvasAgg(draw_rows(rows)).print_png(png)
        data = base64.b64encode(png.read_bytes()).decode()
        return (f"{heading}\n<figure><img id='{key}-{self.index}' alt='{html.escape(title)}' "
                f"src='data:image/png;base64,{data}'><figcaption>{caption}</figcaption></figure>\n"
                f"{self.sql(sql, *more_sql)}")

    def table(self, table_id: str, title: str, sql: str, head: list[str], render, intro: str = "") -> str:
        """A table of the rows of `sql`, each row rendered by `render`, with its SQL."""
        rows = self.rows(sql)
        body = f"{intro}{_html_table(f'{table_id}-{self.index}', head, [render(r) for r in rows])}" if rows else NO_DATA
        return f"<h3>{html.escape(title)}</h3>\n{body}\n{self.sql(sql)}"


def _model_section(s: _Section, name: str, published: dict, order: dict[str, list[str]], layer_bins: int) -> str:
    p_at_1_sql = "SELECT lang, n_probed, n_correct, p_at_1 FROM p_at_1 WHERE model_id = $model_id ORDER BY lang"
    size_r_sql = """
        SELECT measure, n_points, pearson_r FROM correlations
        WHERE model_id = $model_id AND measure NOT LIKE '%mask_tokens%' ORDER BY measure"""
    r_text = "; ".join(f"{html.escape(m)}: r = {'n/a' if r is None else f'{r:.3f}'} (n = {n})"
                       for m, n, r in s.rows(size_r_sql)) or "no correlation computed yet"
    fact_neurons_sql = f"""
        WITH fact AS (  -- the fact with active neurons in the most languages (the first uuid of those)
          SELECT uuid FROM active_neurons WHERE model_id = $model_id
          GROUP BY uuid ORDER BY count(DISTINCT lang) DESC, uuid LIMIT 1
        ), langs AS (  -- three of its languages, in alphabetical order
          SELECT DISTINCT lang FROM active_neurons JOIN fact USING (uuid)
          WHERE model_id = $model_id ORDER BY lang LIMIT 3
        ), labels AS (
          SELECT DISTINCT lang, sub_label || ' → ' || obj_label AS label
          FROM predictions JOIN fact USING (uuid) WHERE model_id = $model_id
        )
        SELECT lang, label, layer, neuron_index * {layer_bins} // models.d_ff AS layer_bin, count(*) AS n_active,
               models.n_layers
        FROM active_neurons JOIN fact USING (uuid) JOIN langs USING (lang) JOIN labels USING (lang)
        JOIN models USING (model_id)
        WHERE model_id = $model_id
        GROUP BY ALL ORDER BY ALL"""
    examples_sql = """
        WITH labels AS (
          SELECT DISTINCT lang, uuid, sub_label, obj_label FROM predictions WHERE model_id = $model_id
        )
        SELECT corpus, lang, reason, relation, sub_label, obj_label
        FROM absence_reasons JOIN labels USING (lang, uuid)
        JOIN absence_reason_types ON absence_reason_types.name = absence_reasons.reason
        WHERE model_id = $model_id
        QUALIFY row_number() OVER (PARTITION BY corpus, lang, reason ORDER BY uuid) <= 3
        ORDER BY corpus, lang, display_order, uuid"""
    fact_types_sql = ("SELECT corpus, lang, fact_type, count(*) FROM fact_classification "
                      "WHERE model_id = $model_id GROUP BY ALL ORDER BY corpus, lang")
    parts = [
        f"<section><h2>{html.escape(s.model_id)}</h2><p>name or path: <code>{html.escape(name)}</code></p>",
        _table2(s.rows(p_at_1_sql), name, published) + "\n" + s.sql(p_at_1_sql),
        s.figure("fig2", "Figure 2: P@1 vs corpus size", """
            SELECT c.corpus, c.lang, c.n_tokens, p.p_at_1 FROM corpora c JOIN p_at_1 p USING (lang)
            WHERE p.model_id = $model_id AND c.n_tokens > 0 AND p.p_at_1 IS NOT NULL ORDER BY c.corpus, c.lang""",
                 draw.draw_sizes,
                 f"P@1 per language against the tokens of its traced corpus. Pearson r of P@1 with corpus "
                 f"size (table <code>correlations</code>): {r_text}.", size_r_sql),
        s.figure("fig3", "Figure 3: language overlap",
                 "SELECT lang_a, lang_b, jaccard FROM language_overlap WHERE model_id = $model_id",
                 lambda rows: draw.draw_heatmap(rows, "Jaccard of correct facts"),
                 "Jaccard similarity of the facts correctly predicted in two languages, over the facts "
                 "probed in both (table <code>language_overlap</code>)."),
        s.figure("fig4", "Figure 4: one fact's active neurons", fact_neurons_sql,
                 lambda rows: draw.draw_fact_neurons([r[:5] for r in rows], rows[0][5], layer_bins),
                 f"Where the active (PROBELESS) neurons of one fact sit in up to three languages: counts per layer "
                 f"and per bin of neuron index ({layer_bins} bins per layer, the <code>layer_bins</code> setting). "
                 f"The fact is the one with active neurons in the most languages (table "
                 f"<code>active_neurons</code>; all facts together: <code>active_neuron_layers</code>)."),
        s.figure("fig5", "Figure 5: neuron similarity",
                 "SELECT lang_a, lang_b, mean_jaccard FROM neuron_similarity WHERE model_id = $model_id",
                 lambda rows: draw.draw_heatmap(rows, "mean neuron Jaccard"),
                 "Mean Jaccard of the active neurons of facts correct in both languages "
                 "(table <code>neuron_similarity</code>)."),
        s.figure("fig6", "Figure 6: absence rates", """
            SELECT corpus, lang, absence_rate, absence_rate_correct FROM absence_rates
            WHERE model_id = $model_id ORDER BY corpus, lang""", draw.draw_absence,
                 "Share of facts whose subject and object never occur together in one segment of the "
                 "language's corpus, over all facts and over correctly predicted facts "
                 "(table <code>absence_rates</code>)."),
        s.figure("fig8", "Figure 8: absence reasons", """
            SELECT corpus, lang, reason, count(*) FROM absence_reasons WHERE model_id = $model_id
            GROUP BY ALL ORDER BY corpus, lang""",
                 lambda rows: draw.draw_reasons(rows, order["absence_reason_types"]),
                 "Why a fact absent from the corpus is still predicted correctly: the shares of shared entity "
                 "tokens, naming cues and others per language (table <code>absence_reasons</code>)."),
        s.table("absent-examples", "Absent but predicted: examples per reason", examples_sql,
                ["corpus", "lang", "reason", "relation", "subject", "object"], list,
                "<p>Up to three correctly predicted facts per language and reason whose subject and object "
                "never occur together in the corpus.</p>"),
        _fact_types(s.rows(fact_types_sql), order["fact_types"]) + "\n" + s.sql(fact_types_sql),
        *_neuron_parts(s),
        "</section>",
    ]
    return "\n".join(parts)


def _neuron_parts(s: _Section) -> list[str]:
    """Knowledge neurons (integrated gradients), language-agnostic neurons and the interventions."""
    return [
        s.figure("kn-layers", "Knowledge neurons per layer", """
            WITH neurons AS (
              SELECT * FROM knowledge_neurons WHERE model_id = $model_id
            ), facts AS (
              SELECT lang, count(DISTINCT uuid) AS n_facts FROM neurons GROUP BY lang
            )
            SELECT lang, layer, count(*) / any_value(n_facts) AS neurons_per_fact
            FROM neurons JOIN facts USING (lang) GROUP BY lang, layer ORDER BY lang, layer""",
                 lambda rows: draw.draw_by_layer(rows, "knowledge neurons per fact"),
                 "Knowledge neurons (integrated gradients) per fact in each layer, by language "
                 "(table <code>knowledge_neurons</code>)."),
        s.figure("kn-overlap", "Knowledge-neuron overlap across languages", """
            SELECT least(lang_a, lang_b) AS lang_a, greatest(lang_a, lang_b) AS lang_b, avg(jaccard) AS mean_jaccard
            FROM knowledge_neuron_overlap WHERE model_id = $model_id GROUP BY ALL""",
                 lambda rows: draw.draw_heatmap(rows, "mean knowledge-neuron Jaccard"),
                 "Mean Jaccard of a fact's knowledge neurons in two languages "
                 "(table <code>knowledge_neuron_overlap</code>)."),
        s.figure("laa-layers", "Language-agnostic neurons per layer", """
            SELECT layer, count(*) AS n_neurons FROM language_agnostic_neurons WHERE model_id = $model_id
            GROUP BY layer ORDER BY layer""",
                 lambda rows: draw.draw_bars(rows, "language-agnostic neurons (all facts)", ["neurons"]),
                 "Language-agnostic knowledge neurons of all facts, per layer "
                 "(table <code>language_agnostic_neurons</code>)."),
        s.figure("method-agreement", "PROBELESS and knowledge neurons agree", """
            SELECT lang, avg(jaccard) AS mean_jaccard, avg(rank_overlap) AS mean_rank_overlap
            FROM method_agreement WHERE model_id = $model_id GROUP BY lang ORDER BY lang""",
                 lambda rows: draw.draw_bars(rows, "mean over facts", ["Jaccard", "rank overlap"]),
                 "How far a fact's top PROBELESS neurons and its knowledge neurons coincide, per language "
                 "(table <code>method_agreement</code>)."),
        s.figure("interventions", "Interventions: change of the gold probability", """
            SELECT set_kind, op, same_language, n, mean_change_rate, flip_rate FROM intervention_summary
            WHERE model_id = $model_id ORDER BY ALL""", draw.draw_interventions,
                 "Mean change rate of the gold object's probability when a fact's neuron set (found in one "
                 "language) is suppressed or enhanced in the same language or another one where the fact is "
                 "correct; <code>random</code> is the control (table <code>intervention_summary</code>)."),
        s.table("interventions-by-type", "Interventions by fact type (the classification's causal test)", """
            SELECT fact_type, set_kind, op, same_language, n, mean_change_rate, flip_rate
            FROM intervention_by_fact_type
            WHERE model_id = $model_id ORDER BY display_order, set_kind, op, same_language DESC""",
                ["fact type", "neuron set", "op", "language", "n", "mean change (%)", "flipped (%)"],
                lambda r: [r[0], r[1], r[2], {True: "same", False: "other", None: "all"}[r[3]], f"{r[4]:,}",
                           _pct(100 * r[5]), _pct(100 * r[6])],
                "<p>A cross-lingual shared fact should lose more in another language from its neurons than a "
                "language-independent one; the random set is the control.</p>"),
    ]


def _table2(rows, name: str, published: dict) -> str:
    label = next((model for key, model in REFERENCE_MODELS.items() if key in name.lower()), None)
    compare = label is not None and bool(published)
    head = ["lang"] + (["language"] if published else [])
    head += ["probed", "correct", "P@1 (%)"] + ([f"{label} published (%)", "difference"] if compare else [])
    body = []
    for lang, n_probed, n_correct, p in rows:
        ref = published.get(lang, {})
        ours = None if p is None else 100 * p
        cells = [lang] + ([ref.get("language", "")] if published else [])
        cells += [f"{n_probed:,}", f"{n_correct:,}", _pct(ours)]
        if compare:
            theirs = ref.get(label)
            diff = ours - theirs if ours is not None and theirs is not None else None
            cells += [_pct(theirs), "" if diff is None else f"{diff:+.2f}"]
        body.append(cells)
    note = (f"<p>Published figures: Zhao et al. (2024), Table 2, {label}.</p>" if compare else "")
    return f"<h3>Table 2: P@1 per language</h3>\n{note}{_html_table('table2', head, body) if rows else NO_DATA}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _fact_types(rows, declared: list[str]) -> str:
    heading = "<h3>Fact types per language</h3>"
    if not rows:
        return f"{heading}\n{NO_DATA}"
    counts = {(corpus, lang, t): n for corpus, lang, t, n in rows}
    keys = sorted({(corpus, lang) for corpus, lang, _, _ in rows})
    body = [[corpus, lang] + [counts.get((corpus, lang, t), 0) for t in declared] for corpus, lang in keys]
    return f"{heading}\n{_html_table('fact-types', ['corpus', 'lang'] + declared, body)}"
