"""Every harness's files -> the same records: one module per harness (ours, FastChat, AlpacaEval, Arena-Hard),
each reading its answers and its judgments with the identities of formats.identity.

``read_sources`` gives an input's judgments as ``Judgment`` objects; ``read_parsed`` gives them column by column
(formats.table) through the parse cache (formats.parse_cache), which is how every command reads results."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..constants import FORMATS
from ..errors import DataError
from ..judging.answers import split_reasoning
from ..types import Candidate, Item, Judgment, Task
from . import alpaca_eval, arena_db, arena_hard, fastchat
from . import judgebench as ours
from .common import content, iter_jsonl, read_bytes
from .parse_cache import ParseCache
from .table import Columns, columns_frame, judgment_columns


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
    if arena_db.is_sqlite(path):  # the human arena's database (any SQLite file is read as one, or refused)
        return "arena"
    name = path.name.removesuffix(".gz")
    if name.endswith(".json"):
        return "alpaca-eval"
    if arena_hard.judge_config(path) is not None:
        # Beside an arena-hard-auto config, every file is Arena-Hard's, whatever its rows look like (one
        # arena-bench-v1 file carries FastChat's turn field).
        return "arena-hard"
    first = next(iter_jsonl(path), (0, {}))[1]
    # Arena-Hard's pairwise games, or arena-bench's single grades: FastChat's shape without FastChat's judge and
    # turn fields.
    if "games" in first or ("judgment" in first and "judge" not in first and "turn" not in first):
        return "arena-hard"
    if "g1_judgment" in first or "judgment" in first:
        return "fastchat"
    raise DataError(f"{path}: cannot tell the format; pass --format ({', '.join(FORMATS)})")


# What a folder of other harnesses' judgment files holds (a model_judgment/ folder): read file by file.
_JUDGMENT_SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".json.gz")


def judgment_files(path: Path) -> list[Path]:
    """The judgment files directly in a folder that is not a judgebench run or results directory (FastChat's or
    Arena-Hard's model_judgment/), in name order; [] for anything else."""
    if not path.is_dir() or ours.run_dirs(path):
        return []
    return sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(_JUDGMENT_SUFFIXES))


def read_sources(path: Path, fmt: str = "auto", questions: Path | None = None) -> list[Source]:
    """The judgments in a judgebench run directory, a results directory of runs (one Source per run, oldest
    first), or another harness's file. ``questions``: a FastChat question.jsonl giving the categories of FastChat
    judgment files kept apart from it."""
    files = judgment_files(path)
    if files:
        return [s for file in files for s in read_sources(file, "auto" if fmt == "judgebench" else fmt, questions)]
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "judgebench":
        runs = ours.run_dirs(path)
        if not runs:
            raise DataError(f"{path}: no judgebench run here (no {ours.CONFIG}) and no judgment files")
        sources = []
        for run_dir in runs:
            config, _, judgments = ours.load_run(run_dir)
            sources.append(Source(str(run_dir), tuple(judgments), config.get("created"), run_dir.name))
        return sources
    if fmt == "alpaca-eval":
        judgments = alpaca_eval.read_annotations(path)
    elif fmt == "arena-hard":
        judgments = arena_hard.judgments(path)
    elif fmt == "arena":
        judgments = arena_db.judgments(path)
    elif fmt == "fastchat":
        categories = {i.id: i.category for i in fastchat.questions(questions)} if questions else None
        judgments = fastchat.judgments(path, categories)
    else:
        raise DataError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return [Source(str(path), tuple(judgments))]


@dataclass(frozen=True, eq=False)
class ParsedSource:
    """A Source's judgments column by column (formats.table), as every command reads them: ``frame()`` is its
    judgments frame, ``table.sources_frame`` puts several in one. ``parsed``: the input was parsed this time
    (False: its judgments came from the parse cache)."""

    label: str
    columns: Columns = field(repr=False)
    created: str | None = None
    run_id: str | None = None
    parsed: bool = True

    def frame(self) -> pd.DataFrame:
        return columns_frame(self.columns, self.run_id)


def read_parsed(path: Path, fmt: str = "auto", questions: Path | None = None,
                cache: ParseCache | None = None) -> list[ParsedSource]:
    """``read_sources`` through the parse cache (formats.parse_cache; ``cache`` defaults to the one the
    environment names): an input whose bytes were parsed before is not parsed again. The columns give the same
    frame as ``judgments_frame`` of ``read_sources``' judgments, cached or not."""
    cache = ParseCache.from_env() if cache is None else cache
    files = judgment_files(path)
    if files:
        return [s for file in files
                for s in read_parsed(file, "auto" if fmt == "judgebench" else fmt, questions, cache)]
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "judgebench":
        runs = ours.run_dirs(path)
        if not runs:
            raise DataError(f"{path}: no judgebench run here (no {ours.CONFIG}) and no judgment files")
        return [_parsed_run(run_dir, cache) for run_dir in runs]
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "arena":
        # Not through the parse cache: a live database's votes sit partly in its WAL file, so the main file's
        # bytes do not say what it holds. Reading it is one query.
        return [ParsedSource(str(path), judgment_columns(arena_db.judgments(path)))]
    data = read_bytes(path)
    # What else a file parses to, beside its bytes (so part of the key): a FastChat file's categories (given, or
    # found beside it), an AlpacaEval file's model (its results folder), an Arena-Hard file's judge config.
    categories: dict[str, str] | None = None
    context = ""
    stored = [(path, data)]
    config = arena_hard.judge_config(path) if fmt == "arena-hard" else None
    if fmt == "fastchat":
        found = fastchat.questions(questions) if questions else None
        categories = {i.id: i.category for i in found} if found is not None else fastchat.question_categories(path)
        context = json.dumps(sorted(categories.items()))
    elif fmt == "alpaca-eval":
        context = json.dumps(["results folder", alpaca_eval.folder_model(path)])
    elif config is not None:
        context = json.dumps(["judge config", str(config.path)])
        stored.append((config.path, config.data))
    key = cache.key(fmt, [stored_data for _, stored_data in stored], context)
    columns = cache.get(key)
    parsed = columns is None
    if columns is None:
        if fmt == "alpaca-eval":  # parsed from the very bytes the key was made of
            columns = alpaca_eval.annotation_columns(content(path, data), str(path), alpaca_eval.folder_model(path))
            cache.put(key, columns)
        else:
            columns = judgment_columns(arena_hard.judgments(path, config) if fmt == "arena-hard"
                                       else fastchat.judgments(path, categories))
            _put_unless_changed(cache, key, columns, stored)
    return [ParsedSource(str(path), columns, parsed=parsed)]


def _parsed_run(run_dir: Path, cache: ParseCache) -> ParsedSource:
    config = ours.read_config(run_dir)  # checked every time; its creation time orders the runs
    # A run parses if its answers and judgments do; its run_id is its directory's name, not content.
    files = [run_dir / ours.ANSWERS, run_dir / ours.JUDGMENTS]
    stored = [(file, read_bytes(file) if file.exists() else b"") for file in files]
    key = cache.key("judgebench", [data for _, data in stored])
    columns = cache.get(key)
    parsed = columns is None
    if columns is None:
        columns = judgment_columns(ours.load_run(run_dir)[2])
        _put_unless_changed(cache, key, columns, stored)
    return ParsedSource(str(run_dir), columns, config.get("created"), run_dir.name, parsed)


def _put_unless_changed(cache: ParseCache, key: str, columns: Columns,
                        stored: list[tuple[Path, bytes]]) -> None:
    """Store what a reader parsed from the files themselves, unless a file changed while it read (a run still
    writing): the value would not be the one of the bytes in the key."""
    try:
        unchanged = all((read_bytes(file) if file.exists() else b"") == data for file, data in stored)
    except DataError:
        return
    if unchanged:
        cache.put(key, columns)


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

    An item without an answer (or with fewer turns than it asks) is an error listing them, before any request.
    Answers to other questions are left aside: a task may ask a subset of a benchmark's questions (sample-battles
    asks five of MT-Bench's 80, and battles FastChat's model_answer files of all 80)."""
    from ..judging.kinds import kind_of

    fmt = detect_answers_format(path)
    if fmt == "fastchat":
        model = fastchat.answers_model(path, by_model_id=kind_of(task.kind).answers_named_by_model_id)
        found = fastchat.answers(path)
    else:
        generator, by_instruction = alpaca_eval.answers_by_instruction(path)
        model = alpaca_eval.folder_model(path) or generator or path.stem
        found = {item.id: (by_instruction[item.turns[0]],) for item in items if item.turns[0] in by_instruction}
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


__all__ = ["FORMATS", "ParsedSource", "Source", "detect_format", "judgment_files", "read_answers", "read_parsed",
           "read_sources"]
