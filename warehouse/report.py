"""`factroots report`: the paper's Table 2 and figures as one self-contained HTML file plus PNGs."""
from __future__ import annotations

import base64
import csv
import html
import re
from pathlib import Path

import duckdb
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

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
figcaption{color:#444;font-size:90%;max-width:800px}
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
        sections = [_model_section(con, i, model_id, name, published, order, out_dir)
                    for i, (model_id, name) in enumerate(models, 1)]
    finally:
        con.close()
    body = "\n".join(sections) or NO_DATA
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


def _model_section(con, index: int, model_id: str, name: str, published: dict, order: dict[str, list[str]],
                   out_dir: Path) -> str:
    prefix = f"{index}_" + re.sub(r"[^A-Za-z0-9.@-]+", "_", model_id.rsplit("/", 1)[-1])

    def q(sql: str) -> list[tuple]:
        return con.execute(sql, [model_id]).fetchall()

    p_at_1 = q("SELECT lang, n_probed, n_correct, p_at_1 FROM p_at_1 WHERE model_id = ? ORDER BY lang")

    def figure(number: int, title: str, draw, rows, caption: str) -> str:
        heading = f"<h3>Figure {number}: {html.escape(title)}</h3>"
        if not rows:
            return f"{heading}\n{NO_DATA}"
        fig = draw(rows)
        png = out_dir / f"{prefix}_fig{number}.png"
        FigureCanvasAgg(fig).print_png(png)
        data = base64.b64encode(png.read_bytes()).decode()
        return (f"{heading}\n<figure><img id='fig{number}-{index}' alt='{html.escape(title)}' "
                f"src='data:image/png;base64,{data}'><figcaption>{caption}</figcaption></figure>")

    sizes = q("SELECT c.corpus, c.lang, c.n_tokens, p.p_at_1 FROM corpora c JOIN p_at_1 p USING (lang) "
              "WHERE p.model_id = ? AND c.n_tokens > 0 AND p.p_at_1 IS NOT NULL ORDER BY c.corpus, c.lang")
    size_r = q("SELECT measure, n_points, pearson_r FROM correlations WHERE model_id = ? "
               "AND measure NOT LIKE '%mask_tokens%' ORDER BY measure")
    r_text = "; ".join(f"{html.escape(m)}: r = {'n/a' if r is None else f'{r:.3f}'} (n = {n})"
                       for m, n, r in size_r) or "no correlation computed yet"
    overlap = q("SELECT lang_a, lang_b, jaccard FROM language_overlap WHERE model_id = ?")
    neurons = q("SELECT lang_a, lang_b, mean_jaccard FROM neuron_similarity WHERE model_id = ?")
    absence = q("SELECT corpus, lang, absence_rate, absence_rate_correct FROM absence_rates "
                "WHERE model_id = ? ORDER BY corpus, lang")
    reasons = q("SELECT corpus, lang, reason, count(*) FROM absence_reasons WHERE model_id = ? "
                "GROUP BY ALL ORDER BY corpus, lang")
    types = q("SELECT corpus, lang, fact_type, count(*) FROM fact_classification WHERE model_id = ? "
              "GROUP BY ALL ORDER BY corpus, lang")
    parts = [
        f"<section><h2>{html.escape(model_id)}</h2><p>name or path: <code>{html.escape(name)}</code></p>",
        _table2(p_at_1, name, published),
        figure(2, "P@1 vs corpus size", _draw_sizes, sizes,
               f"P@1 per language against the tokens of its traced corpus. Pearson r of P@1 with corpus "
               f"size (table <code>correlations</code>): {r_text}."),
        figure(3, "language overlap", lambda rows: _draw_heatmap(rows, "Jaccard of correct facts"), overlap,
               "Jaccard similarity of the facts correctly predicted in two languages, over the facts "
               "probed in both (table <code>language_overlap</code>)."),
        figure(5, "neuron similarity", lambda rows: _draw_heatmap(rows, "mean neuron Jaccard"), neurons,
               "Mean Jaccard of the active neurons of facts correct in both languages "
               "(table <code>neuron_similarity</code>)."),
        figure(6, "absence rates", _draw_absence, absence,
               "Share of facts whose subject and object never occur together in one segment of the "
               "language's corpus, over all facts and over correctly predicted facts "
               "(table <code>absence_rates</code>)."),
        figure(7, "absence reasons", lambda rows: _draw_reasons(rows, order["absence_reason_types"]), reasons,
               "Why a fact absent from the corpus is still predicted correctly, as shares per language "
               "(table <code>absence_reasons</code>)."),
        _fact_types(types, order["fact_types"]),
        "</section>",
    ]
    return "\n".join(parts)


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
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    note = (f"<p>Published figures: Zhao et al. (2024), Table 2, {label}.</p>" if compare else "")
    table = ("<table id='table2'><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"
             + "".join(body) + "</table>") if rows else NO_DATA
    return f"<h3>Table 2: P@1 per language</h3>\n{note}{table}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _fact_types(rows, declared: list[str]) -> str:
    heading = "<h3>Fact types per language</h3>"
    if not rows:
        return f"{heading}\n{NO_DATA}"
    counts = {(corpus, lang, t): n for corpus, lang, t, n in rows}
    keys = sorted({(corpus, lang) for corpus, lang, _, _ in rows})
    head = "".join(f"<th>{html.escape(t)}</th>" for t in ["corpus", "lang"] + declared)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in
                                     [corpus, lang] + [counts.get((corpus, lang, t), 0) for t in declared]) + "</tr>"
                   for corpus, lang in keys)
    return f"{heading}\n<table id='fact-types'><tr>{head}</tr>{body}</table>"


def _labels(rows) -> list[str]:
    """Language labels for (corpus, lang, ...) rows, naming the corpus only when there are several."""
    several = len({r[0] for r in rows}) > 1
    return [f"{lang} ({corpus})" if several else lang for corpus, lang, *_ in rows]


def _draw_sizes(rows):
    fig = Figure(figsize=(7, 4.5), dpi=100, layout="tight")
    ax = fig.subplots()
    for corpus in sorted({r[0] for r in rows}):
        points = [(lang, n, 100 * p) for c, lang, n, p in rows if c == corpus]
        ax.scatter([n for _, n, _ in points], [p for _, _, p in points], label=corpus)
        for lang, n, p in points:
            ax.annotate(lang, (n, p), textcoords="offset points", xytext=(3, 3), fontsize=8)
    sizes = [r[2] for r in rows]
    if max(sizes) > 100 * min(sizes):
        ax.set_xscale("log")
    ax.set_xlabel("corpus size (tokens)")
    ax.set_ylabel("P@1 (%)")
    ax.legend(title="corpus")
    return fig


def _draw_heatmap(rows, label: str):
    langs = sorted({r[0] for r in rows} | {r[1] for r in rows})
    at = {lang: i for i, lang in enumerate(langs)}
    matrix = np.full((len(langs), len(langs)), np.nan)
    for a, b, value in rows:
        if value is not None:
            matrix[at[a], at[b]] = matrix[at[b], at[a]] = value
    side = min(12, 3 + 0.25 * len(langs))
    fig = Figure(figsize=(side + 1.5, side), dpi=100, layout="tight")
    ax = fig.subplots()
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(langs)), langs, rotation=90, fontsize=8 if len(langs) > 20 else 10)
    ax.set_yticks(range(len(langs)), langs, fontsize=8 if len(langs) > 20 else 10)
    if len(langs) <= 12:
        for (i, j), value in np.ndenumerate(matrix):
            if not np.isnan(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="w" if value < 0.6 else "k")
    fig.colorbar(image, ax=ax, label=label)
    return fig


def _draw_absence(rows):
    labels = _labels(rows)
    x = np.arange(len(rows))
    fig = Figure(figsize=(max(6, 0.35 * len(rows) + 2), 4), dpi=100, layout="tight")
    ax = fig.subplots()
    ax.bar(x - 0.2, [100 * (r[2] or 0) for r in rows], 0.4, label="all facts")
    ax.bar(x + 0.2, [100 * (r[3] or 0) for r in rows], 0.4, label="correct facts")
    ax.set_xticks(x, labels, rotation=90 if len(rows) > 12 else 0)
    ax.set_ylabel("absent from the corpus (%)")
    ax.set_ylim(0, 100)
    ax.legend()
    return fig


def _draw_reasons(rows, declared: list[str]):
    keys = sorted({(corpus, lang) for corpus, lang, _, _ in rows})
    counts = {(corpus, lang, reason): n for corpus, lang, reason, n in rows}
    totals = {key: 0 for key in keys}
    for corpus, lang, _, n in rows:
        totals[corpus, lang] += n
    x = np.arange(len(keys))
    fig = Figure(figsize=(max(6, 0.35 * len(keys) + 2), 4), dpi=100, layout="tight")
    ax = fig.subplots()
    bottom = np.zeros(len(keys))
    for reason in declared:
        share = np.array([100 * counts.get((*key, reason), 0) / totals[key] for key in keys])
        ax.bar(x, share, 0.6, bottom=bottom, label=reason)
        bottom += share
    ax.set_xticks(x, _labels(keys), rotation=90 if len(keys) > 12 else 0)
    ax.set_ylabel("share of absent correct facts (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    return fig
