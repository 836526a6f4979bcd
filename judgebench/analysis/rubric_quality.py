"""How good a rubric is, criterion by criterion (`judgebench rubric-report`, ``Results.rubric_quality()``): computed
once here from the per-criterion frame (formats.criteria).

- panel: per criterion (its ``key``: a task-level criterion is one criterion across items), the agreement of the
  judges of a panel on its verdicts: percent agreement and Cohen's (two judges) or Fleiss' (three or more) kappa,
  with 95% bootstrap intervals over items (stats.rubric_agreement). A unit is one answer (model, item, turn) that
  every judge of the panel gave a verdict on; answers a judge did not judge, empty answers and missing verdicts
  are left out (counted in ``n_incomplete``). The row with key ``*`` pools every criterion of the rubric.
  ``judges``: the panel's judge labels, separated by "; " (a label may hold commas).
- labels: per judge and criterion, the judge's agreement with human labels (formats.criterion_labels): percent
  agreement and Cohen's kappa with bootstrap intervals over items; key ``*`` pools the criteria.
- constant: the criteria every answer met, or none did, by every judge, over answers of at least two models: they
  cannot tell models apart.
- disagreements: the panel rows (key ``*`` left out) the judges disagree on at least once, from the least agreement
  to the most (then the lowest kappa): the criteria to reword first.
Score rubrics' levels are categories as yes/no verdicts are (kappa unweighted).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..constants import DEFAULT_BOOTSTRAP
from ..errors import DataError
from ..stats.rubric_agreement import Agreement, rater_agreement

ALL = "*"  # the key of a row that pools every criterion
GROUP = ["benchmark", "protocol"]
UNIT = ["model", "item_id", "turn"]
_STATS = ["n_units", "n_items", "agreement", "agreement_low", "agreement_high", "kappa", "kappa_low", "kappa_high",
          "statistic"]
PANEL_TABLE = [*GROUP, "key", "text", "points", "judges", *_STATS, "n_incomplete"]
LABEL_TABLE = [*GROUP, "judge", "key", "text", *_STATS, "n_unmatched"]
CONSTANT_TABLE = [*GROUP, "key", "text", "points", "always", "n_answers", "n_models", "n_judges"]


@dataclass(frozen=True)
class RubricQuality:
    """The rubric-quality tables (see the module doc), one DataFrame each."""

    panel: pd.DataFrame
    constant: pd.DataFrame
    disagreements: pd.DataFrame
    labels: pd.DataFrame | None = None

    def to_json(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame | None) -> list[dict[str, Any]] | None:
            if frame is None:
                return None
            return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        return {"panel": records(self.panel), "constant": records(self.constant),
                "disagreements": records(self.disagreements), "labels": records(self.labels)}


def _code(criteria: pd.DataFrame) -> pd.Series:
    """A verdict as a category code: met 0/1; a score rubric's level its own code from 2 (never both in a row)."""
    met = criteria["met"].astype("float")
    level = criteria["level"].astype("float") + 1
    return met.where(met.notna(), level)


def _judged(criteria: pd.DataFrame) -> pd.DataFrame:
    judged = criteria[~criteria["empty"]].assign(code=_code(criteria[~criteria["empty"]]))
    return judged[judged["code"].notna()]


def _stats(result: Agreement) -> list[Any]:
    return [getattr(result, c) for c in _STATS]


def _groups(keys: np.ndarray) -> Iterator[tuple[Any, np.ndarray]]:
    """(key, positions) for each distinct key, keys in sorted order, positions in their original order: one sort
    instead of a pandas group per criterion (a HealthBench-sized rubric has tens of thousands)."""
    if not len(keys):
        return
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    bounds = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    for part in np.split(order, bounds):
        yield keys[part[0]], part


def panel_agreement(criteria: pd.DataFrame, n_bootstrap: int = DEFAULT_BOOTSTRAP) -> pd.DataFrame:
    """Per (benchmark, protocol) with two judges or more, per criterion and pooled (key ``*``): the judges'
    agreement over the answers all of them judged (``PANEL_TABLE``)."""
    rows = []
    judged = _judged(criteria)
    # Every (answer, criterion) a judge was asked about, with a verdict or not: a unit that no judge's verdict
    # parsed for is incomplete too.
    asked = criteria[~criteria["empty"]].drop_duplicates([*GROUP, *UNIT, "key"])
    for (benchmark, protocol), group in judged.groupby(GROUP, sort=True):
        judges = sorted(group["judge"].unique())
        if len(judges) < 2:
            continue
        wide = group.pivot_table(index=[*UNIT, "key"], columns="judge", values="code", aggfunc="first")
        units = asked[(asked["benchmark"] == benchmark) & (asked["protocol"] == protocol)]
        every = units["key"].value_counts()
        complete = wide.dropna()
        ratings = complete.to_numpy(dtype=int)
        keys = complete.index.get_level_values("key").to_numpy(dtype=object)
        items = pd.factorize(complete.index.get_level_values("item_id"), sort=True)[0]
        info = units.drop_duplicates("key").set_index("key")
        panel = "; ".join(judges)
        result = rater_agreement(ratings, items, n_bootstrap)
        rows.append((benchmark, protocol, ALL, "all criteria", None, panel, *_stats(result),
                     len(units) - len(complete)))
        done: dict[str, tuple[np.ndarray, np.ndarray]] = {
            key: (ratings[at], items[at]) for key, at in _groups(keys)}
        empty = (np.zeros((0, len(judges)), dtype=int), np.zeros(0, dtype=int))
        for key in sorted(every.index):
            mine, where = done.get(key, empty)
            result = rater_agreement(mine, where, n_bootstrap)
            rows.append((benchmark, protocol, key, info.at[key, "text"], info.at[key, "points"], panel,
                         *_stats(result), int(every[key]) - len(mine)))
    return pd.DataFrame(rows, columns=PANEL_TABLE)


def constant_criteria(criteria: pd.DataFrame) -> pd.DataFrame:
    """The criteria whose every verdict, by every judge, on answers of at least two models, is the same
    (``CONSTANT_TABLE``: ``always`` True for met by all, False for met by none)."""
    judged = _judged(criteria)
    judged = judged[judged["level"].isna()]  # a score rubric's one criterion is its score: never "constant"
    judged = judged.assign(met=judged["met"].astype(bool), unit=list(zip(*(judged[c] for c in UNIT), strict=True)))
    found = judged.groupby([*GROUP, "key"], sort=True).agg(
        text=("text", "first"), points=("points", "first"), always=("met", "first"), n_values=("met", "nunique"),
        n_answers=("unit", "nunique"), n_models=("model", "nunique"), n_judges=("judge", "nunique")).reset_index()
    found = found[(found["n_values"] == 1) & (found["n_models"] >= 2)]
    return found.astype({"points": float, "always": bool, "n_answers": int, "n_models": int, "n_judges": int})[
        CONSTANT_TABLE].reset_index(drop=True)


def ranked_disagreements(panel: pd.DataFrame) -> pd.DataFrame:
    """The panel's criteria the judges disagree on at least once, from the least agreement to the most (lowest kappa
    first among equals; undefined kappa last); pooled rows left out."""
    rows = panel[(panel["key"] != ALL) & panel["agreement"].notna() & (panel["agreement"] < 1)]
    order = rows.assign(_k=rows["kappa"].astype(float).fillna(np.inf)) \
        .sort_values(["agreement", "_k", "n_units", "key"], ascending=[True, True, False, True], kind="stable")
    return order.drop(columns="_k").reset_index(drop=True)


def label_agreement(criteria: pd.DataFrame, labels: pd.DataFrame,
                    n_bootstrap: int = DEFAULT_BOOTSTRAP) -> pd.DataFrame:
    """Per judge and criterion, and pooled (key ``*``): agreement with human labels (``LABEL_TABLE``);
    ``n_unmatched``: labels of this benchmark no verdict of the judge matches."""
    judged = _judged(criteria)
    judged = judged[judged["level"].isna()]
    rows = []
    for (benchmark, protocol, judge), group in judged.groupby([*GROUP, "judge"], sort=True):
        mine = labels if labels["benchmark"].isna().all() else labels[labels["benchmark"] == benchmark]
        on = ["item_id", "model", "criterion"] + ([] if mine["turn"].isna().all() else ["turn"])
        left = mine.astype({"turn": "Int64"}) if "turn" in on else mine
        matched = left.merge(group[[*on, "key", "text", "met"]].rename(columns={"met": "judged"}), on=on,
                             how="left")
        unmatched = int(matched["judged"].isna().sum())
        matched = matched[matched["judged"].notna()]
        if matched.empty:
            continue
        info = matched.drop_duplicates("key").set_index("key")["text"]
        ratings = np.column_stack([matched["met"].astype(int).to_numpy(),
                                   matched["judged"].astype(bool).astype(int).to_numpy()])
        items = pd.factorize(matched["item_id"], sort=True)[0]
        result = rater_agreement(ratings, items, n_bootstrap)
        rows.append((benchmark, protocol, judge, ALL, "all criteria", *_stats(result), unmatched))
        for key, at in _groups(matched["key"].to_numpy(dtype=object)):
            result = rater_agreement(ratings[at], items[at], n_bootstrap)
            rows.append((benchmark, protocol, judge, key, info[key], *_stats(result), None))
    return pd.DataFrame(rows, columns=LABEL_TABLE)


def rubric_quality(criteria: pd.DataFrame, labels: pd.DataFrame | None = None,
                   n_bootstrap: int = DEFAULT_BOOTSTRAP) -> RubricQuality:
    """Every rubric-quality table of a per-criterion frame (formats.criteria.criteria_frame); ``labels``: human
    criterion labels (formats.criterion_labels), or None. Intervals resample in one order: the frame's, sorted."""
    criteria = criteria.sort_values(["benchmark", "protocol", "judge", "model", "item_id", "turn", "criterion"],
                                    kind="stable")
    panel = panel_agreement(criteria, n_bootstrap)
    found = None
    if labels is not None:
        found = label_agreement(criteria, labels, n_bootstrap)
        if found.empty:
            raise DataError("no criterion label matches a verdict (item_id, model and criterion id must match a "
                            "rubric judgment's, and the benchmark where the labels name one)")
    return RubricQuality(panel, constant_criteria(criteria), ranked_disagreements(panel), found)


def judgments_quality(judgments: pd.DataFrame, labels: pd.DataFrame | None = None,
                      n_bootstrap: int = DEFAULT_BOOTSTRAP) -> RubricQuality:
    """The rubric-quality tables of a judgments frame's rubric judgments: what `judgebench rubric-report` and
    ``Results.rubric_quality()`` both call."""
    from ..formats.criteria import criteria_frame
    from .rubric import rubric_judgments

    return rubric_quality(criteria_frame(rubric_judgments(judgments)), labels, n_bootstrap)
