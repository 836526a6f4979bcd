"""Escalation over recorded judgments: the cheap judge's verdicts, the strong judge's (or none: the escalated items go
to people, whose verdict is the label) and labels, lined up per item, the threshold chosen on the labelled items
(stats.escalation) and applied to every item the cheap judge judged.

An item is one comparison: (item_id, the two models in name order, turn). Every preference is turned to the first
model's side (3 - p for the second's). Several judges of one input form a panel: the item's preference is their mean,
so a split panel sits near a tie and is escalated early. Several labels of one item give the sign of their sum (a tie
label counts 0).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..constants import BOOTSTRAP_SEED, DEFAULT_BOOTSTRAP
from ..errors import ConfigError, DataError, closest
from ..formats.labels import read_labels
from ..formats.scalerlab import objective_labels, pair_labels
from ..stats.escalation import (
    Choice,
    Costs,
    HeldOut,
    agreement_interval,
    choose_threshold,
    combined,
    confidence,
    escalate_mask,
    escalation_costs,
    held_out,
    judged_preference,
    winner,
)
from .agreement import pairwise_labels, same_benchmark

KEY = ["item_id", "model_a", "model_b", "turn"]
# Judgments are matched within a benchmark (item ids of two benchmarks may coincide); labels without a benchmark
# column match on KEY alone (same_benchmark keeps the judgments of the benchmark labels name).
JUDGED_KEY = ["benchmark", *KEY]


def pair_preferences(frame: pd.DataFrame) -> pd.DataFrame:
    """The pairwise judgments of ``frame`` per item (JUDGED_KEY): ``preference`` of model_a (the pair's first model
    in name order; the judges' mean, NaN where none gave one), ``judges`` (how many judged it), ``category`` and
    ``margin``: the judges' mean log-probability margin (the verdict_margin column of a judge with ``,logprobs``;
    NaN where none has one)."""
    # A model against itself (AlpacaEval's baseline judged against its own outputs) is no comparison.
    pairwise = frame[frame["opponent"].notna() & (frame["opponent"] != frame["model"])]
    if pairwise.empty:
        return pd.DataFrame(columns=[*JUDGED_KEY, "preference", "judges", "category", "margin"])
    model, opponent = pairwise["model"].astype(str), pairwise["opponent"].astype(str)
    first = (model < opponent).to_numpy()
    preference = judged_preference(pairwise["verdict_ab"].tolist(), pairwise["verdict_ba"].tolist(),
                                   pairwise["preference"].astype(float).to_numpy())
    table = pd.DataFrame({"item_id": pairwise["item_id"].astype(str).to_numpy(),
                          "model_a": np.where(first, model, opponent), "model_b": np.where(first, opponent, model),
                          "turn": pairwise["turn"].astype(int).to_numpy(),
                          "preference": np.where(first, preference, 3 - preference),
                          "benchmark": pairwise["benchmark"].astype(str).to_numpy(),
                          "category": pairwise["category"].astype(object).to_numpy(),
                          "margin": _margins(pairwise)})
    return (table.groupby(JUDGED_KEY, sort=True)
            .agg(preference=("preference", "mean"), judges=("preference", "size"), category=("category", "first"),
                 margin=("margin", "mean"))
            .reset_index())


def _margins(pairwise: pd.DataFrame) -> np.ndarray:
    if "verdict_margin" not in pairwise:
        return np.full(len(pairwise), np.nan)
    return pd.to_numeric(pairwise["verdict_margin"], errors="coerce").to_numpy(dtype=float)


def item_confidence(table: pd.DataFrame) -> np.ndarray:
    """The cheap judge's confidence per item of ``pair_preferences``' table: stats.escalation.confidence of its
    preference and, where its verdicts carried log-probabilities, their margin."""
    return confidence(table["preference"].to_numpy(dtype=float), table["margin"].to_numpy(dtype=float))


def label_verdicts(labels: pd.DataFrame) -> pd.DataFrame:
    """Pairwise labels (analysis.agreement.pairwise_labels' columns) per item (KEY): ``label`` 1 (model_a better),
    -1 (model_b) or 0 (a tie)."""
    found = pairwise_labels(labels)
    first = (found["model_a"] < found["model_b"]).to_numpy()
    a = np.where(first, found["model_a"], found["model_b"])
    b = np.where(first, found["model_b"], found["model_a"])
    vote = np.where(found["winner"] == a, 1, np.where(found["winner"] == b, -1, 0))
    table = pd.DataFrame({"item_id": found["item_id"], "model_a": a, "model_b": b, "turn": found["turn"], "vote": vote})
    summed = table.groupby(KEY, sort=True)["vote"].sum()
    return pd.DataFrame({"label": np.sign(summed)}).reset_index()


def judge_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """A judge's verdicts as labels (label_verdicts' columns, with the benchmark): the strong judge taken as the
    truth to approach."""
    found = pair_preferences(frame).dropna(subset=["preference"])
    return found[JUDGED_KEY].assign(label=winner(found["preference"].to_numpy()).astype(int))


@dataclass(frozen=True)
class EscalationReport:
    """One escalation measured on labelled items and applied to all. cheap / strong: the judges (strong "labels":
    the escalated items go to the labels' source, people); n_items: the items the cheap judge judged; choice: the
    threshold chosen on the labelled items (with a strong verdict); interval: the chosen escalation's agreement,
    95% bootstrap over items (in sample: the threshold was chosen on the same items); held_out: cross-fitted;
    cheap_agreement / strong_agreement: each judge alone on the labelled items; n_escalated: of the n_items, how
    many the threshold escalates; costs: None without prices, or where ``unpriced`` judges have none."""

    cheap: str
    strong: str
    target: float
    n_items: int
    choice: Choice
    interval: tuple[float, float]
    held_out: HeldOut
    cheap_agreement: float
    strong_agreement: float
    n_escalated: int
    costs: Costs | None
    unpriced: tuple[str, ...] = ()  # judges some prices were given for but not these: no cost, said so


def _names(frame: pd.DataFrame) -> str:
    return "+".join(sorted(frame["judge"].astype(str).unique()))


def labelled(cheap: pd.DataFrame, strong: pd.DataFrame | None, labels: pd.DataFrame) -> pd.DataFrame:
    """Per labelled item (KEY, label: ``label_verdicts``' or ``judge_labels``' table), the cheap ``preference`` and,
    where there is a strong judge, ``strong`` (its preference); items the strong judge did not judge are left out."""
    mine = pair_preferences(cheap)
    if mine.empty:
        raise DataError("escalation compares pairwise verdicts, and the cheap judge's judgments have none (single "
                        "grades are not escalated)")
    on = JUDGED_KEY if "benchmark" in labels.columns else KEY
    table = mine.merge(labels[[*on, "label"]], on=on)
    if strong is not None:
        theirs = pair_preferences(strong)[[*JUDGED_KEY, "preference"]].rename(columns={"preference": "strong"})
        table = table.merge(theirs, on=JUDGED_KEY)
    if table.empty:
        raise DataError("no labelled item was judged by the cheap judge" + (" and the strong one" if strong is not
                        None else "") + " (item_id, the two models and turn must match)")
    return table


def escalation(cheap: pd.DataFrame, strong: pd.DataFrame | None, labels: pd.DataFrame, target: float,
               prices: tuple[float, float] | None = None, n_bootstrap: int = DEFAULT_BOOTSTRAP,
               seed: int = BOOTSTRAP_SEED, missing_prices: Sequence[str] = ()) -> EscalationReport:
    """Escalation from ``cheap``'s judgments to ``strong``'s (None: to the labels' source itself), its threshold
    set on ``labels`` (KEY and label, as ``label_verdicts`` gives them) to reach ``target`` agreement (a share);
    prices: USD per 1,000 judgments (cheap, strong); missing_prices: the judges without one (``unpriced``), named in
    the report in place of its cost."""
    table = labelled(cheap, strong, labels)
    label = table["label"].to_numpy()
    conf = item_confidence(table)
    cheap_ok = winner(table["preference"].to_numpy()) == label
    strong_ok = (winner(table["strong"].to_numpy()) == label) if strong is not None else np.ones(len(table), bool)
    choice = choose_threshold(conf, cheap_ok, strong_ok, target)
    correct = combined(cheap_ok, strong_ok, escalate_mask(conf, choice.threshold))
    everything = pair_preferences(cheap)
    n_escalated = int(escalate_mask(item_confidence(everything), choice.threshold).sum())
    costs = None
    if prices is not None:
        costs = escalation_costs(prices[0], prices[1], n_escalated / len(everything))
    return EscalationReport(
        _names(cheap), _names(strong) if strong is not None else "labels", target, len(everything), choice,
        agreement_interval(correct, n_bootstrap, seed),
        held_out(conf, cheap_ok, strong_ok, target, seed=seed, n_bootstrap=n_bootstrap),
        float(cheap_ok.mean()), float(strong_ok.mean()), n_escalated, costs, tuple(missing_prices))


def escalated_items(cheap: pd.DataFrame, threshold: float | None) -> pd.DataFrame:
    """The items a threshold escalates, least confident first: benchmark, KEY, category, the cheap judges'
    preference and confidence."""
    table = pair_preferences(cheap)
    table = table.assign(confidence=item_confidence(table))
    chosen = table[escalate_mask(table["confidence"].to_numpy(), threshold)]
    return chosen.sort_values(["confidence", *JUDGED_KEY], kind="stable")[
        [*JUDGED_KEY, "category", "preference", "confidence"]].reset_index(drop=True)




def read_escalation_labels(path: Path) -> pd.DataFrame:
    """Labels for escalation: a JudgeBench pair or output file (its objective labels), else any file
    formats.labels reads (CSV, JSONL, a human arena's votes)."""
    objective = objective_labels(path)
    if objective is not None:
        return objective
    labels = read_labels(path)
    if not {"item_id", "model_a", "model_b", "winner"} <= {str(c) for c in labels.columns}:
        raise DataError(f"{path}: not pairwise labels (its columns: {', '.join(map(str, labels.columns))[:200]}; "
                        "expected item_id, model_a, model_b, winner, a published layout, a human arena's database "
                        "or a JudgeBench pair file): escalation measures pairwise verdicts")
    return labels



@dataclass(frozen=True)
class Inputs:
    """What an escalation is measured on: the cheap judge's judgments, the strong judge's (None: escalate to the
    labels' source) and the labels per item (``label_verdicts``' table)."""

    cheap: pd.DataFrame
    strong: pd.DataFrame | None
    labels: pd.DataFrame


def split_judges(frame: pd.DataFrame, cheap: Sequence[str], strong: Sequence[str]) -> tuple[pd.DataFrame,
                                                                                               pd.DataFrame | None]:
    """The cheap judges' judgments and the strong judges' (None when ``strong`` names none), by judge name; with no
    name given, a frame of one judge is the cheap one."""
    names = sorted(frame["judge"].astype(str).unique())
    if not cheap:
        rest = [n for n in names if n not in strong]
        if len(rest) != 1:
            raise ConfigError(f"the inputs hold judges {', '.join(names)}: name the cheap one(s) with --cheap")
        cheap = rest
    for name in (*cheap, *strong):
        if name not in names:
            close = closest(name, names)
            hint = f" (did you mean {close!r}?)" if close else ""
            raise ConfigError(f"no judgments by {name!r} in the inputs{hint}; their judges: {', '.join(names)}")
    if set(cheap) & set(strong):
        raise ConfigError(f"{', '.join(sorted(set(cheap) & set(strong)))}: a judge is either cheap or strong")
    judge = frame["judge"].astype(str)
    return frame[judge.isin(cheap)], frame[judge.isin(strong)] if strong else None


def read_inputs(paths: Sequence[Path], cheap: Sequence[str] = (), strong: Sequence[str] = (),
                labels: Path | None = None, fmt: str = "auto") -> Inputs:
    """The inputs from files (any format the registry reads), split by judge name (``split_judges``); ``labels``
    None: the strong judges' verdicts are the labels (how closely the escalation reproduces them)."""
    from .records import read_judgments

    if labels is None and not strong:
        raise ConfigError("give --labels FILE, or --strong JUDGE whose verdicts are the labels (--strong-as-labels)")
    cheap_frame, strong_frame = split_judges(read_judgments(paths, fmt).frame, cheap, strong)
    if labels is None:
        assert strong_frame is not None
        return Inputs(cheap_frame, strong_frame, judge_labels(strong_frame))
    raw = read_escalation_labels(labels)
    return Inputs(same_benchmark(cheap_frame, raw), strong_frame, label_verdicts(raw))


def judge_names(frame: pd.DataFrame | None) -> list[str]:
    """The judges of an input (None: the labels' source, named ``labels``)."""
    return ["labels"] if frame is None else sorted(frame["judge"].astype(str).unique())


def unpriced(inputs: Inputs, given: dict[str, float]) -> tuple[str, ...]:
    """The judges (``labels`` for the labels' source) ``given`` has no price for, once it prices any: the report
    then says which and leaves the cost out, the rest of it standing."""
    if not given:
        return ()
    return tuple(name for names in (judge_names(inputs.cheap), judge_names(inputs.strong)) for name in names
                 if name not in given)


def prices_per_1000(inputs: Inputs, given: dict[str, float]) -> tuple[float, float] | None:
    """(cheap, strong) USD per 1,000 items from ``given`` (judge name -> USD per 1,000 judgments; a panel costs its
    judges together; the labels' source is ``labels``); None when nothing is given, or a judge has no price
    (``unpriced`` names it): the saving needs both sides' whole price."""
    if not given or unpriced(inputs, given):
        return None
    sides = (judge_names(inputs.cheap), judge_names(inputs.strong))
    return sum(given[n] for n in sides[0]), sum(given[n] for n in sides[1])


def write_items(items: pd.DataFrame, path: Path) -> None:
    """The escalated items as JSONL (one object per item, escalated_items' columns), written whole or not at all."""
    text = "".join(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"
                   for record in items.astype(object).where(items.notna(), None).to_dict(orient="records"))
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"{path}: cannot write the escalated items: {exc.strerror or exc}") from None


__all__ = ["JUDGED_KEY", "KEY", "EscalationReport", "Inputs", "escalated_items", "escalation", "judge_labels",
           "judge_names", "label_verdicts", "labelled", "pair_labels", "pair_preferences", "prices_per_1000",
           "read_escalation_labels", "read_inputs", "split_judges", "unpriced", "write_items"]
