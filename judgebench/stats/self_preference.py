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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..lazy import on_first_use

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


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


def self_preference(frame: pd.DataFrame, families: Mapping[str, Sequence[str]] | None = None,
                    n_bootstrap: int = 200, seed: int = 0) -> list[SelfPreference]:
    """One row per (judge, same-family model). With one judge, the row says so instead of giving a number.

    ``frame`` has a ``value`` column: a number per judgment, higher = better for the model (the task kind's)."""
    judges = sorted(frame["judge"].unique())
    models = sorted(frame["model"].unique())
    rows: list[SelfPreference] = []
    for judge, model, judge_family, other_families in _same_family(judges, models, families):
        if not other_families:
            rows.append(_unmeasured(judge, model, judge_family))
            continue
        # Compare with judges of other families only: same-family judges would share the bias.
        panel = _PanelArrays.of(frame[frame["judge"].isin([judge, *other_families])], judge, model)
        value = panel.value()
        # Resampling items is weighting each item by how often it was drawn: one pass over the judgments per
        # sample, where a DataFrame per sample took 0.1 s.
        rng = np.random.default_rng(seed)
        samples = [panel.value(np.bincount(rng.choice(panel.n_items, size=panel.n_items, replace=True),
                                           minlength=panel.n_items)) for _ in range(n_bootstrap)]
        finite = [s for s in samples if np.isfinite(s)]
        low, high = (np.quantile(finite, [0.025, 0.975]) if finite else (np.nan, np.nan))
        rows.append(SelfPreference(judge, model, judge_family, _finite(value), _finite(float(low)),
                                   _finite(float(high)), tuple(other_families)))
    return rows


def _same_family(judges: Sequence[str], models: Sequence[str], families: Mapping[str, Sequence[str]] | None
                 ) -> Iterator[tuple[str, str, str, list[str]]]:
    """(judge, model, their family, the judges of other families) of each judge and each model of its family."""
    for judge in judges:
        judge_family = family_of(judge, families)
        for model in models:
            if family_of(model, families) != judge_family:
                continue
            yield judge, model, judge_family, [j for j in judges if family_of(j, families) != judge_family]


def _unmeasured(judge: str, model: str, family: str) -> SelfPreference:
    return SelfPreference(judge, model, family, None, None, None,
                          note=f"judge {judge} and candidate {model} share the family {family!r}; no judge of "
                               "another family is on the panel, so self-preference cannot be measured")


def unmeasured_self_preference(judges: Sequence[str], models: Sequence[str],
                               families: Mapping[str, Sequence[str]] | None = None) -> list[SelfPreference]:
    """The rows of ``self_preference`` that no judge of another family can measure (with one judge, all its rows),
    of the judges and models sorted."""
    return [_unmeasured(judge, model, family) for judge, model, family, others in _same_family(judges, models,
                                                                                            families)
            if not others]


@dataclass(frozen=True)
class _PanelArrays:
    """A panel's judgments with a value, as arrays: each one's item, and its (judge, model) cell, for the
    difference in differences of one judge and one model."""

    item: np.ndarray
    cell: np.ndarray
    value_of: np.ndarray
    n_items: int
    n_judges: int
    n_models: int
    judge: int | None  # the judge's row, None when it gave no value
    model: int | None

    @classmethod
    def of(cls, frame: pd.DataFrame, judge: str, model: str) -> _PanelArrays:
        items = frame["item_id"].unique()
        data = frame.dropna(subset=["value"])
        judges, models = sorted(data["judge"].unique()), sorted(data["model"].unique())
        item = pd.Index(items).get_indexer(data["item_id"])
        cell = pd.Index(judges).get_indexer(data["judge"]) * len(models) + pd.Index(models).get_indexer(data["model"])
        return cls(item, cell, data["value"].to_numpy(dtype=float), len(items), len(judges), len(models),
                   judges.index(judge) if judge in judges else None, models.index(model) if model in models else None)

    def value(self, item_weight: np.ndarray | None = None) -> float:
        """The judge's mean for the model minus its mean over models, less the same for the other judges (their
        mean): on every item once, or each item ``item_weight`` times."""
        if self.judge is None or self.model is None:
            return float("nan")
        weight = np.ones(len(self.item)) if item_weight is None else item_weight[self.item].astype(float)
        size = self.n_judges * self.n_models
        counts = np.bincount(self.cell, weight, size).reshape(self.n_judges, self.n_models)
        sums = np.bincount(self.cell, weight * self.value_of, size).reshape(self.n_judges, self.n_models)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
        graded = np.count_nonzero(~np.isnan(means), axis=1) > 0  # a judge none of whose judgments was drawn is out
        if not graded[self.judge] or np.isnan(means[:, self.model]).all():
            return float("nan")
        relative = means - np.nanmean(np.where(graded[:, None], means, 0.0), axis=1, keepdims=True)
        others = np.delete(relative[:, self.model], self.judge)
        others = others[~np.isnan(others)]
        if others.size == 0:
            return float("nan")
        return float(relative[self.judge, self.model] - others.mean())


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
