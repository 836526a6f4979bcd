"""Judges measured against objective labels: one row per judge configuration (JudgeBench's accuracy overall and per
source group, with bootstrap intervals; position consistency; how often it prefers the longer response beside the
labels' own rate). ``judges_frame`` is what `judgebench judges` prints and what a notebook gets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..constants import DEFAULT_BOOTSTRAP
from ..errors import ConfigError, DataError
from ..formats.scalerlab import (
    FORMAT,
    JudgeOutputs,
    OrderJudgment,
    Pair,
    read_outputs,
    read_pairs,
    side_model,
    source_group,
)
from ..stats.judge_accuracy import Accuracy, accuracy, longer_share, pairs_correct, position_consistency, preferred
from ..types import Judgment, Position

GROUPS = ("Knowledge", "Reasoning", "Math", "Coding")


@dataclass(frozen=True)
class JudgeAccuracy:
    """One judge configuration on one set of labelled pairs. ``by_group``: (group, accuracy) in GROUPS' order, then
    any other source as it is named. consistency: None for a judge asked in one order. prefers_longer: the share of
    pairs (with a preference and responses of different lengths) where the judge preferred the longer response;
    labels_longer: the same share for the labels' correct response, over all the pairs. no_decision: the share of
    the judge's asks (pairs x orders) that gave no decision (a reply that did not parse)."""

    judge: str
    path: str
    orders: int
    overall: Accuracy
    by_group: tuple[tuple[str, Accuracy], ...]
    consistency: float | None
    prefers_longer: float
    labels_longer: float
    no_decision: float


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
    asks = [d for pair in decisions for d in pair]
    undecided = sum(d is None for d in asks) / len(asks) if asks else float("nan")
    return JudgeAccuracy(outputs.judge, outputs.path, outputs.orders, accuracy(correct, n_bootstrap), by_group,
                         consistency, judged.share, truth.share, undecided)


def judges_frame(rows: Sequence[JudgeAccuracy]) -> pd.DataFrame:
    """One row per judge: judge, orders, n_pairs, accuracy with accuracy_low/high (in %), then each group's
    <group>, <group>_low, <group>_high, <group>_n, then consistency, prefers_longer, labels_longer and no_decision
    (shares), and the input's path."""
    records = []
    for row in rows:
        record: dict[str, object] = {"judge": row.judge, "orders": row.orders, "n_pairs": row.overall.n,
                                     "accuracy": row.overall.value, "accuracy_low": row.overall.low,
                                     "accuracy_high": row.overall.high}
        for name, acc in row.by_group:
            key = name.lower()
            record.update({key: acc.value, f"{key}_low": acc.low, f"{key}_high": acc.high, f"{key}_n": acc.n})
        record.update({"consistency": row.consistency, "prefers_longer": row.prefers_longer,
                       "labels_longer": row.labels_longer, "no_decision": row.no_decision, "path": row.path})
        records.append(record)
    return pd.DataFrame.from_records(records)


# A pairwise verdict from the judged side's point of view, as a decision in the pair's terms.
_DECISION = {("A", "win"): "A>B", ("A", "loss"): "B>A", ("B", "win"): "B>A", ("B", "loss"): "A>B"}


def _decision(side: str, verdict: str | None) -> str | None:
    return None if verdict is None else "A=B" if verdict == "tie" else _DECISION.get((side, verdict))


def labelled_outputs(judgments: Sequence[Judgment], pairs: Sequence[Pair], where: str) -> list[JudgeOutputs]:
    """Our own judgments of a JudgeBench task (its items are the pairs' ids, its models ``<model>/A`` and
    ``<model>/B``: formats.scalerlab), labelled by ``pairs``: one JudgeOutputs per judge, over the pairs it judged.
    ``where`` names the input in messages."""
    by_id = {pair.pair_id: pair for pair in pairs}
    found: dict[str, dict[str, tuple[Judgment, str]]] = {}
    for judgment in judgments:
        pair = by_id.get(judgment.item_id)
        if pair is None or judgment.kind != "pairwise":
            continue
        sides = {side_model(pair, "A"): "A", side_model(pair, "B"): "B"}
        side = sides.get(judgment.model)
        if side is None or judgment.opponent not in sides:
            continue
        found.setdefault(judgment.judge, {})[pair.pair_id] = (judgment, side)
    if not found:
        raise DataError(f"{where}: no pairwise judgment of these JudgeBench pairs (item ids are pair ids, models "
                        "<model>/A and <model>/B); give the pair file the task was made from with --pairs")
    outputs = []
    for judge, judged in found.items():
        chosen = [pair for pair in pairs if pair.pair_id in judged]
        orders = 2 if any(j.verdict_ba is not None for j, _ in judged.values()) else 1
        decisions: list[OrderJudgment] = []
        for pair in chosen:
            judgment, side = judged[pair.pair_id]
            # verdict_ab: the judged side shown first; for side B that is the pair's BA order
            first: Position = "AB" if side == "A" else "BA"
            second: Position = "BA" if side == "A" else "AB"
            decisions.append(OrderJudgment(pair.pair_id, judge, first, _decision(side, judgment.verdict_ab)))
            if orders == 2:
                decisions.append(OrderJudgment(pair.pair_id, judge, second, _decision(side, judgment.verdict_ba)))
        outputs.append(JudgeOutputs(where, judge, orders, tuple(chosen), tuple(decisions)))
    return outputs


def read_judges(paths: Sequence[Path | str], pairs: Sequence[Path | str] = ()) -> list[JudgeOutputs]:
    """Each input's judges: a JudgeBench output file is one judge; anything else (a judgebench run or results
    directory of a JudgeBench task) is read as judgments and labelled by the pair files ``pairs``."""
    from ..formats import detect_format, read_sources

    labelled = [pair for path in pairs for pair in read_pairs(Path(path))]
    outputs: list[JudgeOutputs] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file() and detect_format(path) == FORMAT:
            outputs.append(read_outputs(path))
            continue
        if not labelled:
            raise ConfigError(f"{path}: not a JudgeBench output file; for a run of a JudgeBench task, give the pair "
                              "file it was made from with --pairs")
        judgments = [j for source in read_sources(path) for j in source.judgments]
        outputs += labelled_outputs(judgments, labelled, str(path))
    return outputs


def judges(paths: Sequence[Path | str], n_bootstrap: int = DEFAULT_BOOTSTRAP,
           pairs: Sequence[Path | str] = ()) -> pd.DataFrame:
    """JudgeBench output files, or runs of a JudgeBench task labelled by its pair files ``pairs`` -> the judges'
    table (``judges_frame``), in the order given."""
    return judges_frame([judge_accuracy(outputs, n_bootstrap) for outputs in read_judges(paths, pairs)])
