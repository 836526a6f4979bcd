"""Judgments and human votes as a preference dataset: one (prompt, chosen, rejected) pair per decisive pairwise
verdict, in the layout TRL's preference trainers (DPOTrainer, RewardTrainer) read, so evaluation work feeds
training.

Where the texts come from: formats.texts, whole (never cut as a page cuts them). A judgebench run keeps the
answers in answers.jsonl and the questions in the task file its config.json names (a pairwise run's opponent is
the task's reference answers); AlpacaEval annotations carry the instruction and both outputs; FastChat judgments
read question.jsonl and model_answer/ beside model_judgment/; a human arena's database keeps each battle as shown.
Arena-Hard's and JudgeBench's output files keep no answers: exporting them is an error that says what to give.

Which judgments become pairs (the rest are counted, by reason, never exported silently):
- pairwise and battles judgments with a value: a failed, pending or excluded judgment has none;
- decisive ones: a tie, or two orders that disagree (which the combined preference counts as a tie), is left out;
- neither answer empty (judgebench never shows an empty answer to its judge: its verdict is a rule's, not a judge's).

``margin``, in [0, 1], says how strongly the judge preferred the chosen answer: 2 |preference - 1.5|, AlpacaEval's
preference being the probability that the candidate is better, plus one (both orders agreeing, or a binary
verdict, give 1; a weighted judge's probability p gives |2p - 1|), times the five-level verdicts' mean strength
(both orders "much better": 1; both "better": 0.5).

Single grades pair only when asked (``Filters.pair_grades``): two models graded by the same judge on the same item
and turn, the higher grade chosen, margin the grade difference over the scale's width.

Multi-turn items (MT-Bench's two turns): the pair is the judged turn's answers; the prompt holds the earlier
turns, the user's questions with the *chosen* model's earlier answers (the conversation the chosen answer
continues; the rejected answer followed its own model's earlier answers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError, DataError
from ..formats import detect_format, judgment_files, read_texts
from ..formats.texts import JudgmentText, TextKey
from ..types import NOT_FAILED
from .agreement import pairwise_labels
from .records import read_judgments

# The columns of every exported row, in order: TRL's three, then what the pair is of.
COLUMNS = ("prompt", "chosen", "rejected", "margin", "source", "item_id", "chosen_model", "rejected_model",
           "benchmark", "category", "turn", "orders")

# What to give, by the input's format, when its judgments come without their texts.
TEXTS_HINT: Mapping[str, str] = {
    "judgebench": "the run needs its answers.jsonl and the task file its config.json names, unchanged since the run "
                  "(the questions and a pairwise task's reference answers come from it)",
    "fastchat": "keep FastChat's question.jsonl and model_answer/<model>.jsonl beside model_judgment/",
    "alpaca-eval": "give annotations that keep instruction, output_1 and output_2 (AlpacaEval's annotations.json)",
}
NO_TEXTS = ("its files keep no answer texts: give a judgebench run of the same comparisons, AlpacaEval "
            "annotations, FastChat judgments with their answers, or an arena database")

Located = tuple[JudgmentText, Path]  # a judgment's texts and the input they were read from


@dataclass(frozen=True)
class PreferencePair:
    """One decisive verdict as a preference pair. prompt: the conversation before the judged answer, starting and
    ending with the user's message (user, assistant, user, ...). source: the judge's name ("human" for arena votes).
    orders: how many orders the verdict rests on (2: both; 1: one order, or a human's vote; 0: two single grades)."""

    prompt: tuple[str, ...]
    chosen: str
    rejected: str
    margin: float
    source: str
    item_id: str
    chosen_model: str
    rejected_model: str
    benchmark: str
    category: str
    turn: int
    orders: int

    def row(self, text: bool = False, implicit: bool = False) -> dict[str, Any]:
        """The pair in TRL's layout: conversational (lists of role/content messages) or, with ``text``, standard
        (strings; single-turn pairs only, since a string has no turns). ``implicit``: TRL's implicit prompt (no
        prompt column: chosen and rejected are each the whole conversation, as the RewardTrainer of TRL 0.12 to
        0.15 requires); conversational only, since two strings would need a chat template to join."""
        if text:
            if len(self.prompt) != 1 or implicit:
                raise ConfigError(f"item {self.item_id} turn {self.turn}: the string format holds single-turn pairs "
                                  "with an explicit prompt only; export with Filters(text=True), which leaves later "
                                  "turns out, and without the implicit prompt")
            texts: dict[str, Any] = {"prompt": self.prompt[0], "chosen": self.chosen, "rejected": self.rejected}
        else:
            prompt = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(self.prompt)]
            chosen = [{"role": "assistant", "content": self.chosen}]
            rejected = [{"role": "assistant", "content": self.rejected}]
            texts = ({"chosen": prompt + chosen, "rejected": prompt + rejected} if implicit
                     else {"prompt": prompt, "chosen": chosen, "rejected": rejected})
        return {**texts, "margin": self.margin, "source": self.source, "item_id": self.item_id,
                "chosen_model": self.chosen_model, "rejected_model": self.rejected_model, "benchmark": self.benchmark,
                "category": self.category, "turn": self.turn, "orders": self.orders}


@dataclass(frozen=True)
class Filters:
    """Which decisive verdicts to keep. both_orders_agree: only those asked in both orders, both giving the same
    winner (a human's vote or a one-order annotation has one order; a harness that averages the orders makes a win
    and a tie a weak win). min_margin: only those at least this strong. confirmed: only
    those a human label agrees with (``confirmations`` of the labels; None: no such filter). text: the string
    format, which holds single-turn pairs only. pair_grades: pair single grades too (``_grade_comparisons``)."""

    both_orders_agree: bool = False
    min_margin: float = 0.0
    confirmed: Mapping[tuple[str, str, str, str, int], str] | None = None
    text: bool = False
    pair_grades: bool = False


@dataclass(frozen=True)
class PreferenceExport:
    """The pairs, in the judgments' canonical order, and the judgments left out, by reason."""

    pairs: tuple[PreferencePair, ...]
    left_out: tuple[tuple[str, int], ...]
    n_judgments: int

    def rows(self, text: bool = False, implicit: bool = False) -> list[dict[str, Any]]:
        """Every pair in TRL's layout (``PreferencePair.row``)."""
        return [pair.row(text, implicit) for pair in self.pairs]

    def describe_left_out(self) -> str:
        """One line: what was left out and why (judgments, or pairs of grades, as each reason says)."""
        if not self.left_out:
            return f"of {self.n_judgments} judgments, left out none"
        reasons = ", ".join(f"{n} {reason}" for reason, n in self.left_out)
        return f"of {self.n_judgments} judgments, left out: {reasons}"


def margin_of(preference: float, margin_ab: float | None, margin_ba: float | None) -> float:
    """How strongly a decisive verdict prefers its winner, in [0, 1] (see the module doc)."""
    strength = 2 * abs(preference - 1.5)
    levels = [m for m in (margin_ab, margin_ba) if m is not None and not pd.isna(m)]
    return strength * (sum(levels) / len(levels) / 2 if levels else 1.0)


def confirmations(labels: pd.DataFrame, where: str = "the labels") -> dict[tuple[str, str, str, str, int], str]:
    """Pairwise labels (formats.labels) -> the winner most of them name on each (benchmark, item, pair of models in
    name order, turn), where one outcome has more labels than every other ("tie" included); the benchmark is ""
    where the labels name none, and matches any. ``where``: the labels' file, for the error that they are not
    pairwise."""
    if not {"item_id", "model_a", "model_b", "winner"} <= set(labels.columns):
        raise DataError(f"{where}: --human-confirmed needs pairwise labels: columns item_id, model_a, model_b, "
                        f"winner (or a human arena's database); found {', '.join(map(str, labels.columns))}")
    named = pairwise_labels(labels)
    benchmarks = labels["benchmark"].fillna("").astype(str) if "benchmark" in labels.columns else [""] * len(named)
    votes: dict[tuple[str, str, str, str, int], Counter[str]] = {}
    for benchmark, item, a, b, turn, winner in zip(benchmarks, named["item_id"], named["model_a"], named["model_b"],
                                                   named["turn"], named["winner"], strict=True):
        first, second = sorted((a, b))
        votes.setdefault((benchmark, item, first, second, int(turn)), Counter())[winner] += 1
    found = {}
    for key, counts in votes.items():
        (top, n), *rest = counts.most_common()
        if top != "tie" and (not rest or rest[0][1] < n):
            found[key] = top
    return found


def _confirmed(confirmed: Mapping[tuple[str, str, str, str, int], str], benchmark: str, item: str, winner: str,
               loser: str, turn: int) -> bool:
    first, second = sorted((winner, loser))
    said = confirmed.get((benchmark, item, first, second, turn), confirmed.get(("", item, first, second, turn)))
    return said == winner


@dataclass(frozen=True)
class _Decided:
    """A decisive comparison before its texts are looked up. sides: where the winner's and the loser's turns are,
    each as (the judgment's TextKey, whether they are its opponent's answer)."""

    benchmark: str
    judge: str
    item_id: str
    category: str
    turn: int
    winner: str
    loser: str
    margin: float
    orders: int
    sides: tuple[tuple[TextKey, bool], tuple[TextKey, bool]]


def _no_value(failure: Any) -> str:
    # Waiting in a provider batch, or left out on purpose (a vote on a battle that gave a model away): no value, yet
    # not failed.
    return str(failure) if failure in NOT_FAILED else "failed"


def _verdict(row: Any, filters: Filters) -> _Decided | str:
    """A pairwise judgment as a decisive comparison, or why it is not one (or not wanted)."""
    if pd.isna(row.preference) or isinstance(row.error, str):
        return _no_value(row.failure)
    if row.empty:
        return "with an empty answer"
    orders = [v for v in (row.verdict_ab, row.verdict_ba) if isinstance(v, str)]
    if row.preference == 1.5:
        return "orders disagreeing" if len(set(orders)) > 1 else "ties"
    if filters.both_orders_agree and len(orders) < 2:
        return "asked in one order only"
    if filters.both_orders_agree and orders[0] != orders[1]:
        return "with one order a tie"  # a harness that averages the orders (AlpacaEval's way) counts it half
    won = row.preference > 1.5
    key = (str(row.benchmark), str(row.judge), str(row.model), str(row.opponent), str(row.item_id), int(row.turn))
    return _Decided(str(row.benchmark), str(row.judge), str(row.item_id), str(row.category or ""), int(row.turn),
                    str(row.model if won else row.opponent), str(row.opponent if won else row.model),
                    margin_of(row.preference, row.margin_ab, row.margin_ba), max(len(orders), 1),
                    ((key, not won), (key, won)))


def _wanted(decided: _Decided, filters: Filters) -> str | None:
    """Why a decisive comparison is left out by the filters (None: it is kept)."""
    if decided.margin < filters.min_margin:
        return f"below margin {filters.min_margin:g}"
    if filters.confirmed is not None and not _confirmed(filters.confirmed, decided.benchmark, decided.item_id,
                                                        decided.winner, decided.loser, decided.turn):
        return "without a human label that agrees"
    if filters.text and decided.turn > 1:
        return "later turns (the string format has none: export without --text)"
    return None


def _lacking(path: Path | None, n: int, inputs: Sequence[Path]) -> DataError:
    if path is None:
        where = ", ".join(map(str, inputs))
        return DataError(f"{where}: {n} judgment(s) without their question and answer texts; {NO_TEXTS}")
    fmt = detect_format(path)
    hint = TEXTS_HINT.get(fmt, NO_TEXTS)
    return DataError(f"{path}: {n} judgment(s) without their question and answer texts ({fmt}); {hint}")


def _side(texts: Mapping[TextKey, Located], side: tuple[TextKey, bool],
          turn: int) -> tuple[JudgmentText | None, tuple[str, ...], Path | None]:
    """One side's text record, its answer's turns (empty when they are missing) and the input they came from."""
    found = texts.get(side[0])
    if found is None:
        return None, (), None
    text, path = found
    turns = text.opponent_answer if side[1] else text.answer
    return (text, turns, path) if len(text.question) >= turn and len(turns) >= turn else (None, (), path)


def _pair(decided: _Decided, texts: Mapping[TextKey, Located]) -> PreferencePair | Path | None:
    """The comparison with its texts, or (where they are missing) the input that lacks them (None: unknown)."""
    turn = decided.turn
    text, mine, path = _side(texts, decided.sides[0], turn)
    _, theirs, other = _side(texts, decided.sides[1], turn)
    if text is None or not theirs:
        return path if text is None else other
    prompt: list[str] = []
    for k in range(turn - 1):
        prompt += [text.question[k], mine[k]]
    prompt.append(text.question[turn - 1])
    return PreferencePair(tuple(prompt), mine[turn - 1], theirs[turn - 1], decided.margin, decided.judge,
                          decided.item_id, decided.winner, decided.loser, decided.benchmark, decided.category, turn,
                          decided.orders)


def preference_pairs(frame: pd.DataFrame, texts: Mapping[TextKey, Located], filters: Filters,
                     inputs: Sequence[Path] = ()) -> PreferenceExport:
    """The judgments frame's decisive pairwise verdicts as pairs, with their texts (by TextKey, each with the input
    it came from); a kept judgment without its texts is an error naming its input and what to give."""
    left: Counter[str] = Counter()
    single = frame["opponent"].isna().to_numpy()
    decided: list[_Decided | str] = [_verdict(row, filters) for row in frame[~single].itertuples(index=False)]
    if filters.pair_grades:
        found, grade_left = _grade_comparisons(frame[single], filters)
        decided += found
        left.update(grade_left)
    else:
        left["single grades (pair them with --pair-grades)"] += int(single.sum())
    pairs = []
    lacking: Counter[Path | None] = Counter()
    for one in decided:
        reason = one if isinstance(one, str) else _wanted(one, filters)
        if reason is not None:
            left[reason] += 1
            continue
        assert isinstance(one, _Decided)
        pair = _pair(one, texts)
        if isinstance(pair, PreferencePair):
            pairs.append(pair)
        else:
            lacking[pair] += 1
    if lacking:
        path, n = lacking.most_common(1)[0]
        raise _lacking(path, n, inputs)
    counts = sorted(((reason, n) for reason, n in left.items() if n), key=lambda kv: (-kv[1], kv[0]))
    return PreferenceExport(tuple(pairs), tuple(counts), len(frame))


def _grade_comparisons(grades: pd.DataFrame, filters: Filters) -> tuple[list[_Decided | str], Counter[str]]:
    """Single grades as comparisons: every two models graded by the same judge on the same item and turn (under
    the same protocol), the higher grade chosen; margin: the grade difference over the scale's width. A model
    graded more than once there counts with its mean grade. Returns the comparisons (or why each pair is left out)
    and the grades left out before pairing, by reason."""
    left: Counter[str] = Counter()
    bad = (grades["score"].isna() | grades["error"].notna()).to_numpy()
    for failure in grades.loc[bad, "failure"]:
        left[_no_value(failure)] += 1
    empty = grades["empty"].astype(bool).to_numpy() & ~bad
    left["with an empty answer"] += int(empty.sum())
    found: list[_Decided | str] = []
    ok = grades[~bad & ~empty]
    for (benchmark, _, judge, item, turn), group in ok.groupby(["benchmark", "protocol", "judge", "item_id", "turn"],
                                                            sort=True, dropna=False):
        means = group.groupby("model", sort=True)["score"].mean()
        if len(means) < 2:
            left["single grades with no other model's grade"] += len(group)
            continue
        width = float(group["scale_high"].max() - group["scale_low"].min())
        category = str(group["category"].iloc[0] or "")
        for first, second in combinations(means.index, 2):
            found.append(_grade_pair(str(benchmark), str(judge), str(item), int(turn), category,
                                     (str(first), float(means[first])), (str(second), float(means[second])), width,
                                     filters))
    return found, left


def _grade_pair(benchmark: str, judge: str, item: str, turn: int, category: str, first: tuple[str, float],
                second: tuple[str, float], width: float, filters: Filters) -> _Decided | str:
    if first[1] == second[1]:
        return "pairs of equal grades"
    if filters.both_orders_agree:
        return "pairs of grades (no orders)"
    if not width > 0:  # NaN too
        return "pairs of grades without a scale"
    (winner, high), (loser, low) = sorted((first, second), key=lambda side: -side[1])
    keys = [(benchmark, judge, model, "", item, turn) for model in (winner, loser)]
    return _Decided(benchmark, judge, item, category, turn, winner, loser, min((high - low) / width, 1.0), 0,
                    ((keys[0], False), (keys[1], False)))


def read_pair_texts(inputs: Sequence[Path], fmt: str = "auto") -> dict[TextKey, Located]:
    """Every input's texts, whole, by judgment; a later input's text of the same judgment replaces an earlier
    one's, as its verdict does. A folder of judgment files (FastChat's model_judgment/) is read file by file."""
    found: dict[TextKey, Located] = {}
    for path in inputs:
        for file in judgment_files(path) or [path]:
            for text in read_texts(file, detect_format(file) if fmt == "auto" else fmt, limit=None):
                found[text.key] = (text, file)
    return found


def export_preferences(inputs: Sequence[Path], fmt: str = "auto", filters: Filters = Filters()) -> PreferenceExport:
    """The inputs' judgments (read as every command reads them: one record per judgment) as preference pairs."""
    frame = read_judgments(inputs, fmt).frame
    return preference_pairs(frame, read_pair_texts(inputs, fmt), filters, inputs)
