"""FastChat's llm_judge files (MT-Bench): questions, model and reference answers, single and pairwise judgments.

Item ids are FastChat's ``question_id``; our own MT-Bench runs use the same ids, so both line up.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from ..judging.verdicts import candidate_outcome, combine_orders, parse_pair, parse_score
from ..types import Failure, Grade, Item, Judgment, JudgmentId, PairVerdict, pair_or_none
from .common import iter_jsonl
from .identity import MT_BENCH

# FastChat grades MT-Bench on 1-10 and leaves no other trace of the scale in its files.
FASTCHAT_SCALE = (1, 10)


def questions(path: Path) -> list[Item]:
    """``question.jsonl``: question_id, category, turns (and an optional inline reference)."""
    items = []
    for lineno, rec in iter_jsonl(path):
        try:
            items.append(Item(
                id=str(rec["question_id"]),
                category=str(rec.get("category", "general")),
                turns=tuple(str(t) for t in rec["turns"]),
                reference=tuple(str(t) for t in rec.get("reference", ()) or ()),
                source=f"{path}:{lineno}",
            ))
        except KeyError as exc:
            raise DataError(f"{path}:{lineno}: missing field {exc.args[0]!r}") from exc
    return items


def answers(path: Path) -> dict[str, tuple[str, ...]]:
    """``model_answer/*.jsonl`` or ``reference_answer/*.jsonl``: question_id -> turns."""
    found: dict[str, tuple[str, ...]] = {}
    for lineno, rec in iter_jsonl(path):
        try:
            turns = rec["choices"][0]["turns"]
            found[str(rec["question_id"])] = tuple(str(t) for t in turns)
        except (KeyError, IndexError, TypeError) as exc:
            raise DataError(f"{path}:{lineno}: expected question_id and choices[0].turns") from exc
    return found


def model_id(path: Path) -> str | None:
    for _, rec in iter_jsonl(path):
        model = rec.get("model_id")
        return str(model) if model else None
    return None


def answers_model(path: Path, by_model_id: bool = False) -> str:
    """The model a FastChat answers file holds. In FastChat's layout (``model_answer/NAME.jsonl``) it is NAME, as
    FastChat's judgment files name it (the ``model_id`` inside can be an older name: vicuna-13b-v1.3.jsonl says
    vicuna-13b-hao-0515); elsewhere, or ``by_model_id`` (arena-hard-auto's judgment files name a model so:
    Mistral-7B-Instruct-v0.1.jsonl holds mistralai/Mistral-7B-Instruct-v0.1), the ``model_id`` of its first record,
    else the file's name."""
    stem = path.name.removesuffix(".gz").removesuffix(".jsonl")
    if path.parent.name == "model_answer" and not by_model_id:
        return stem
    return model_id(path) or stem


def question_categories(path: Path) -> dict[str, str]:
    """FastChat keeps question.jsonl a level or two above model_judgment/."""
    for parent in list(path.parents)[:3]:
        candidate = parent / "question.jsonl"
        if candidate.exists():
            return {i.id: i.category for i in questions(candidate)}
    return {}


def _judge_name(row: dict[str, object], default: str = "unknown") -> str:
    judge = row.get("judge") or default
    return str(judge[0] if isinstance(judge, list) and judge else judge)


# The protocols FastChat's judgment files were made by: our mt-bench-fastchat task reproduces the single grading.
SINGLE_PROTOCOL, PAIR_PROTOCOL = "mt-bench-fastchat", "mt-bench-fastchat-pair"


def single_judgments(path: Path, categories: dict[str, str] | None = None, benchmark: str = MT_BENCH,
                     default_judge: str = "unknown", loose: bool = True,
                     protocol: str = SINGLE_PROTOCOL) -> list[Judgment]:
    """``model_judgment/*_single.jsonl``: the grade is parsed again from the judge's text (the file's own
    ``score`` is -1 where FastChat could not parse it). ``default_judge``: for rows that do not name one;
    ``loose``: FastChat's fallback "[8]" pattern counts too (verdicts.parse_score)."""
    categories = categories if categories is not None else question_categories(path)
    judgments = []
    for lineno, row in iter_jsonl(path):
        try:
            verdict = parse_score(str(row["judgment"]), *FASTCHAT_SCALE, loose=loose)
            qid = str(row["question_id"])
            judgments.append(Judgment(
                JudgmentId(benchmark, protocol, _judge_name(row, default_judge), str(row["model"]), None, qid,
                           int(row.get("turn", 1))),
                "single", categories.get(qid, str(row.get("category", "unknown"))),
                None if verdict.score is None else Grade(verdict.score),
                Failure("parse", verdict.error) if verdict.error else None, FASTCHAT_SCALE,
                raw=(str(row["judgment"]),),
            ))
        except KeyError as exc:
            raise DataError(f"{path}:{lineno}: not a FastChat single judgment (missing {exc})") from exc
    return judgments


def pair_judgments(path: Path, categories: dict[str, str] | None = None) -> list[Judgment]:
    """``model_judgment/*_pair.jsonl``: g1 shows model_1 first, g2 swaps. Recorded from model_1's side,
    model_2 as the opponent."""
    categories = categories if categories is not None else question_categories(path)
    judgments = []
    labels = ("A", "B", "C")
    for lineno, row in iter_jsonl(path):
        try:
            g1 = parse_pair(str(row["g1_judgment"]), labels)
            g2 = parse_pair(str(row["g2_judgment"]), labels)
            ab = candidate_outcome(g1.winner, candidate_first=True) if g1.winner else None
            ba = candidate_outcome(g2.winner, candidate_first=False) if g2.winner else None
            qid = str(row["question_id"])
            errors = [e for e in (g1.error, g2.error) if e]
            judgments.append(Judgment(
                JudgmentId(MT_BENCH, PAIR_PROTOCOL, _judge_name(row), str(row["model_1"]), str(row["model_2"]), qid,
                           int(row.get("turn", 1))),
                "pairwise", categories.get(qid, "unknown"),
                pair_or_none(PairVerdict(ab, ba, combine_orders(ab, ba) if ab and ba else None)),
                Failure("parse", "; ".join(errors)) if errors else None,
                raw=(str(row["g1_judgment"]), str(row["g2_judgment"])),
            ))
        except KeyError as exc:
            raise DataError(f"{path}:{lineno}: not a FastChat pairwise judgment (missing {exc})") from exc
    return judgments


def judgments(path: Path, categories: dict[str, str] | None = None) -> list[Judgment]:
    """Single or pairwise judgments, whichever the file holds."""
    first = next(iter_jsonl(path), (0, {}))[1]
    return pair_judgments(path, categories) if "g1_judgment" in first else single_judgments(path, categories)
