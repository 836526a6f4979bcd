"""Agreement of a judge with human labels, at the item level (pairwise winners or scores) or the model level
(a ranking such as Arena Elo). Label files are CSV or JSONL.

Item-level pairwise labels: columns ``item_id``, ``model_a``, ``model_b``, ``winner`` (``model_a``, ``model_b``,
``tie``, or a model's name), optionally ``turn``. Item-level score labels: ``item_id``, ``model``, ``score``,
optionally ``turn``. Model-level labels: a model-name column (``model`` or ``--model-column``) and a numeric
column (``--label-column``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..errors import DataError
from ..formats.common import iter_jsonl, read_text
from ..stats.agreement import agreement_s1_s2, cohen_kappa
from ..stats.correlation import rank_correlation


@dataclass(frozen=True)
class PairwiseAgreement:
    """Item-level agreement on pairwise winners: with ties (S1, over ``n_s1`` items) and without (S2), as in the
    MT-Bench paper, and Cohen's kappa."""

    n_s1: int
    s1: float | None
    n_s2: int
    s2: float | None
    cohen_kappa: float | None
    kind: str = "pairwise"


@dataclass(frozen=True)
class ScoreAgreement:
    """Item-level agreement on grades: Spearman and quadratic-weighted Cohen's kappa over ``n`` grades."""

    n: int
    spearman: float
    cohen_kappa_quadratic: float | None
    kind: str = "scores"


@dataclass(frozen=True)
class ModelAgreement:
    """Model-level agreement of the judge's ranking with a label column, with 95% bootstrap intervals."""

    n: int
    models: tuple[str, ...]
    spearman: float
    spearman_ci: tuple[float, float]
    kendall: float
    kendall_ci: tuple[float, float]
    kind: str = "models"


def _finite(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def read_labels(path: Path) -> pd.DataFrame:
    if path.suffix == ".jsonl":
        return pd.DataFrame([record for _, record in iter_jsonl(path)])
    try:
        return pd.read_csv(io.StringIO(read_text(path)))
    except ValueError as exc:
        raise DataError(f"{path}: cannot read labels: {exc}") from exc


def _winner(row: pd.Series) -> str | None:
    """A judgment's winner as a model name (or "tie")."""
    if pd.isna(row["preference"]):
        return None
    return {2.0: row["model"], 1.0: row["opponent"]}.get(row["preference"], "tie")


def item_agreement(frame: pd.DataFrame, labels: pd.DataFrame) -> PairwiseAgreement | ScoreAgreement:
    """S1/S2 agreement and Cohen's kappa (pairwise), or Spearman and weighted kappa (scores)."""
    if {"model_a", "model_b", "winner"} <= set(labels.columns):
        judged = frame[frame["preference"].notna() & frame["opponent"].notna()].copy()
        judged["winner"] = judged.apply(_winner, axis=1)
        ours: dict[tuple[str, str, int], str] = {}
        for _, row in judged.dropna(subset=["winner"]).iterrows():
            key = (str(row["item_id"]), "|".join(sorted([str(row["model"]), str(row["opponent"])])), int(row["turn"]))
            ours[key] = str(row["winner"])
        a, b = [], []
        for _, label in labels.iterrows():
            pair = "|".join(sorted([str(label["model_a"]), str(label["model_b"])]))
            key = (str(label["item_id"]), pair, int(label.get("turn", 1)) if "turn" in labels else 1)
            if key not in ours:
                continue
            winner = str(label["winner"])
            human = {"model_a": str(label["model_a"]), "model_b": str(label["model_b"])}.get(winner, winner)
            a.append(ours[key])
            b.append(human if human in (label["model_a"], label["model_b"]) else "tie")
        if not a:
            raise DataError("no label matches a judgment (item_id, the two models and turn must match)")
        # Verdicts as positions relative to the pair, so kappa compares like with like.
        s = agreement_s1_s2(a, b)
        return PairwiseAgreement(int(s["n_s1"]), _finite(s["s1"]), int(s["n_s2"]), _finite(s["s2"]), cohen_kappa(a, b))
    if {"item_id", "model", "score"} <= set(labels.columns):
        judged = frame.dropna(subset=["score"])
        keys = ["item_id", "model"] + (["turn"] if "turn" in labels.columns else [])
        labels = labels.assign(item_id=labels["item_id"].astype(str))
        merged = judged.merge(labels, on=keys, suffixes=("", "_label"))
        if merged.empty:
            raise DataError("no score label matches a judgment (item_id and model must match)")
        return ScoreAgreement(len(merged), float(spearmanr(merged["score"], merged["score_label"]).statistic),
                              cohen_kappa(list(np.round(merged["score"]).astype(int)),
                                          list(np.round(merged["score_label"]).astype(int)), weights="quadratic"))
    raise DataError("labels need item_id, model_a, model_b, winner (pairwise) or item_id, model, score (scores), "
                    "or use --label-column for model-level labels")


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
    return ModelAgreement(result.n, tuple(sorted(matched)), result.spearman,
                          (result.spearman_ci[0], result.spearman_ci[1]), result.kendall,
                          (result.kendall_ci[0], result.kendall_ci[1]))
