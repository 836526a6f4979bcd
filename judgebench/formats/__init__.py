"""Every harness's files -> the same records: one module per harness (ours, FastChat, AlpacaEval, Arena-Hard, the
arena's database), each reading its answers and its judgments with the identities of formats.identity, found
through a registry (formats.registry).

``read_sources`` gives an input's judgments as ``Judgment`` objects; ``read_parsed`` gives them column by column
(formats.table) through the parse cache (formats.parse_cache), which is how every command reads results."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..constants import FORMATS
from ..errors import DataError
from ..judging.answers import split_reasoning
from ..types import Candidate, Item, Task
from .parse_cache import ParseCache
from .registry import answers_format, detect, format_named, parsed, per_file, resolve
from .sources import ParsedSource, Source, judgment_files
from .texts import MAX_CHARS, JudgmentText


def detect_format(path: Path) -> str:
    """The name of the format ``path`` is in (formats.registry tries each in turn)."""
    return detect(path).name


def read_sources(path: Path, fmt: str = "auto", questions: Path | None = None) -> list[Source]:
    """The judgments in a judgebench run directory, a results directory of runs (one Source per run, oldest
    first), or another harness's file. ``questions``: a FastChat question.jsonl giving the categories of FastChat
    judgment files kept apart from it."""
    files = judgment_files(path)
    if files:
        return [s for file in files for s in read_sources(file, per_file(fmt), questions)]
    return resolve(path, fmt).sources(path, questions)


def read_parsed(path: Path, fmt: str = "auto", questions: Path | None = None,
                cache: ParseCache | None = None) -> list[ParsedSource]:
    """``read_sources`` through the parse cache (formats.parse_cache; ``cache`` defaults to the one the
    environment names): an input whose bytes were parsed before is not parsed again. The columns give the same
    frame as ``judgments_frame`` of ``read_sources``' judgments, cached or not."""
    cache = ParseCache.from_env() if cache is None else cache
    files = judgment_files(path)
    if files:
        return [s for file in files for s in read_parsed(file, per_file(fmt), questions, cache)]
    return parsed(resolve(path, fmt), path, questions, cache)


def read_texts(path: Path, fmt: str, limit: int | None = MAX_CHARS) -> list[JudgmentText]:
    """The texts of one input (``fmt``: its format, as detect_format tells), each cut at ``limit`` characters
    (None: whole, as an export of them needs)."""
    return format_named(fmt).texts(path, limit)


def detect_answers_format(path: Path) -> str:
    """"fastchat" for JSONL with question_id/choices, "alpaca-eval" for a JSON list with instruction."""
    return answers_format(path).name


def answered(path: Path, items: Sequence[Item], by_model_id: bool = False) -> tuple[str, dict[str, tuple[str, ...]]]:
    """The model an answers file holds, and its answers (every turn it has) to those of ``items`` it answers."""
    reader = answers_format(path).answers
    assert reader is not None
    return reader.read(path, items, by_model_id)


def read_answers(path: Path, task: Task, items: list[Item]) -> list[Candidate]:
    """Existing answers (FastChat model_answer JSONL or AlpacaEval model_outputs.json) matched to the items.

    An item without an answer (or with fewer turns than it asks) is an error listing them, before any request.
    Answers to other questions are left aside: a task may ask a subset of a benchmark's questions (sample-battles
    asks five of MT-Bench's 80, and battles FastChat's model_answer files of all 80)."""
    from ..judging.kinds import kind_of

    model, found = answered(path, items, kind_of(task.kind).answers_named_by_model_id)
    missing = [i.id for i in items if i.id not in found]
    short = [i.id for i in items if i.id in found and len(found[i.id]) < len(i.turns)]
    problems = []
    if missing:
        problems.append(f"no answer for {len(missing)} item(s): {', '.join(missing[:10])}"
                        + (" ..." if len(missing) > 10 else ""))
    if short:
        problems.append(f"fewer turns than the questions for item(s) {', '.join(short[:10])}")
    if problems:
        raise DataError(f"{path}: answers do not match task {task.name!r}: " + "; ".join(problems))
    candidates = []
    verbatim = kind_of(task.kind).verbatim_answers
    for item in items:
        split = [(answer, "") if verbatim else split_reasoning(answer) for answer in found[item.id][: len(item.turns)]]
        thoughts = tuple(thought for _, thought in split)
        candidates.append(Candidate(task.benchmark, item.id, model, tuple(answer for answer, _ in split),
                                    reasoning=thoughts if any(thoughts) else ()))
    return candidates


__all__ = ["FORMATS", "ParsedSource", "Source", "answered", "detect_answers_format", "detect_format",
           "judgment_files", "read_answers", "read_parsed", "read_sources", "read_texts"]
