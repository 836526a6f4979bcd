"""Self-preference: does a judge favour answers from its own model family more than the other judges do?

For a judge J and a model M of J's family, with s_j(m) a judge's mean score of a model (single grading) or its
win rate (pairwise, preference - 1):

    self_preference(J, M) = [s_J(M) - mean_m s_J(m)] - [s_others(M) - mean_m s_others(m)]

a difference in differences, so a judge that is simply harsher or kinder than the panel does not count. The
interval is a 95% percentile bootstrap over items. Families come from a user-editable map
{family: [name prefixes]}; by default a model's family is the leading letters of its name without the
organisation ("gpt-4o" -> "gpt", "Qwen/Qwen2.5-7B" -> "qwen").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def family_of(name: str, families: Mapping[str, Sequence[str]] | None = None) -> str:
    base = name.split("#", 1)[0].split("/")[-1].lower()
    for family, prefixes in (families or {}).items():
        if any(base.startswith(p.lower()) for p in prefixes):
            return family
    match = re.match(r"[a-z]+", base)
    return match.group(0) if match else base


@dataclass(frozen=True)
class SelfPreference:
    """A judge and a candidate of its family. ``value``: the difference in differences, with a 95% bootstrap
    interval, against the judges in ``compared_with``; None (with ``note``) when no judge of another family is
    on the panel."""

    judge: str
    model: str
    family: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    compared_with: tuple[str, ...] = ()
    note: str | None = None


def _relative_means(frame: pd.DataFrame) -> pd.DataFrame:
    """(judge, model) -> the judge's mean for the model minus its mean over all models."""
    data = frame.dropna(subset=["value"])
    means = data.groupby(["judge", "model"])["value"].mean().unstack("model")
    return means.sub(means.mean(axis=1), axis=0)


def _self_preference_value(frame: pd.DataFrame, judge: str, model: str) -> float:
    relative = _relative_means(frame)
    if judge not in relative.index or model not in relative.columns:
        return float("nan")
    others = relative.drop(index=judge)[model].dropna()
    if others.empty:
        return float("nan")
    return float(relative.loc[judge, model] - others.mean())


def self_preference(frame: pd.DataFrame, families: Mapping[str, Sequence[str]] | None = None,
                    n_bootstrap: int = 200, seed: int = 0) -> list[SelfPreference]:
    """One row per (judge, same-family model). With one judge, the row says so instead of giving a number.

    ``frame`` has a ``value`` column: a number per judgment, higher = better for the model (the task kind's)."""
    judges = sorted(frame["judge"].unique())
    models = sorted(frame["model"].unique())
    rows: list[SelfPreference] = []
    for judge in judges:
        judge_family = family_of(judge, families)
        for model in models:
            if family_of(model, families) != judge_family:
                continue
            other_families = [j for j in judges if family_of(j, families) != judge_family]
            if not other_families:
                rows.append(SelfPreference(
                    judge, model, judge_family, None, None, None,
                    note=f"judge {judge} and candidate {model} share the family {judge_family!r}; no judge "
                         "of another family is on the panel, so self-preference cannot be measured"))
                continue
            # Compare with judges of other families only: same-family judges would share the bias.
            panel = frame[frame["judge"].isin([judge, *other_families])]
            value = _self_preference_value(panel, judge, model)
            items = panel["item_id"].unique()
            rng = np.random.default_rng(seed)
            samples = []
            by_item = {item: g for item, g in panel.groupby("item_id")}
            for _ in range(n_bootstrap):
                pick = rng.choice(items, size=len(items), replace=True)
                resampled = pd.concat([by_item[i] for i in pick], ignore_index=True)
                samples.append(_self_preference_value(resampled, judge, model))
            finite = [s for s in samples if np.isfinite(s)]
            low, high = (np.quantile(finite, [0.025, 0.975]) if finite else (np.nan, np.nan))
            rows.append(SelfPreference(judge, model, judge_family, _finite(value), _finite(float(low)),
                                       _finite(float(high)), tuple(other_families)))
    return rows


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else value


def leave_one_judge_out(frame: pd.DataFrame) -> dict[str, list[str]]:
    """For each judge, the models ranked by the mean of the *other* judges' ``value``."""
    data = frame.dropna(subset=["value"])
    rankings = {}
    for judge in sorted(data["judge"].unique()):
        rest = data[data["judge"] != judge]
        if rest.empty:
            continue
        rankings[judge] = list(rest.groupby("model")["value"].mean().sort_values(ascending=False).index)
    return rankings
