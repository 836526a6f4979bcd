"""Human-calibrated scores: a judge's verdicts on every item, corrected by human labels on a random subset with
prediction-powered inference (PPI++, power-tuned; stats.ppi). Per judge: each model's win rate (the mean of its
battles' outcomes, a tie 1/2), each pair's win rate (where a model meets several opponents) and the
Bradley-Terry strengths from pairwise labels, or each model's mean grade from
score labels; beside each, the judge-only and the labels-only estimate, the judge's weight lambda and the
effective number of labels (n labelled x var(labels only) / var(PPI++)): how many labels the labels-only
estimate would need for the same precision.

Labels are matched with judgments as `judgebench agree` matches them (analysis.agreement): item, pair of models
(or model) and turn, of the labels' benchmark when they name one. PPI++ assumes the labelled items are a random
sample of the judged ones: labels gathered on the hard items only would bias it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..errors import ConfigError, DataError
from ..stats.ppi import PPIGLM, PPIMean, classical_logistic, classical_mean, mean_lambda, ppi_logistic
from .agreement import pairwise_labels, same_benchmark

Z95 = float(norm.ppf(0.975))
KEYS = ["item_id", "first", "second", "turn"]
VERDICT_POINTS = {"win": 1.0, "tie": 0.5, "loss": 0.0}


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% interval and standard error."""

    value: float
    low: float
    high: float
    se: float


@dataclass(frozen=True)
class Calibrated:
    """One quantity (``win rate``, ``strength`` or ``mean grade``) of one model under one judge. ``n_labelled`` of
    the ``n_items`` judged items (battles, or answers for grades) have labels; ``labels_only`` is None with fewer
    than two, or where the labels alone cannot estimate it (a model in no labelled battle)."""

    judge: str
    quantity: str
    model: str
    judge_only: Estimate
    labels_only: Estimate | None
    ppi: Estimate
    lam: float
    n_labelled: int
    n_items: int
    effective_labels: float | None
    reference: str | None = None  # strengths: the model whose strength is 0
    opponent: str | None = None  # pair win rates: the other model of the pair (``model`` wins with the rate)
    method: str = "ppi-python"  # what computed the PPI++ estimate: ppi-python, or stats.ppi (labels with ties)


def _ppi_py() -> Any:
    try:
        import ppi_py
    except ImportError as exc:
        raise ConfigError("human-calibrated scores need the ppi-python package: pip install 'judgebench[ppi]'") \
            from exc
    return ppi_py


def _from_mean(m: PPIMean) -> Estimate:
    low, high = m.ci()
    return Estimate(m.estimate, low, high, m.se)


def _effective(n: int, classical_se: float | None, ppi_se: float) -> float | None:
    if classical_se is None or not classical_se > 0 or not ppi_se > 0:
        return None  # labels that all agree, or a judge that does: no variance to compare
    return n * (classical_se / ppi_se) ** 2


def calibrated_mean(judge: str, quantity: str, model: str, y: np.ndarray, yhat: np.ndarray,
                    yhat_unlabelled: np.ndarray) -> Calibrated:
    """PPI++ of one mean by ppi-python, the judge's weight given as stats.ppi tunes it (the value ppi-python
    tunes, which it does not return), beside the judge-only and labels-only means."""
    ppi_py = _ppi_py()
    lam = mean_lambda(y, yhat, yhat_unlabelled)
    value = float(np.ravel(ppi_py.ppi_mean_pointestimate(y, yhat, yhat_unlabelled, lam=lam))[0])
    low, high = (float(np.ravel(b)[0]) for b in ppi_py.ppi_mean_ci(y, yhat, yhat_unlabelled, alpha=0.05, lam=lam))
    ppi = Estimate(value, low, high, (high - low) / (2 * Z95))
    judge_only = _from_mean(classical_mean(np.concatenate([yhat, yhat_unlabelled])))
    labels_only = _from_mean(classical_mean(y)) if len(y) >= 2 else None
    return Calibrated(judge, quantity, model, judge_only, labels_only, ppi, lam, len(y), len(y) + len(yhat_unlabelled),
                      _effective(len(y), labels_only.se if labels_only else None, ppi.se))


def _means(judge: str, quantity: str, table: pd.DataFrame, by: str | list[str],
           bounds: tuple[float, float] | None = None) -> list[Calibrated]:
    """One PPI++ mean per value of ``by`` over ``table``'s rows (columns y, NaN where unlabelled, and yhat); a
    model needs two labelled and one unlabelled item. ``bounds``: what the mean can be (a win rate: [0, 1]), to
    which each normal-approximation interval is clipped (a win rate of -0.4% is no estimate). ``by`` two columns
    (a pair of models): the first is the model, the second its opponent."""
    out = []
    for key, rows in table.groupby(by, sort=True):
        model, opponent = (str(key[0]), str(key[1])) if isinstance(by, list) and len(by) == 2 else (
            str(key[0] if isinstance(key, tuple) else key), None)
        labelled = rows["y"].notna().to_numpy()
        if labelled.sum() >= 2 and (~labelled).sum() >= 1:
            yhat = rows["yhat"].to_numpy(dtype=float)
            found = calibrated_mean(judge, quantity, model, rows["y"].to_numpy(dtype=float)[labelled],
                                    yhat[labelled], yhat[~labelled])
            found = replace(found, opponent=opponent)
            out.append(_clipped(found, bounds) if bounds else found)
    return out


def _pair_rates(judge: str, battles: pd.DataFrame) -> list[Calibrated]:
    """Each pair's win rate (the first model's by name, a tie 1/2), where some model meets more than one opponent
    (otherwise a pair's rate is its models' own win rate, already given)."""
    pairs = battles[["first", "second"]].drop_duplicates()
    if not pd.concat([pairs["first"], pairs["second"]]).duplicated().any():
        return []
    return _means(judge, "pair win rate", battles, ["first", "second"], bounds=(0.0, 1.0))


def _clip(estimate: Estimate | None, low: float, high: float) -> Estimate | None:
    if estimate is None:
        return None
    return replace(estimate, low=min(max(estimate.low, low), high), high=max(min(estimate.high, high), low))


def _clipped(found: Calibrated, bounds: tuple[float, float]) -> Calibrated:
    judge_only, ppi = _clip(found.judge_only, *bounds), _clip(found.ppi, *bounds)
    assert judge_only is not None and ppi is not None
    return replace(found, judge_only=judge_only, labels_only=_clip(found.labels_only, *bounds), ppi=ppi)


def _outcome(judged: pd.DataFrame) -> np.ndarray:
    """The model's outcome in [0, 1] per judgment: AlpacaEval's combined preference minus 1 (a weighted judge's
    fractional one kept), else the mean of the orders' verdicts that parsed (win 1, tie 1/2, loss 0)."""
    points = pd.concat([judged[v].map(VERDICT_POINTS) for v in ("verdict_ab", "verdict_ba")], axis=1).mean(axis=1)
    preference = pd.to_numeric(judged["preference"], errors="coerce")
    return np.where(preference.between(1.0, 2.0), preference - 1.0, points.to_numpy(dtype=float))


def _judge_battles(group: pd.DataFrame) -> pd.DataFrame:
    """A judge's battles, one row per (item, pair of models in name order, turn): ``yhat``, the mean outcome for
    the first model over the judgments of the battle."""
    judged = group[group["opponent"].notna() & group["error"].isna() & (group["model"] != group["opponent"])]
    outcome = _outcome(judged)
    judged, outcome = judged[~np.isnan(outcome)], outcome[~np.isnan(outcome)]
    model, opponent = judged["model"].astype(str), judged["opponent"].astype(str)
    first = model < opponent
    return pd.DataFrame({"item_id": judged["item_id"].astype(str), "first": np.where(first, model, opponent),
                         "second": np.where(first, opponent, model), "turn": judged["turn"].astype(int),
                         "yhat": np.where(first, outcome, 1.0 - outcome)}).groupby(KEYS, as_index=False)["yhat"].mean()


def _label_battles(labels: pd.DataFrame) -> pd.DataFrame:
    """Pairwise labels, one row per battle: ``y``, the labels' mean outcome for the first model by name."""
    labels = pairwise_labels(labels)
    first = labels["model_a"] < labels["model_b"]
    a = labels["model_a"].where(first, labels["model_b"])
    b = labels["model_b"].where(first, labels["model_a"])
    y = np.where(labels["winner"] == a, 1.0, np.where(labels["winner"] == b, 0.0, 0.5))
    return pd.DataFrame({"item_id": labels["item_id"], "first": a, "second": b, "turn": labels["turn"].astype(int),
                         "y": y}).groupby(KEYS, as_index=False)["y"].mean()


def _sides(battles: pd.DataFrame) -> pd.DataFrame:
    """Each battle twice, from each model's side: columns model, y, yhat."""
    return pd.concat([pd.DataFrame({"model": battles["first"], "y": battles["y"], "yhat": battles["yhat"]}),
                      pd.DataFrame({"model": battles["second"], "y": 1.0 - battles["y"],
                                    "yhat": 1.0 - battles["yhat"]})], ignore_index=True)


def _design(battles: pd.DataFrame, models: list[str]) -> np.ndarray:
    """Bradley-Terry's design: +1 for the first model, -1 for the second; the reference (models[0]) has none."""
    index = {m: i - 1 for i, m in enumerate(models)}
    x = np.zeros((len(battles), len(models) - 1))
    rows = np.arange(len(battles))
    for column, sign in (("first", 1.0), ("second", -1.0)):
        position = battles[column].map(index).to_numpy()
        kept = position >= 0
        x[rows[kept], position[kept]] = sign
    return x


def _glm_estimates(fit: PPIGLM) -> list[Estimate]:
    return [Estimate(float(c), float(c - Z95 * s), float(c + Z95 * s), float(s)) for c, s in zip(fit.coef, fit.se,
                                                                                                  strict=True)]


def _strengths(judge: str, battles: pd.DataFrame) -> list[Calibrated]:
    """Bradley-Terry strengths (logits against the model in the most battles, ties by name) by PPI++."""
    counts = pd.concat([battles["first"], battles["second"]]).value_counts()
    most = counts.max()
    reference = min(m for m, c in counts.items() if c == most)
    models = [reference, *sorted(m for m in counts.index if m != reference)]
    labelled = battles["y"].notna().to_numpy()
    if len(models) < 2 or labelled.sum() < 2 or (~labelled).sum() < 2:
        return []
    x, y, yhat = _design(battles, models), battles["y"].to_numpy(dtype=float), battles["yhat"].to_numpy(dtype=float)
    try:
        ppi = ppi_logistic(x[labelled], y[labelled], yhat[labelled], x[~labelled], yhat[~labelled])
        judge_only = _glm_estimates(classical_logistic(x, yhat))
    except np.linalg.LinAlgError:
        return []  # a model with no battle, or one that wins or loses them all: no finite strength
    try:
        labels_fit: list[Estimate] | None = _glm_estimates(classical_logistic(x[labelled], y[labelled]))
    except np.linalg.LinAlgError:
        labels_fit = None  # a model in no labelled battle: the labels alone cannot place it
    estimates, method = _glm_estimates(ppi), "stats.ppi"
    if np.isin(y[labelled], (0.0, 1.0)).all():  # no tie among the labels: ppi-python's logistic fits them
        estimates = _ppi_py_logistic(x[labelled], y[labelled], yhat[labelled], x[~labelled], yhat[~labelled],
                                     ppi.lam)
        method = "ppi-python"
    out = []
    for i, (model, estimate) in enumerate(zip(models[1:], estimates, strict=True)):
        alone = labels_fit[i] if labels_fit else None
        out.append(Calibrated(judge, "strength", model, judge_only[i], alone, estimate, ppi.lam, int(labelled.sum()),
                              len(battles), _effective(int(labelled.sum()), alone.se if alone else None, estimate.se),
                              reference, method=method))
    return out


def _ppi_py_logistic(x: np.ndarray, y: np.ndarray, yhat: np.ndarray, x_u: np.ndarray, yhat_u: np.ndarray,
                     lam: float) -> list[Estimate]:
    """Bradley-Terry strengths by ppi-python's PPI++ logistic regression (labels of 0 or 1 only: it starts from
    scikit-learn's classifier), the judge's weight given as stats.ppi tunes it; the standard error is the 95%
    interval's half-width over z."""
    ppi_py = _ppi_py()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's start on a model in no labelled battle: the fit moves it
        coef = np.atleast_1d(ppi_py.ppi_logistic_pointestimate(x, y, yhat, x_u, yhat_u, lam=lam))
        low, high = (np.atleast_1d(b) for b in ppi_py.ppi_logistic_ci(x, y, yhat, x_u, yhat_u, alpha=0.05, lam=lam))
    return [Estimate(float(c), float(lo), float(hi), float((hi - lo) / (2 * Z95)))
            for c, lo, hi in zip(coef, low, high, strict=True)]


@dataclass(frozen=True)
class Calibration:
    """Every judge's calibrated estimates, and how many label rows matched no judgment of the judge."""

    estimates: tuple[Calibrated, ...]
    n_labels: int
    n_unmatched: tuple[tuple[str, int], ...]


def _pairwise(judge: str, group: pd.DataFrame, labels: pd.DataFrame) -> tuple[list[Calibrated], int]:
    theirs = _label_battles(labels)
    battles = _judge_battles(group).merge(theirs, on=KEYS, how="left")
    unmatched = len(theirs) - int(battles["y"].notna().sum())
    return (_means(judge, "win rate", _sides(battles), "model", bounds=(0.0, 1.0)) + _pair_rates(judge, battles)
            + _strengths(judge, battles)), unmatched


def _grades(judge: str, group: pd.DataFrame, labels: pd.DataFrame) -> tuple[list[Calibrated], int]:
    keys = ["item_id", "model", "turn"]
    judged = group[group["score"].notna() & group["error"].isna()].assign(
        item_id=lambda f: f["item_id"].astype(str), model=lambda f: f["model"].astype(str))
    ours = judged.groupby(keys, as_index=False)["score"].mean().rename(columns={"score": "yhat"})
    theirs = pd.DataFrame({"item_id": labels["item_id"].astype(str), "model": labels["model"].astype(str),
                           "turn": labels["turn"].astype(int) if "turn" in labels else 1,
                           "y": pd.to_numeric(labels["score"], errors="coerce")}).dropna(subset=["y"])
    theirs = theirs.groupby(keys, as_index=False)["y"].mean()
    table = ours.merge(theirs, on=keys, how="left")
    return _means(judge, "mean grade", table, "model"), len(theirs) - int(table["y"].notna().sum())


def _check_scores(labels: pd.DataFrame, frame: pd.DataFrame) -> None:
    """Every score label is a finite number on the judged scale (where the judgments name one): a typo would move the
    labels-only mean, and a dropped row the number of labels, silently."""
    scores = pd.to_numeric(labels["score"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(scores)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"label row {row + 1}: score {str(labels['score'].iloc[row])[:40]!r} is not a number: "
                        "correct it or leave the row out")
    low = pd.to_numeric(frame.get("scale_low"), errors="coerce").min() if "scale_low" in frame else np.nan
    high = pd.to_numeric(frame.get("scale_high"), errors="coerce").max() if "scale_high" in frame else np.nan
    if not (np.isfinite(low) and np.isfinite(high)):
        return
    outside = (scores < low) | (scores > high)
    if outside.any():
        row = int(np.flatnonzero(outside)[0])
        raise DataError(f"label row {row + 1}: score {scores[row]:g} is outside the judged scale [{low:g}, {high:g}]: "
                        "labels must grade on the judges' scale")


def calibrate(frame: pd.DataFrame, labels: pd.DataFrame, sample: int | None = None, seed: int = 0) -> Calibration:
    """PPI++ estimates per judge: win rates and Bradley-Terry strengths from pairwise labels (item_id, model_a,
    model_b, winner), mean grades from score labels (item_id, model, score). ``sample``: use a random ``sample``
    of the label rows (``seed``), to see what so many labels buy."""
    pairwise = {"item_id", "model_a", "model_b", "winner"} <= set(labels.columns)
    if not pairwise and not {"item_id", "model", "score"} <= set(labels.columns):
        raise DataError("labels need item_id, model_a, model_b, winner (pairwise) or item_id, model, score (grades)")
    if sample is not None:
        if sample > len(labels):
            raise DataError(f"--sample {sample} is more than the {len(labels)} label rows: give at most {len(labels)}")
        labels = labels.sample(n=sample, random_state=seed)
    if not pairwise:
        _check_scores(labels, frame)
    frame = same_benchmark(frame, labels)
    method: Callable[[str, pd.DataFrame, pd.DataFrame], tuple[list[Calibrated], int]] = \
        _pairwise if pairwise else _grades
    estimates: list[Calibrated] = []
    unmatched = []
    for judge, group in frame.groupby("judge", sort=True):
        found, missed = method(str(judge), group, labels)
        estimates += found
        unmatched.append((str(judge), missed))
    if not estimates:
        raise DataError("no model has two labelled and one unlabelled judged item (item_id, the models and turn must "
                        "match a judgment)")
    return Calibration(tuple(estimates), len(labels), tuple(unmatched))
