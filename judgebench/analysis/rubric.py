"""Rubric judgments -> rubric tables: what the ``rubric`` kind's judgments add up to beyond its score rows
(analysis.aggregate.RubricScore: per model the mean item score in [0, 1] with its interval), computed once for
`stats`, ``judgebench.load()`` and the site.

Per criterion: the rate it was met, over the judged answers that gave it a verdict (a missing verdict counted
apart); a score rubric's criterion: the mean level picked. Per tag: the mean over items of the item's score on that
tag's criteria alone (HealthBench's axis scores), and the rate its criteria were met. Per category: the mean item
score, failed judgments counted apart, and the rate its criteria were met. A rate met is over criterion verdicts
(an empty answer's count as not met, except in the per-criterion table, which counts judged answers only); a tag's
or category's rate, like the score beside it, over scored judgments' verdicts only (a failed judgment's parsed
verdicts count in the per-criterion table alone). Per pair
of models: the mean per-item score difference over the items both were scored on, with a paired bootstrap interval
(both scores of an item resampled together). Every mean and rate has a 95% percentile bootstrap interval with the
resamples the caller passes (DEFAULT_BOOTSTRAP on every surface); a rate's resamples its verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from ..formats.criteria import criteria_frame
from ..judging.kinds import kind_of
from ..stats.rubric import clipped_scores, paired_difference
from ..stats.winrate import DEFAULT_BOOTSTRAP
from ..types import TAG_SEPARATOR
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

    def of_model(self, benchmark: str, protocol: str, judge: str, model: str) -> dict[str, list[dict[str, Any]]]:
        """One score row's share of the tables, as JSON-ready rows (`stats --json`): the model's rows of the
        criteria, tags and categories tables, and the pairs it is model_a or model_b of."""
        def rows(table: pd.DataFrame, models: tuple[str, ...]) -> list[dict[str, Any]]:
            if table.empty:
                return []
            mine = ((table["benchmark"] == benchmark) & (table["protocol"] == protocol) & (table["judge"] == judge)
                    & table[list(models)].eq(model).any(axis=1))
            return table_records(table[mine])

        return {"pairs": rows(self.pairs, ("model_a", "model_b")), "categories": rows(self.categories, ("model",)),
                "tags": rows(self.tags, ("model",)), "criteria": rows(self.criteria, ("model",))}


def table_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows as dicts of plain Python values (None where a value is missing), for JSON; a criterion's
    ``tags`` as a list of names (the frames join them with TAG_SEPARATOR, which no tag holds)."""
    return [{column: _tag_list(value) if column == "tags" else _plain(value)
             for column, value in zip(table.columns, row, strict=True)}
            for row in table.itertuples(index=False, name=None)]


def _tag_list(value: Any) -> list[str]:
    return [t for t in str(value).split(TAG_SEPARATOR) if t] if isinstance(value, str) else []


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    return None if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) else value


CRITERION_TABLE = [*GROUP, "model", "key", "text", "points", "tags", "scope", "n", "n_met", "n_missing",
                   "rate_met", "ci_low", "ci_high", "mean_level", "level_ci_low", "level_ci_high"]
TAG_TABLE = [*GROUP, "model", "tag", "n_items", "score", "ci_low", "ci_high", "rate_met", "rate_ci_low",
             "rate_ci_high"]
CATEGORY_TABLE = [*GROUP, "model", "category", "n_items", "n_failed", "score", "ci_low", "ci_high", "rate_met",
                  "rate_ci_low", "rate_ci_high"]
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
                        category_table(judged, criteria, n_bootstrap), pair_table(judged, n_bootstrap))


def grouped_intervals(codes: np.ndarray, values: np.ndarray, n_groups: int,
                      n_bootstrap: int) -> tuple[list[float | None], list[float | None]]:
    """Each group's interval of the mean of its values (``codes``: each value's group, 0 .. n_groups - 1), as
    ``interval`` gives it; a group of one value is that value (what resampling it gives), found without resampling:
    an item's own criterion has one verdict per model, and a rubric has thousands of them."""
    lows: list[float | None] = [None] * n_groups
    highs: list[float | None] = [None] * n_groups
    if not n_bootstrap or not len(codes):
        return lows, highs
    order = np.argsort(codes, kind="stable")
    sizes = np.bincount(codes, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    ordered = values[order]
    for g in np.flatnonzero(sizes == 1):
        lows[g] = highs[g] = float(ordered[starts[g]])
    for g in np.flatnonzero(sizes > 1):
        lows[g], highs[g] = interval(ordered[starts[g]:starts[g] + sizes[g]], n_bootstrap)
    return lows, highs


def criterion_table(criteria: pd.DataFrame, n_bootstrap: int) -> pd.DataFrame:
    """Per (group, model, criterion): how often it was met among the judged answers that got a verdict on it."""
    judged = criteria[~criteria["empty"]]
    keys = [*GROUP, "model", "key"]
    met = judged["met"].astype("Float64").astype(float)  # NaN: no verdict
    level = judged["level"].astype("Float64").astype(float)  # NaN: not a score rubric's, or no verdict
    work = judged[[*keys, "text", "points", "tags", "scope"]].assign(
        _met=met, _given=met.notna(), _missing=met.isna() & level.isna(), _level=level)
    grouped = work.groupby(keys, sort=True)
    table = grouped.agg(text=("text", "first"), points=("points", "first"), tags=("tags", "first"),
                        scope=("scope", "first"), n=("_given", "sum"), n_met=("_met", "sum"),
                        n_missing=("_missing", "sum"), mean_level=("_level", "mean")).reset_index()
    codes = grouped.ngroup().to_numpy()
    given = work["_given"].to_numpy()
    lows, highs = grouped_intervals(codes[given], met.to_numpy()[given], len(table), n_bootstrap)
    leveled = level.notna().to_numpy()
    level_lows, level_highs = grouped_intervals(codes[leveled], level.to_numpy()[leveled], len(table), n_bootstrap)
    rate = (table["n_met"] / table["n"]).where(table["n"] > 0)
    return table.assign(n=table["n"].astype(int), n_met=table["n_met"].astype(int),
                        n_missing=table["n_missing"].astype(int), rate_met=_or_none(rate), ci_low=lows,
                        ci_high=highs, mean_level=_or_none(table["mean_level"]), level_ci_low=level_lows,
                        level_ci_high=level_highs)[CRITERION_TABLE]


def tag_table(criteria: pd.DataFrame, n_bootstrap: int) -> pd.DataFrame:
    """Per (group, model, tag): the mean over items of the item's score on that tag's criteria alone (items of scored
    judgments whose tagged criteria have positive points), and the rate those criteria were met."""
    tagged = criteria.assign(tag=criteria["tags"].str.split(TAG_SEPARATOR)).explode("tag")
    tagged = tagged[tagged["tag"].notna() & (tagged["tag"] != "")]
    met = tagged["met"].astype("Float64").astype(float)
    points = tagged["points"].to_numpy(dtype=float)
    work = tagged[[*GROUP, "model", "tag", "item_id", "turn"]].assign(
        _available=np.where(points > 0, points, 0.0), _earned=np.where(met.to_numpy() == 1.0, points, 0.0),
        _missing=met.isna(), _met=met.where(~tagged["judgment_failed"]), _failed=tagged["judgment_failed"])
    keys = [*GROUP, "model", "tag"]
    items = work.groupby([*keys, "item_id", "turn"], sort=True).agg(
        available=("_available", "sum"), earned=("_earned", "sum"), missing=("_missing", "any"),
        failed=("_failed", "any")).reset_index()
    # Only scored judgments: a failed one's verdicts that did parse never enter a score (a failed judgment is
    # counted apart), even where every verdict of this tag's criteria did.
    items = items[(items["available"] > 0) & ~items["missing"] & ~items["failed"]]
    items = items.assign(score=clipped_scores(items["earned"].to_numpy(), items["available"].to_numpy()))
    grouped = work.groupby(keys, sort=True)
    table = grouped.agg(rate_met=("_met", "mean")).reset_index()
    scored_met = work["_met"]  # the rate, like the score, over scored judgments only
    given = scored_met.notna().to_numpy()
    rate_lows, rate_highs = grouped_intervals(grouped.ngroup().to_numpy()[given], scored_met.to_numpy()[given],
                                              len(table), n_bootstrap)
    codes = table.reset_index().set_index(keys)["index"]
    item_codes = codes.reindex(pd.MultiIndex.from_frame(items[keys])).to_numpy()
    scores = items["score"].to_numpy(dtype=float)
    lows, highs = grouped_intervals(item_codes, scores, len(table), n_bootstrap)
    n_items = np.bincount(item_codes, minlength=len(table)) if len(item_codes) else np.zeros(len(table), int)
    sums = np.bincount(item_codes, weights=scores, minlength=len(table)) if len(item_codes) else np.zeros(len(table))
    mean = pd.Series(np.divide(sums, n_items, out=np.full(len(table), np.nan), where=n_items > 0))
    return table.assign(n_items=n_items.astype(int), score=_or_none(mean), ci_low=lows, ci_high=highs,
                        rate_met=_or_none(table["rate_met"]), rate_ci_low=rate_lows,
                        rate_ci_high=rate_highs)[TAG_TABLE]


def _or_none(values: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else float(v) for v in values]


def category_table(judged: pd.DataFrame, criteria: pd.DataFrame, n_bootstrap: int) -> pd.DataFrame:
    """Per (group, model, category): the mean item score with its interval, failed judgments counted apart; and the
    rate the category's criteria were met (over their verdicts, ``criteria``: judged's per-criterion frame), with
    its interval (None for a score rubric, whose verdicts are levels)."""
    keys = [*GROUP, "model", "category"]
    # Verdicts of scored judgments only, as the score beside the rate: a failed judgment's parsed verdicts are not
    # the judge's verdict on the answer.
    met = criteria["met"].astype("Float64").astype(float).where(~criteria["judgment_failed"])
    verdicts = {key: part for key, part in met[met.notna()].groupby([criteria[k] for k in keys], sort=False)}
    rows = []
    for key, part in judged.groupby(keys, sort=True):
        scores = part["score"].dropna().to_numpy(dtype=float)
        low, high = interval(scores, n_bootstrap)
        benchmark, protocol, *rest = key  # criteria_frame's protocol is "" where the judgments' has none
        found = verdicts.get((benchmark, protocol if isinstance(protocol, str) else "", *rest))
        rates = found.to_numpy(dtype=float) if found is not None else np.zeros(0)
        rate_low, rate_high = interval(rates, n_bootstrap)
        rows.append((*key, len(scores), count_failures(part)[0], float(scores.mean()) if len(scores) else None,
                     low, high, float(rates.mean()) if len(rates) else None, rate_low, rate_high))
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
