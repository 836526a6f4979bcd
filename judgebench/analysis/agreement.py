"""Agreement of a judge with human labels, at the item level (pairwise winners or scores) or the model level
(a ranking such as Arena Elo). Pure: label files are read by formats.labels (CSV, JSONL or a human arena's
database).

Item-level pairwise labels: columns ``item_id``, ``model_a``, ``model_b``, ``winner`` (``model_a``, ``model_b``,
``tie``, or a model's name), optionally ``turn``. Item-level score labels: ``item_id``, ``model``, ``score``,
optionally ``turn``. Model-level labels: a model-name column (``model`` or ``--model-column``) and a numeric
column (``--label-column``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DataError
from ..lazy import on_first_use
from ..stats.agreement import agreement_s1_s2, cohen_kappa
from ..stats.battle_ranking import games_frame
from ..stats.calibration import brier_score, expected_calibration_error
from ..stats.correlation import rank_correlation, ranking_correlation
from ..types import JudgmentId

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


@dataclass(frozen=True)
class WinnerAgreement:
    """Agreement on pairwise winners: with ties (S1, over ``n_s1`` labels) and without (S2, over the ``n_s2``
    labels where neither side is a tie), as in the MT-Bench paper, and Cohen's kappa (winner as "first" / "second"
    model of the pair in name order, or "tie"). A judge's two orders that disagree count as a tie."""

    n_s1: int
    s1: float | None
    n_s2: int
    s2: float | None
    cohen_kappa: float | None


@dataclass(frozen=True)
class PairwiseAgreement:
    """One judge's item-level agreement with pairwise labels (each label, e.g. each human vote, counted once),
    overall and per category."""

    judge: str
    n_s1: int
    s1: float | None
    n_s2: int
    s2: float | None
    cohen_kappa: float | None
    per_category: tuple[tuple[str, WinnerAgreement], ...] = ()
    n_unmatched: int = 0  # labels no judgment of this judge matches (another item, pair or turn)
    kind: str = "pairwise"


@dataclass(frozen=True)
class RankingAgreement:
    """How alike a judge's Bradley-Terry ranking and the labels' (human votes') rank the models both cover:
    Spearman and Kendall with 95% intervals from resampling both sets of battles."""

    judge: str
    models: tuple[str, ...]
    spearman: float | None
    spearman_ci: tuple[float | None, float | None]
    kendall: float | None
    kendall_ci: tuple[float | None, float | None]
    n_judge_games: int
    n_label_games: int
    kind: str = "rankings"


@dataclass(frozen=True)
class ScoreAgreement:
    """Item-level agreement on grades: Spearman and quadratic-weighted Cohen's kappa over ``n`` grades; where the
    judge's grades carry an expected score (a judge with ``,logprobs``), the calibration of that expectation against
    the labels over ``n_calibration`` grades, both put on [0, 1] by the judged scale: ``brier``, the mean squared
    difference, and ``ece``, the expected calibration error over ten bins of the expectation (a label's mean
    grade against the expectation's, per bin)."""

    n: int
    spearman: float
    cohen_kappa_quadratic: float | None
    kind: str = "scores"
    brier: float | None = None
    ece: float | None = None
    n_calibration: int = 0


@dataclass(frozen=True)
class ModelAgreement:
    """Model-level agreement of the judge's ranking with a label column, with 95% bootstrap intervals."""

    n: int
    models: tuple[str, ...]
    spearman: float | None  # None: one of the two scorings gives every model the same value
    spearman_ci: tuple[float | None, float | None]
    kendall: float | None
    kendall_ci: tuple[float | None, float | None]
    kind: str = "models"


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _pair_outcome(winner: str, pair: tuple[str, str]) -> str:
    """A winner (a model's name or "tie") as the pair's "first" / "second" (name order) or "tie"."""
    return {pair[0]: "first", pair[1]: "second"}.get(winner, "tie")


def pairwise_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """Pairwise labels with the winner as a model's name (or "tie"): columns item_id, model_a, model_b, winner,
    turn (1 when the labels have none). ``winner`` may be model_a / model_b (or FastChat's model_1 / model_2), a
    model's name, or a tie (tie, both_bad, tie (bothbad)); formats.labels.read_labels refuses any other value in a
    file."""
    out = pd.DataFrame({"item_id": labels["item_id"].astype(str), "model_a": labels["model_a"].astype(str),
                        "model_b": labels["model_b"].astype(str),
                        "turn": pd.to_numeric(labels["turn"]).astype(int) if "turn" in labels else 1})
    raw = labels["winner"].astype(str)
    first, second = raw.isin(["model_a", "model_1"]), raw.isin(["model_b", "model_2"])  # FastChat writes either
    named = np.where(first, out["model_a"], np.where(second, out["model_b"], raw))
    valid = (named == out["model_a"]) | (named == out["model_b"])
    out["winner"] = np.where(valid, named, "tie")
    return out


@dataclass(frozen=True)
class MatchedVerdict:
    """One label beside the judge's verdict on the same item, pair and turn: both as "first" / "second" (the pair's
    models in name order) or "tie"; ``probability``: the judge's probability that the first model is the better
    (its preference in [1, 2] read as one); ``longer``: the side whose answer is the longer ("first" / "second"),
    None where the lengths are equal or unknown; ``consistent``: whether the judge gave the same verdict in both
    orders, None where it was not asked (or did not answer) in both; ``logprob``: the judge's probability of "first"
    from its verdict token's log-probabilities (a judge with ``,logprobs``), None where it has none."""

    category: str
    judge: str
    label: str
    probability: float
    longer: str | None = None
    consistent: bool | None = None
    logprob: float | None = None


_Verdict = tuple[str, str, float, "str | None", "bool | None", "float | None"]


def _longer_side(length: object, opponent_length: object, model_first: bool) -> str | None:
    if pd.isna(length) or pd.isna(opponent_length) or length == opponent_length:
        return None
    return "first" if (float(length) > float(opponent_length)) == model_first else "second"  # type: ignore[arg-type]


def _consistent(verdict_ab: object, verdict_ba: object) -> bool | None:
    if not isinstance(verdict_ab, str) or not isinstance(verdict_ba, str):
        return None
    return verdict_ab == verdict_ba


# A judgment's identity (analysis.records.IDENTITY): the fields of JudgmentId.
IDENTITY = [f.name for f in fields(JudgmentId)]


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(None, index=frame.index, dtype=object)


def _judge_winners(frame: pd.DataFrame) -> dict[tuple[str, tuple[str, str], int], list[_Verdict]]:
    """(item, pair, turn) -> the judge's verdict on it, as ("first" / "second" / "tie", category, probability of
    "first", the longer side, order consistency, log-probability). A judgment a file records more than once (FastChat's
    files repeat some) is one verdict, its last record, as reading results keeps the newest record of a judgment;
    two judgments of one pair (each model once the candidate) are two verdicts, each compared with the label."""
    judged = frame[frame["preference"].notna() & frame["opponent"].notna() & frame["error"].isna()]
    judged = judged.drop_duplicates([c for c in IDENTITY if c in judged.columns], keep="last")
    found: dict[tuple[str, tuple[str, str], int], list[_Verdict]] = {}
    lengths, opponents, orders_ab, orders_ba, probabilities = (
        _column(judged, c) for c in ("length", "opponent_length", "verdict_ab", "verdict_ba", "verdict_probability"))
    for item, model, opponent, turn, preference, category, length, other, ab, ba, p in zip(
            judged["item_id"], judged["model"], judged["opponent"], judged["turn"], judged["preference"],
            judged["category"], lengths, opponents, orders_ab, orders_ba, probabilities, strict=True):
        a, b = sorted((str(model), str(opponent)))
        winner = str(model) if preference > 1.5 else str(opponent) if preference < 1.5 else "tie"
        first = float(preference) - 1 if str(model) == a else 2 - float(preference)
        found.setdefault((str(item), (a, b), int(turn)), []).append(
            (_pair_outcome(winner, (a, b)), str(category), first, _longer_side(length, other, str(model) == a),
             _consistent(ab, ba), None if pd.isna(p) else float(p) if str(model) == a else 1 - float(p)))
    return found


def matched_verdicts(group: pd.DataFrame, labels: pd.DataFrame) -> tuple[list[MatchedVerdict], int]:
    """One judge's verdicts (``group``) beside the pairwise labels (``pairwise_labels``) they match, one per label
    and verdict, and how many labels none matches. The one matching of `agree` and `judges --labels`."""
    ours = _judge_winners(group)
    rows: list[MatchedVerdict] = []
    unmatched = 0
    for item, a, b, turn, winner in zip(labels["item_id"], labels["model_a"], labels["model_b"], labels["turn"],
                                        labels["winner"], strict=True):
        pair = (a, b) if a < b else (b, a)
        found = ours.get((item, pair, int(turn)), [])
        unmatched += not found
        rows += [MatchedVerdict(category, verdict, _pair_outcome(winner, pair), probability, longer, consistent, lp)
                 for verdict, category, probability, longer, consistent, lp in found]
    return rows, unmatched


def _winner_agreement(a: list[str], b: list[str]) -> WinnerAgreement:
    s = agreement_s1_s2(a, b)
    return WinnerAgreement(int(s["n_s1"]), _finite(s["s1"]), int(s["n_s2"]), _finite(s["s2"]),
                           cohen_kappa(a, b) if a else None)


def same_benchmark(frame: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The judgments of the labels' benchmark, when the labels name one (an arena's votes do): item ids of two
    benchmarks must never be matched. A frame with none of it is an error that names both."""
    if "benchmark" not in labels.columns:
        return frame
    wanted = set(labels["benchmark"].dropna().astype(str))
    kept = frame[frame["benchmark"].astype(str).isin(wanted)]
    if kept.empty:
        raise DataError(f"the labels are on benchmark {', '.join(sorted(wanted))} and the judgments on "
                        f"{', '.join(sorted(set(frame['benchmark'].astype(str))))}: give judgments of the same "
                        "benchmark")
    return kept


def pairwise_agreement(frame: pd.DataFrame, labels: pd.DataFrame) -> list[PairwiseAgreement]:
    """Each judge's agreement with pairwise labels (``pairwise_labels``), overall and per category. Each label
    is compared with the judge's verdict on the same item, pair of models and turn (of the same benchmark, when
    the labels name one)."""
    frame = same_benchmark(frame, labels)
    labels = pairwise_labels(labels)
    results = []
    for judge, group in frame.groupby("judge", sort=True):
        matched, unmatched = matched_verdicts(group, labels)
        rows = [(m.category, m.judge, m.label) for m in matched]
        if not rows:
            continue
        overall = _winner_agreement([r[1] for r in rows], [r[2] for r in rows])
        per_category = tuple(
            (category, _winner_agreement([r[1] for r in rows if r[0] == category],
                                         [r[2] for r in rows if r[0] == category]))
            for category in sorted({r[0] for r in rows}))
        results.append(PairwiseAgreement(str(judge), overall.n_s1, overall.s1, overall.n_s2, overall.s2,
                                         overall.cohen_kappa, per_category, unmatched))
    if not results:
        raise DataError("no label matches a judgment (item_id, the two models and turn must match)")
    return results


def label_games(labels: pd.DataFrame) -> pd.DataFrame:
    """Pairwise labels as battle games (stats.battle_ranking), one per label."""
    labels = pairwise_labels(labels)
    outcome = np.where(labels["winner"] == labels["model_a"], 1.0,
                       np.where(labels["winner"] == labels["model_b"], 0.0, 0.5))
    return pd.DataFrame({"model_a": labels["model_a"], "model_b": labels["model_b"], "outcome": outcome,
                         "weight": 1.0, "category": None, "item_id": labels["item_id"]})


def ranking_agreement(frame: pd.DataFrame, labels: pd.DataFrame, n_bootstrap: int = 500) -> list[RankingAgreement]:
    """Each judge's Bradley-Terry ranking against the labels' (e.g. the human arena's), on the models both
    cover; judges sharing fewer than three models with the labels are left out."""
    frame = same_benchmark(frame, labels)
    theirs = label_games(labels)
    results = []
    for judge, group in frame.groupby("judge", sort=True):
        games = games_frame(group)
        if games.empty:
            continue
        try:
            models, rc = ranking_correlation(games, theirs, n_bootstrap=n_bootstrap)
        except ValueError:
            continue  # fewer than three models in common
        results.append(RankingAgreement(str(judge), models, _finite(rc.spearman), _finite_pair(rc.spearman_ci),
                                        _finite(rc.kendall), _finite_pair(rc.kendall_ci), len(games), len(theirs)))
    return results


def _finite_pair(pair: tuple[float, float]) -> tuple[float | None, float | None]:
    return _finite(pair[0]), _finite(pair[1])


def item_agreement(frame: pd.DataFrame, labels: pd.DataFrame) -> list[PairwiseAgreement] | ScoreAgreement:
    """S1/S2 agreement and Cohen's kappa per judge (pairwise labels), or Spearman and weighted kappa (scores)."""
    from scipy.stats import spearmanr

    if {"model_a", "model_b", "winner"} <= set(labels.columns):
        return pairwise_agreement(frame, labels)
    if {"item_id", "model", "score"} <= set(labels.columns):
        judged = frame.dropna(subset=["score"])
        keys = ["item_id", "model"] + (["turn"] if "turn" in labels.columns else [])
        labels = labels.assign(item_id=labels["item_id"].astype(str))
        merged = judged.merge(labels, on=keys, suffixes=("", "_label"))
        if merged.empty:
            raise DataError("no score label matches a judgment (item_id and model must match)")
        return ScoreAgreement(len(merged), float(spearmanr(merged["score"], merged["score_label"]).statistic),
                              cohen_kappa(list(np.round(merged["score"]).astype(int)),
                                          list(np.round(merged["score_label"]).astype(int)), weights="quadratic"),
                              **_expected_calibration(merged))
    raise DataError("labels need item_id, model_a, model_b, winner (pairwise) or item_id, model, score (scores), "
                    "or use --label-column for model-level labels")


def _expected_calibration(merged: pd.DataFrame) -> dict[str, Any]:
    """Brier and ECE of the judge's expected grade against the label's grade, both rescaled to [0, 1] by the
    judged scale, over the grades with an expected score and a scale."""
    columns = ("expected_score", "scale_low", "scale_high")
    if not set(columns) <= set(merged.columns):
        return {}
    known = merged.dropna(subset=list(columns))
    known = known[known["scale_high"] > known["scale_low"]]
    if known.empty:
        return {}
    width = (known["scale_high"] - known["scale_low"]).to_numpy(dtype=float)
    p = (known["expected_score"].to_numpy(dtype=float) - known["scale_low"].to_numpy(dtype=float)) / width
    y = (pd.to_numeric(known["score_label"]).to_numpy(dtype=float) - known["scale_low"].to_numpy(dtype=float)) / width
    p, y = np.clip(p, 0.0, 1.0), np.clip(y, 0.0, 1.0)
    return {"brier": brier_score(p, y), "ece": expected_calibration_error(p, y), "n_calibration": len(known)}


def model_agreement(model_scores: dict[str, float], labels: pd.DataFrame, label_column: str,
                    model_column: str = "model", n_bootstrap: int = 1000) -> ModelAgreement:
    """Spearman and Kendall of the judge's model scores against a model-level label column."""
    for column in (label_column, model_column):
        if column not in labels.columns:
            raise DataError(f"labels have no column {column!r}; columns: {', '.join(map(str, labels.columns))}")
    lookup = {str(k).lower(): float(v) for k, v in zip(labels[model_column], labels[label_column], strict=True)
              if pd.notna(k) and pd.notna(v)}
    matched = {m: (s, lookup[m.lower()]) for m, s in model_scores.items() if m.lower() in lookup}
    if len(matched) < 3:
        raise DataError(f"only {len(matched)} of the judged models appear in the labels' {model_column!r} column")
    ours = np.array([v[0] for v in matched.values()])
    theirs = np.array([v[1] for v in matched.values()])
    result = rank_correlation(ours, theirs, n_bootstrap=n_bootstrap)
    return ModelAgreement(result.n, tuple(sorted(matched)), _finite(result.spearman),
                          (_finite(result.spearman_ci[0]), _finite(result.spearman_ci[1])), _finite(result.kendall),
                          (_finite(result.kendall_ci[0]), _finite(result.kendall_ci[1])))
