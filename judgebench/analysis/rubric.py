"""Rubric judgments -> rubric tables: what the ``rubric`` kind's judgments add up to beyond its score rows
(analysis.aggregate.RubricScore: per model the mean item score in [0, 1] with its interval), computed once for
`stats`, ``judgebench.load()`` and the site.

Per criterion: the rate it was met, over the judged answers that gave it a verdict (a missing verdict counted
apart). Per tag: the mean over items of the item's score on that tag's criteria alone (HealthBench's axis scores).
Per category: the mean item score, failed judgments counted apart. Per pair of models: the mean per-item score
difference over the items both were scored on, with a paired bootstrap interval (both scores of an item resampled
together). Every interval is a 95% percentile bootstrap with the resamples the caller passes (DEFAULT_BOOTSTRAP on
every surface).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from ..formats.criteria import criteria_frame
from ..judging.kinds import kind_of
from ..stats.rubric import paired_difference, rubric_score
from ..stats.winrate import DEFAULT_BOOTSTRAP
from .aggregate import count_failures, interval

GROUP = ["benchmark", "protocol", "judge"]


@dataclass(frozen=True)
class RubricTables:
    """A rubric's results beyond the score rows (see the module doc), one DataFrame each; every table starts with
    benchmark, protocol, judge."""

    criteria: pd.DataFrame
    tags: pd.DataFrame
    categories: pd.DataFrame
    pairs: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.criteria.empty and self.categories.empty


CRITERION_TABLE = [*GROUP, "model", "key", "text", "points", "tags", "scope", "n", "n_met", "n_missing",
                   "rate_met", "ci_low", "ci_high"]
TAG_TABLE = [*GROUP, "model", "tag", "n_items", "score", "ci_low", "ci_high", "rate_met"]
CATEGORY_TABLE = [*GROUP, "model", "category", "n_items", "n_failed", "score", "ci_low", "ci_high"]
PAIR_TABLE = [*GROUP, "model_a", "model_b", "n_items", "difference", "ci_low", "ci_high"]


def rubric_judgments(frame: pd.DataFrame) -> pd.DataFrame:
    """The judgments of the kinds with criteria (judging.kinds: ``has_criteria``) of a judgments frame."""
    kinds = [k for k in frame["kind"].dropna().unique() if kind_of(str(k)).has_criteria]
    return frame[frame["kind"].isin(kinds)]


def rubric_tables(frame: pd.DataFrame, n_bootstrap: int = DEFAULT_BOOTSTRAP) -> RubricTables:
    """The rubric tables of every rubric judgment in a deduplicated judgments frame (other kinds are left out)."""
    from .records import canonical_order

    judged = canonical_order(rubric_judgments(frame))  # intervals resample by position: one order everywhere
    criteria = criteria_frame(judged)
    return RubricTables(criterion_table(criteria, n_bootstrap), tag_table(criteria, n_bootstrap),
                        category_table(judged, n_bootstrap), pair_table(judged, n_bootstrap))


def criterion_table(criteria: pd.DataFrame, n_bootstrap: int) -> pd.DataFrame:
    """Per (group, model, criterion): how often it was met among the judged answers that got a verdict on it."""
    rows = []
    judged = criteria[~criteria["empty"]]
    for (benchmark, protocol, judge, model, key), part in judged.groupby([*GROUP, "model", "key"], sort=True):
        met = part["met"].dropna().to_numpy(dtype=float)
        low, high = interval(met, n_bootstrap)
        first = part.iloc[0]
        rows.append((benchmark, protocol, judge, model, key, first["text"], float(first["points"]), first["tags"],
                     first["scope"], len(met), int(met.sum()), int((part["met"].isna() & part["level"].isna()).sum()),
                     float(met.mean()) if len(met) else None, low, high))
    return pd.DataFrame(rows, columns=CRITERION_TABLE)


def tag_table(criteria: pd.DataFrame, n_bootstrap: int) -> pd.DataFrame:
    """Per (group, model, tag): the mean over items of the item's score on that tag's criteria alone (items whose
    tagged criteria have positive points and every verdict), and the rate those criteria were met."""
    rows = []
    tagged = criteria.assign(tag=criteria["tags"].str.split(",")).explode("tag")
    tagged = tagged[tagged["tag"].notna() & (tagged["tag"] != "")]
    judgment = [*GROUP, "model", "item_id", "turn"]
    for (benchmark, protocol, judge, model, tag), part in tagged.groupby([*GROUP, "model", "tag"], sort=True):
        scores = []
        for _, one in part.groupby(judgment, sort=True):
            if one["met"].isna().any() or not (one["points"] > 0).any():
                continue
            scores.append(rubric_score(list(zip(one["points"].tolist(), one["met"].astype(bool).tolist(),
                                                strict=True))))
        values = np.asarray(scores, dtype=float)
        low, high = interval(values, n_bootstrap)
        met = part["met"].dropna().to_numpy(dtype=float)
        rows.append((benchmark, protocol, judge, model, tag, len(values),
                     float(values.mean()) if len(values) else None, low, high,
                     float(met.mean()) if len(met) else None))
    return pd.DataFrame(rows, columns=TAG_TABLE)


def category_table(judged: pd.DataFrame, n_bootstrap: int) -> pd.DataFrame:
    """Per (group, model, category): the mean item score with its interval; failed judgments counted apart."""
    rows = []
    for (benchmark, protocol, judge, model, category), part in judged.groupby([*GROUP, "model", "category"],
                                                                            sort=True):
        scores = part["score"].dropna().to_numpy(dtype=float)
        low, high = interval(scores, n_bootstrap)
        rows.append((benchmark, protocol, judge, model, category, len(scores), count_failures(part)[0],
                     float(scores.mean()) if len(scores) else None, low, high))
    return pd.DataFrame(rows, columns=CATEGORY_TABLE)


def pair_table(judged: pd.DataFrame, n_bootstrap: int) -> pd.DataFrame:
    """For each pair of models judged by the same judge on the same rubric: the mean of (model_a's score - model_b's)
    over the items both were scored on, with a paired bootstrap interval."""
    rows = []
    for (benchmark, protocol, judge), group in judged.groupby(GROUP, sort=True):
        scored = group[group["score"].notna()]
        wide = scored.pivot_table(index=["item_id", "turn"], columns="model", values="score", aggfunc="mean")
        for a, b in combinations(sorted(wide.columns), 2):
            both = wide[[a, b]].dropna()
            mean, low, high = paired_difference(both[a].to_numpy(), both[b].to_numpy(), n_bootstrap)
            rows.append((benchmark, protocol, judge, a, b, len(both), None if np.isnan(mean) else mean, low, high))
    return pd.DataFrame(rows, columns=PAIR_TABLE)
