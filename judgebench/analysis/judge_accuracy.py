"""Judges measured against objective labels: one row per judge configuration (JudgeBench's accuracy overall and per
source group, with bootstrap intervals; position consistency; how often it prefers the longer response beside the
labels' own rate). ``judges_frame`` is what `judgebench judges` prints and what a notebook gets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..constants import DEFAULT_BOOTSTRAP
from ..formats.scalerlab import JudgeOutputs, OrderJudgment, read_outputs, source_group
from ..stats.judge_accuracy import Accuracy, accuracy, longer_share, pairs_correct, position_consistency, preferred

GROUPS = ("Knowledge", "Reasoning", "Math", "Coding")


@dataclass(frozen=True)
class JudgeAccuracy:
    """One judge configuration on one set of labelled pairs. ``by_group``: (group, accuracy) in GROUPS' order, then
    any other source as it is named. consistency: None for a judge asked in one order. prefers_longer: the share of
    pairs (with a preference and responses of different lengths) where the judge preferred the longer response;
    labels_longer: the same share for the labels' correct response, over all the pairs."""

    judge: str
    path: str
    orders: int
    overall: Accuracy
    by_group: tuple[tuple[str, Accuracy], ...]
    consistency: float | None
    prefers_longer: float
    labels_longer: float


def judge_accuracy(outputs: JudgeOutputs, n_bootstrap: int = DEFAULT_BOOTSTRAP) -> JudgeAccuracy:
    """JudgeBench's metric on one output file's decisions (see stats.judge_accuracy)."""
    by_pair: dict[str, list[OrderJudgment]] = {}
    for judgment in outputs.judgments:
        by_pair.setdefault(judgment.pair_id, []).append(judgment)
    decisions = [[j.decision for j in by_pair.get(pair.pair_id, [])] for pair in outputs.pairs]
    labels = [pair.label for pair in outputs.pairs]
    correct = pairs_correct(decisions, labels)
    groups = [source_group(pair.source) for pair in outputs.pairs]
    names = [g for g in GROUPS if g in groups] + sorted(set(groups) - set(GROUPS))
    by_group = tuple((name, accuracy(correct[[g == name for g in groups]], n_bootstrap)) for name in names)
    consistency = None
    if outputs.orders == 2:
        consistency = position_consistency([d[0] if d else None for d in decisions],
                                           [d[1] if len(d) > 1 else None for d in decisions])
    length_a = [len(pair.response_a) for pair in outputs.pairs]
    length_b = [len(pair.response_b) for pair in outputs.pairs]
    judged = longer_share([preferred(d) for d in decisions], length_a, length_b)
    truth = longer_share([label[0] for label in labels], length_a, length_b)
    return JudgeAccuracy(outputs.judge, outputs.path, outputs.orders, accuracy(correct, n_bootstrap), by_group,
                         consistency, judged.share, truth.share)


def judges_frame(rows: Sequence[JudgeAccuracy]) -> pd.DataFrame:
    """One row per judge: judge, orders, n_pairs, accuracy with accuracy_low/high (in %), then each group's
    <group>, <group>_low, <group>_high, <group>_n, then consistency, prefers_longer and labels_longer (shares)."""
    records = []
    for row in rows:
        record: dict[str, object] = {"judge": row.judge, "orders": row.orders, "n_pairs": row.overall.n,
                                     "accuracy": row.overall.value, "accuracy_low": row.overall.low,
                                     "accuracy_high": row.overall.high}
        for name, acc in row.by_group:
            key = name.lower()
            record.update({key: acc.value, f"{key}_low": acc.low, f"{key}_high": acc.high, f"{key}_n": acc.n})
        record.update({"consistency": row.consistency, "prefers_longer": row.prefers_longer,
                       "labels_longer": row.labels_longer, "path": row.path})
        records.append(record)
    return pd.DataFrame.from_records(records)


def judges(paths: Sequence[Path | str], n_bootstrap: int = DEFAULT_BOOTSTRAP) -> pd.DataFrame:
    """JudgeBench output files -> the judges' table (``judges_frame``), in the order given."""
    return judges_frame([judge_accuracy(read_outputs(Path(p)), n_bootstrap) for p in paths])
