"""DataFrame -> matplotlib Figure. Saving is the caller's job (see ``save_figure``)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

# Figures are built without pyplot: no global state, no backend to choose, nothing to close, and a notebook
# still shows a returned Figure inline.
from matplotlib.figure import Figure


def ranked(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows best first by ``ranking_value`` (ScoreRow.ranking_value: LC where there is one, else the score),
    then by model name: the order of the leaderboard's table and downloads. Without that column, as given."""
    if "ranking_value" not in rows:
        return rows
    return rows.assign(_key=-rows["ranking_value"].astype(float)).sort_values(
        ["_key", "model"], kind="stable", na_position="last").drop(columns="_key")


def winrate_figure(rows: pd.DataFrame, title: str) -> Figure:
    """Horizontal bars of ``score`` with 95% interval whiskers (``ci_low``/``ci_high``), best first from the top
    in the leaderboard's ranking (see ``ranked``)."""
    if rows["model"].duplicated().any():
        # Two bars on one label: a table that mixes two rankings (grades and battles, two references).
        raise ValueError(f"{title}: a model appears twice: {', '.join(rows['model'][rows['model'].duplicated()])}")
    data = ranked(rows).iloc[::-1]
    fig = Figure(figsize=(7, 0.35 * len(data) + 1.2))
    ax = fig.subplots()
    low = (data["score"] - data["ci_low"]).clip(lower=0).fillna(0)
    high = (data["ci_high"] - data["score"]).clip(lower=0).fillna(0)
    ax.barh(data["model"], data["score"], xerr=[low, high], color="#4C72B0", ecolor="#333333", capsize=2)
    if "length_controlled_winrate" in data and data["length_controlled_winrate"].notna().any():
        # A weak LC (a thin difficulty table, ``lc_weak``) is drawn hollow and named so: flagged here as in the
        # tables beside the plot.
        weak = data["lc_weak"].fillna(False).astype(bool) if "lc_weak" in data else pd.Series(False, data.index)
        for part, hollow, label in ((data[~weak], False, "length-controlled"),
                                    (data[weak], True, "length-controlled (weak: thin difficulty table)")):
            if part["length_controlled_winrate"].notna().any():
                ax.scatter(part["length_controlled_winrate"], part["model"], zorder=3, s=14, label=label,
                           color="none" if hollow else "#DD8452", edgecolors="#DD8452")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("score (95% CI)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def category_figure(per_category: pd.DataFrame, title: str, order: list[str] | None = None) -> Figure:
    """Grouped bars: one group per category, one bar per model (columns: model, category, score); the models in
    ``order`` (the leaderboard's ranking) where given."""
    table = per_category.pivot_table(index="category", columns="model", values="score")
    if order is not None:
        # A model named twice in ``order`` would be drawn twice, its bars stacked on each other's places.
        table = table[[m for m in dict.fromkeys(order) if m in table.columns]]
    fig = Figure(figsize=(max(6, 0.9 * len(table)), 3.5))
    ax = fig.subplots()
    width = 0.8 / max(1, len(table.columns))
    x = np.arange(len(table))
    for n, model in enumerate(table.columns):
        ax.bar(x + n * width, table[model], width, label=str(model))
    ax.set_xticks(x + width * (len(table.columns) - 1) / 2, table.index, rotation=30, ha="right")
    ax.set_ylabel("mean score")
    ax.set_title(title, fontsize=10)
    if 0 < len(table.columns) <= 12:
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def position_bias_figure(per_judge: pd.DataFrame, title: str) -> Figure:
    """Stacked bars per judge: consistent, biased to first, biased to second, error."""
    parts = [("consistent", "#55A868"), ("biased_first", "#C44E52"), ("biased_second", "#8172B2"),
             ("error", "#999999")]
    # Constrained layout with the legend outside the axes, below them: the layout makes room for it under the
    # axis label, so neither covers the other (a legend anchored below the axes by hand sat on the label).
    fig = Figure(figsize=(7, 0.45 * len(per_judge) + 1.6), layout="constrained")
    ax = fig.subplots()
    left = np.zeros(len(per_judge))
    for column, color in parts:
        values = per_judge[column].to_numpy(dtype=float) * 100
        ax.barh(per_judge["judge"], values, left=left, color=color, label=column.replace("_", " "))
        left += values
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of questions asked in both orders")
    ax.set_title(title, fontsize=10)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7, ncol=4, loc="outside lower center")
    return fig


def score_histogram(frame: pd.DataFrame, title: str, low: int = 1, high: int = 10) -> Figure:
    """Share of each grade per model on the scale ``low``..``high``: a pile-up at the top is saturation."""
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    bins = [g - 0.5 for g in range(low, high + 2)]
    for model, group in frame.dropna(subset=["score"]).groupby("model", sort=True):
        ax.hist(group["score"], bins=bins, histtype="step", density=True, label=str(model), linewidth=1.2)
    ax.set_xticks(range(low, high + 1))
    ax.set_xlabel("grade")
    ax.set_ylabel("share of grades")
    ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def save_figure(fig: Figure, stem: Path) -> list[Path]:
    """Write ``stem``.png and ``stem``.svg with no time stamps, then close the figure."""
    paths = [stem.parent / f"{stem.name}.png", stem.parent / f"{stem.name}.svg"]
    # Same inputs, same bytes: no dates in the metadata, and SVG ids from a fixed salt.
    with matplotlib.rc_context({"svg.hashsalt": "judgebench"}):
        fig.savefig(paths[0], dpi=110, metadata={"Software": None})
        fig.savefig(paths[1], metadata={"Date": None, "Creator": None})
    return paths
