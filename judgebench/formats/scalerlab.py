"""JudgeBench's files (ScalerLab, Tan et al. arXiv:2410.12784; not our own ``judgebench`` run format): its pair
files (``data/dataset=judgebench,response_model=*.jsonl``: a question, two responses by one model, and the label of
which is objectively correct) and its judges' output files (the same rows with a ``judgments`` list, one entry per
order the judge was asked in).

Each judgment's ``decision`` is written in the terms of the order the judge saw: the second order shows response_B
first, so its "A>B" prefers response_B. ``read_outputs`` turns every decision back into the pair's own terms (A is
always response_A), as JudgeBench's metric does (its ``flip_judgment``), so the orders can be compared directly.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ..judging.verdicts import combine_orders
from ..types import AnswerTraits, Failure, Item, Judgment, JudgmentId, PairVerdict, Position, pair_or_none
from .common import iter_jsonl

if TYPE_CHECKING:
    import pandas as pd

FORMAT = "scalerlab-judgebench"
BENCHMARK = "scalerlab-judgebench"
LABELS = ("A>B", "B>A")
DECISIONS = ("A>B", "B>A", "A=B")
_FLIP = {"A>B": "B>A", "B>A": "A>B", "A=B": "A=B"}
# A reward model scores each response on its own, so JudgeBench scores it in one order (its second entry is the
# first's two scores swapped, not a second look): only the first order counts, as in JudgeBench's own metric.
ONE_ORDER_JUDGES = frozenset({"reward_model"})
# No JudgeBench line comes near this (the longest, a judge's prompt and reply in both orders, is ~40 KB): a longer
# one is not such a file, and parsing it would only spend memory.
MAX_LITERAL = 2**18  # characters of a 'judgments' literal (JudgeBench's own: under 40 KB)
MAX_LINE = 4 * 1024 * 1024
_POSITIONS: tuple[Position, Position] = ("AB", "BA")
_PAIR_FIELDS = ("pair_id", "source", "question", "response_model", "response_A", "response_B", "label")


@dataclass(frozen=True)
class Pair:
    """One labelled response pair: ``label`` says which response is objectively correct ("A>B": response_a)."""

    pair_id: str
    source: str
    question: str
    response_a: str
    response_b: str
    label: str
    response_model: str


@dataclass(frozen=True)
class OrderJudgment:
    """A judge's decision on one pair in one order. position "AB": response_a shown first; "BA": response_b shown
    first. ``decision`` is in the pair's terms whatever the order ("A>B": response_a preferred), None where the judge
    gave none; ``raw``: the judge's reply ("" for a reward model)."""

    pair_id: str
    judge: str
    position: Position
    decision: str | None
    raw: str = ""


@dataclass(frozen=True)
class JudgeOutputs:
    """One judge configuration's output file: its pairs and the decisions of each order it counts (``orders``: 2,
    or 1 for a reward model)."""

    path: str
    judge: str
    orders: int
    pairs: tuple[Pair, ...]
    judgments: tuple[OrderJudgment, ...]


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    return iter_jsonl(path, max_line=MAX_LINE, what="a JudgeBench pair")


def _pair(record: dict[str, Any], where: str) -> Pair:
    missing = [name for name in _PAIR_FIELDS if name not in record]
    if missing:
        raise DataError(f"{where}: a JudgeBench pair needs {', '.join(missing)}; is this a JudgeBench pair file "
                        "(data/dataset=judgebench,*.jsonl)?")
    texts = {name: record[name] for name in _PAIR_FIELDS}
    wrong = [name for name, value in texts.items() if not isinstance(value, (str, int))]
    if wrong:
        raise DataError(f"{where}: {', '.join(wrong)} must be text")
    label = str(record["label"])
    if label not in LABELS:
        raise DataError(f"{where}: label must be 'A>B' or 'B>A', not {label[:40]!r}")
    return Pair(str(record["pair_id"]), str(record["source"]), str(record["question"]), str(record["response_A"]),
                str(record["response_B"]), label, str(record["response_model"]))


def read_pairs(path: Path) -> list[Pair]:
    """A JudgeBench pair file (or output file: its pairs) as labelled pairs; a bad line is a DataError naming it."""
    pairs = [_pair(record, f"{path}:{lineno}") for lineno, record in _lines(path)]
    if not pairs:
        raise DataError(f"{path}: no JudgeBench pairs in the file")
    return pairs


def _judgment_list(value: Any, where: str) -> list[Any]:
    """The ``judgments`` field: a list, or the Python-literal text of one (JudgeBench writes ``str(list)`` in
    some files). Read with ast.literal_eval, which builds values and never runs code."""
    if isinstance(value, str):
        # literal_eval builds a syntax tree about 500 times the text's size: JudgeBench's own are under 40 KB.
        if len(value) > MAX_LITERAL:
            raise DataError(f"{where}: 'judgments' is {len(value):,} characters of Python literal (at most "
                            f"{MAX_LITERAL:,}): not a JudgeBench output; check that it is the right file")
        try:
            value = ast.literal_eval(value)
        except ValueError as exc:
            # "malformed node or string ... <ast.Call object at 0x...>": a call, a name or an operator.
            kind = str(exc).rsplit("<ast.", 1)[-1].split(" ", 1)[0] if "<ast." in str(exc) else "expression"
            raise DataError(f"{where}: 'judgments' holds a {kind}, not a literal: only lists, dicts, strings and "
                            "numbers are read (nothing is run); check that it is the right file") from None
        except (SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            reason = type(exc).__name__ if not str(exc) else str(exc).splitlines()[0][:80]
            raise DataError(f"{where}: 'judgments' is not a Python literal list ({reason}); is the line "
                            "complete?") from None
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: 'judgments' must be a non-empty list of {{'judgment': ..., 'decision': ...}}")
    return value


def _decision(entry: Any, where: str) -> tuple[str | None, str, str]:
    """(decision, judge model, raw reply) of one ``judgments`` entry, as the judge saw the order."""
    if not isinstance(entry, dict) or "decision" not in entry:
        raise DataError(f"{where}: each entry of 'judgments' needs a 'decision' (A>B, B>A, A=B or None)")
    decision = entry["decision"]
    if decision is not None and decision not in DECISIONS:
        raise DataError(f"{where}: decision must be A>B, B>A, A=B or None, not {str(decision)[:40]!r}")
    inner = entry.get("judgment")
    inner = inner if isinstance(inner, dict) else {}
    raw = inner.get("response")
    return decision, str(inner.get("judge_model") or ""), raw if isinstance(raw, str) else ""


def read_outputs(path: Path) -> JudgeOutputs:
    """A JudgeBench output file: its pairs and each order's decision in the pair's terms. The judge is named
    ``judge_name:judge_model`` (e.g. ``arena_hard:claude-3-haiku-20240307``)."""
    pairs: list[Pair] = []
    judgments: list[OrderJudgment] = []
    judges: set[str] = set()
    orders: set[int] = set()
    seen: dict[str, int] = {}
    for lineno, record in _lines(path):
        where = f"{path}:{lineno}"
        pair = _pair(record, where)
        if pair.pair_id in seen:  # counted twice, it would weigh twice in the accuracy
            raise DataError(f"{where}: pair {pair.pair_id!r} again (first at line {seen[pair.pair_id]}); keep one "
                            "judgment per pair in a file")
        seen[pair.pair_id] = lineno
        if "judgments" not in record:
            raise DataError(f"{where}: no 'judgments': a JudgeBench pair file, not a judge's output file; run a judge "
                            "on it first (or give its task to `judgebench run`)")
        entries = _judgment_list(record["judgments"], where)
        judge_name = str(record.get("judge_name") or "judge")
        counted = entries[:1] if judge_name in ONE_ORDER_JUDGES else entries[:2]
        decided = [_decision(entry, where) for entry in counted]
        judge = f"{judge_name}:{decided[0][1] or path.name.removesuffix('.gz')}"
        judges.add(judge)
        orders.add(len(decided))
        pairs.append(pair)
        for (decision, _, raw), position in zip(decided, _POSITIONS, strict=False):
            own = _FLIP[decision] if position == "BA" and decision is not None else decision
            judgments.append(OrderJudgment(pair.pair_id, judge, position, own, raw))
    if not pairs:
        raise DataError(f"{path}: no judgments in the file")
    if len(judges) > 1 or len(orders) > 1:
        raise DataError(f"{path}: one judge in one setting per file, found {', '.join(sorted(judges))} with "
                        f"{' and '.join(map(str, sorted(orders)))} order(s); split the file by judge")
    return JudgeOutputs(str(path), judges.pop(), orders.pop(), tuple(pairs), tuple(judgments))


def source_group(source: str) -> str:
    """JudgeBench's four groups of sources: Knowledge (mmlu-pro-*), Reasoning, Math and Coding."""
    if source.startswith("mmlu-pro"):
        return "Knowledge"
    return {"livebench-reasoning": "Reasoning", "livebench-math": "Math", "livecodebench": "Coding"}.get(source,
                                                                                                      source)


_OUTCOME = {"A>B": "win", "B>A": "loss", "A=B": "tie"}


def judgments(path: Path) -> list[Judgment]:
    """An output file as pairwise judgments, so every command reads it: the model is response_A ("A", of the
    pair's response model) against response_B, both orders from A's side; a reward model's one order has no
    ``verdict_ba``."""
    outputs = read_outputs(path)
    by_pair: dict[str, list[OrderJudgment]] = {}
    for judgment in outputs.judgments:
        by_pair.setdefault(judgment.pair_id, []).append(judgment)
    found = []
    for pair in outputs.pairs:
        orders = {j.position: j for j in by_pair.get(pair.pair_id, [])}
        ab, ba = orders.get("AB"), orders.get("BA")
        verdict_ab = _OUTCOME.get(ab.decision or "") if ab else None
        verdict_ba = _OUTCOME.get(ba.decision or "") if ba else None
        failed = verdict_ab is None or (outputs.orders == 2 and verdict_ba is None)
        if failed:
            preference = None
        elif verdict_ba is None:  # one order
            preference = {"win": 2.0, "tie": 1.5, "loss": 1.0}[str(verdict_ab)]
        else:
            preference = combine_orders(str(verdict_ab), verdict_ba)
        found.append(Judgment(
            id=JudgmentId(BENCHMARK, "", outputs.judge, f"{pair.response_model}/A", f"{pair.response_model}/B",
                          pair.pair_id, 1),
            kind="pairwise", category=source_group(pair.source),
            verdict=pair_or_none(PairVerdict(verdict_ab, verdict_ba, preference)),
            failure=Failure("parse", "the judge gave no decision") if failed else None,
            raw=tuple(j.raw for j in (ab, ba) if j is not None and j.raw),
            answer=AnswerTraits(length=len(pair.response_a)),
            opponent_answer=AnswerTraits(length=len(pair.response_b))))
    return found


def is_judgebench_file(first: dict[str, Any]) -> bool:
    """Whether a file's first record is a JudgeBench pair (with or without judgments)."""
    return "pair_id" in first and "label" in first and "response_A" in first


# As a task: each pair is an item (its question), response_A the reference answer (the task's ``reference``) and
# response_B the candidate's (``--answers`` the pair file), judged in both orders like any pairwise task.
def items(path: Path) -> list[Item]:
    """A pair file's questions as items: the pair's id, its source group as the category."""
    return [Item(id=p.pair_id, category=source_group(p.source), turns=(p.question,), source=f"{path}[{i}]")
            for i, p in enumerate(read_pairs(path))]


def side_model(pair: Pair, side: str) -> str:
    """How a run names one side's responses: ``<response model>/A`` or ``/B``."""
    return f"{pair.response_model}/{side}"


def judges_pairs(model: str, opponent: str | None) -> bool:
    """Whether a judgment of ``model`` against ``opponent`` is one of a JudgeBench pair's (``side_model``'s names):
    a run of a JudgeBench task, which its pair file labels. Either side may be the judged one."""
    return opponent is not None and model[-2:] in ("/A", "/B") and opponent == f"{model[:-2]}/{_OTHER[model[-1]]}"


_OTHER = {"A": "B", "B": "A"}


def side_answers(path: Path, side: str) -> tuple[str, dict[str, tuple[str, ...]]]:
    """(model, pair id -> answer) of one side ("A": response_a, "B": response_b) of a pair file."""
    pairs = read_pairs(path)
    models = {side_model(p, side) for p in pairs}
    if len(models) != 1:
        raise DataError(f"{path}: pairs by {len(models)} response models; give one model's pair file")
    return models.pop(), {p.pair_id: (p.response_a if side == "A" else p.response_b,) for p in pairs}


def pair_labels(pairs: Sequence[Pair]) -> pd.DataFrame:
    """JudgeBench's labelled pairs as pairwise labels (formats.labels' columns) on the models its files are read as
    (``<model>/A`` against ``<model>/B``): the objectively correct response wins."""
    import pandas as pd

    return pd.DataFrame({"item_id": [p.pair_id for p in pairs], "model_a": [side_model(p, "A") for p in pairs],
                         "model_b": [side_model(p, "B") for p in pairs],
                         "winner": [side_model(p, p.label[0]) for p in pairs]})


def objective_labels(path: Path) -> pd.DataFrame | None:
    """A JudgeBench pair or output file's objective labels (``pair_labels``), for `judges --labels` and `escalate
    --labels`; None for any other file."""
    if not path.is_file() or not path.name.removesuffix(".gz").endswith(".jsonl"):
        return None
    first = next(iter_jsonl(path), (0, {}))[1]
    return pair_labels(read_pairs(path)) if isinstance(first, dict) and is_judgebench_file(first) else None
