"""Every harness's files -> the same records: one module per harness (ours, FastChat, AlpacaEval, Arena-Hard),
each reading its answers and its judgments with the identities of formats.identity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from ..judging.answers import split_reasoning
from ..types import Candidate, Item, Judgment, Task
from . import alpaca_eval, arena_hard, fastchat
from . import judgebench as ours
from .common import iter_jsonl

FORMATS = ("judgebench", "alpaca-eval", "fastchat", "arena-hard")


@dataclass(frozen=True)
class Source:
    """The judgments of one input, in the order they were written. ``label`` names it in messages (a run
    directory or a file); ``created`` orders judgebench runs in time (other harnesses' files carry no time, so
    they keep the order they were given in)."""

    label: str
    judgments: tuple[Judgment, ...]
    created: str | None = None
    run_id: str | None = None


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "judgebench"
    name = path.name.removesuffix(".gz")
    if name.endswith(".json"):
        return "alpaca-eval"
    first = next(iter_jsonl(path), (0, {}))[1]
    # Arena-Hard's pairwise games, or arena-bench's single grades: FastChat's shape without FastChat's judge and
    # turn fields.
    if "games" in first or ("judgment" in first and "judge" not in first and "turn" not in first):
        return "arena-hard"
    if "g1_judgment" in first or "judgment" in first:
        return "fastchat"
    raise DataError(f"{path}: cannot tell the format; pass --format ({', '.join(FORMATS)})")


def read_sources(path: Path, fmt: str = "auto", questions: Path | None = None) -> list[Source]:
    """The judgments in a judgebench run directory, a results directory of runs (one Source per run, oldest
    first), or another harness's file. ``questions``: a FastChat question.jsonl giving the categories of FastChat
    judgment files kept apart from it."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "judgebench":
        runs = ours.run_dirs(path)
        if not runs:
            raise DataError(f"{path}: no judgebench run here (no {ours.CONFIG})")
        sources = []
        for run_dir in runs:
            config, _, judgments = ours.load_run(run_dir)
            sources.append(Source(str(run_dir), tuple(judgments), config.get("created"), run_dir.name))
        return sources
    if fmt == "alpaca-eval":
        judgments = alpaca_eval.read_annotations(path)
    elif fmt == "arena-hard":
        judgments = arena_hard.judgments(path)
    elif fmt == "fastchat":
        categories = {i.id: i.category for i in fastchat.questions(questions)} if questions else None
        judgments = fastchat.judgments(path, categories)
    else:
        raise DataError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return [Source(str(path), tuple(judgments))]


def detect_answers_format(path: Path) -> str:
    """"fastchat" for JSONL with question_id/choices, "alpaca-eval" for a JSON list with instruction."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        return "fastchat"
    if name.endswith(".json"):
        return "alpaca-eval"
    raise DataError(f"{path}: cannot tell the answers' format; use .jsonl (FastChat) or .json (AlpacaEval)")


def read_answers(path: Path, task: Task, items: list[Item]) -> list[Candidate]:
    """Existing answers (FastChat model_answer JSONL or AlpacaEval model_outputs.json) matched to the items.

    Answers and items that do not match are an error listing the differences, before any request."""
    fmt = detect_answers_format(path)
    if fmt == "fastchat":
        model = fastchat.model_id(path) or path.stem
        found = fastchat.answers(path)
    else:
        generator, by_instruction = alpaca_eval.answers_by_instruction(path)
        model = generator or path.stem
        found = {item.id: (by_instruction[item.turns[0]],) for item in items if item.turns[0] in by_instruction}
    ids = {item.id for item in items}
    missing = [i.id for i in items if i.id not in found]
    short = [i.id for i in items if i.id in found and len(found[i.id]) < len(i.turns)]
    problems = []
    if missing:
        problems.append(f"no answer for {len(missing)} item(s): {', '.join(missing[:10])}"
                        + (" ..." if len(missing) > 10 else ""))
    if short:
        problems.append(f"fewer turns than the questions for item(s) {', '.join(short[:10])}")
    if fmt == "fastchat":
        extra = sorted(set(found) - ids)
        if extra and len(items) == len(task.items):
            problems.append(f"answers for unknown item(s): {', '.join(extra[:10])}")
    if problems:
        raise DataError(f"{path}: answers do not match task {task.name!r}: " + "; ".join(problems))
    candidates = []
    for item in items:
        split = [split_reasoning(answer) for answer in found[item.id][: len(item.turns)]]
        thoughts = tuple(thought for _, thought in split)
        candidates.append(Candidate(task.benchmark, item.id, model, tuple(answer for answer, _ in split),
                                    reasoning=thoughts if any(thoughts) else ()))
    return candidates


__all__ = ["FORMATS", "Source", "detect_format", "read_answers", "read_sources"]
