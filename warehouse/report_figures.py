"""The report's figures: matplotlib drawings of the rows its queries return (one function per figure)."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def _labels(rows) -> list[str]:
    """Language labels for (corpus, lang, ...) rows, naming the corpus only when there are several."""
    several = len({r[0] for r in rows}) > 1
    return [f"{lang} ({corpus})" if several else lang for corpus, lang, *_ in rows]


def draw_sizes(rows):
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


def draw_heatmap(rows, label: str):
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


def draw_absence(rows):
    x = np.arange(len(rows))
    fig = Figure(figsize=(max(6, 0.35 * len(rows) + 2), 4), dpi=100, layout="tight")
    ax = fig.subplots()
    ax.bar(x - 0.2, [100 * (r[2] or 0) for r in rows], 0.4, label="all facts")
    ax.bar(x + 0.2, [100 * (r[3] or 0) for r in rows], 0.4, label="correct facts")
    ax.set_xticks(x, _labels(rows), rotation=90 if len(rows) > 12 else 0)
    ax.set_ylabel("absent from the corpus (%)")
    ax.set_ylim(0, 100)
    ax.legend()
    return fig


def draw_reasons(rows, declared: list[str]):
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


def draw_fact_neurons(rows, n_layers: int, n_bins: int):
    """Figure 4: one fact's active neurons per (layer, bin) in each language, one heatmap per language.

    rows: (lang, label, layer, layer_bin, n_active)."""
    langs = sorted({r[0] for r in rows})
    grids = {lang: np.zeros((n_layers, n_bins)) for lang in langs}
    titles = {}
    for lang, label, layer, layer_bin, n in rows:
        grids[lang][layer, layer_bin] = n
        titles[lang] = f"{lang}: {label}"
    top = max(grid.max() for grid in grids.values())
    fig = Figure(figsize=(4 * len(langs) + 1, max(3, 0.35 * n_layers + 1.5)), dpi=100, layout="constrained")
    axes = fig.subplots(1, len(langs), squeeze=False)[0]
    for ax, lang in zip(axes, langs):
        image = ax.imshow(grids[lang], origin="lower", aspect="auto", cmap="Blues", vmin=0, vmax=top)
        ax.set_title(titles[lang], fontsize=9)
        ax.set_xlabel(f"bin of neuron index ({n_bins} per layer)")
        ax.set_ylabel("layer")
        ax.set_yticks(range(0, n_layers, max(1, n_layers // 12)))
    fig.colorbar(image, ax=list(axes), label="active neurons")
    return fig


def draw_by_layer(rows, label: str):
    """Lines per language over layers. rows: (lang, layer, value)."""
    fig = Figure(figsize=(7, 4), dpi=100, layout="tight")
    ax = fig.subplots()
    for lang in sorted({r[0] for r in rows}):
        points = [(layer, value) for l, layer, value in rows if l == lang]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=lang)
    ax.set_xlabel("layer")
    ax.set_ylabel(label)
    ax.legend(fontsize=8, ncol=2)
    return fig


def draw_bars(rows, label: str, series: list[str]):
    """Grouped bars: rows (category, value of each series ...), one bar per series."""
    x = np.arange(len(rows))
    width = 0.8 / len(series)
    fig = Figure(figsize=(max(6, 0.4 * len(rows) * len(series) + 2), 4), dpi=100, layout="tight")
    ax = fig.subplots()
    for i, name in enumerate(series):
        ax.bar(x - 0.4 + width * (i + 0.5), [r[1 + i] or 0 for r in rows], width, label=name)
    ax.set_xticks(x, [str(r[0]) for r in rows], rotation=90 if len(rows) > 12 else 0)
    ax.set_ylabel(label)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return fig


def draw_interventions(rows):
    """Mean change rate per neuron-set kind, suppress and enhance side by side, same vs other language
    (and every language, for language-agnostic sets).

    rows: (set_kind, op, same_language, n, mean_change_rate, flip_rate)."""
    ops = [op for op in ("suppress", "enhance") if any(r[1] == op for r in rows)]
    kinds = sorted({r[0] for r in rows})
    value = {(kind, op, same): rate for kind, op, same, _, rate, _ in rows}
    fig = Figure(figsize=(5 * len(ops) + 1, 4), dpi=100, layout="tight")
    axes = fig.subplots(1, len(ops), squeeze=False)[0]
    x = np.arange(len(kinds))
    for ax, op in zip(axes, ops):
        # language-agnostic sets come from every language: their own bar
        series = [(True, "same language"), (False, "other language")] + \
            [(None, "every language (language-agnostic)")] * any(r[2] is None for r in rows)
        width = 0.8 / len(series)
        for i, (same, name) in enumerate(series):
            ax.bar(x + (i - (len(series) - 1) / 2) * width,
                   [100 * (value.get((kind, op, same)) or 0) for kind in kinds], width, label=name)
        ax.axhline(0, color="k", linewidth=0.5)
        ax.set_xticks(x, kinds, rotation=20)
        ax.set_title(op)
        ax.set_ylabel("mean change of the gold probability (%)")
        ax.legend(fontsize=8)
    return fig
