"""The harness formats judgebench reads, one frozen ``Format`` each: how a path is recognised, how its judgments,
its texts and (for answer files) its answers are read. A new harness is a new entry here, never a new branch in
the readers (formats.read_sources, read_parsed, read_texts, read_answers ask this registry).

Detection tries the formats in ``FORMATS``' order: the first whose ``detect`` says yes reads the path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from ..constants import FORMATS as FORMAT_NAMES
from ..errors import DataError, closest
from ..types import Item
from . import alpaca_eval, arena_db, arena_hard, fastchat, scalerlab
from . import judgebench as ours
from . import texts as text_readers
from .common import content, iter_jsonl, read_bytes
from .parse_cache import ParseCache
from .sources import ParsedSource, Source, parsed_run, put_unless_changed, run_dirs, run_sources
from .table import Columns, judgment_columns
from .texts import JudgmentText

Answers = dict[str, tuple[str, ...]]  # item id -> the answer's turns


@dataclass(frozen=True)
class Probe:
    """A path being recognised; its first JSONL record is read once, by the first format that asks."""

    path: Path

    @cached_property
    def first(self) -> dict[str, Any]:
        return next(iter_jsonl(self.path), (0, {}))[1]

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".gz")


@dataclass(frozen=True)
class Parse:
    """How a file is parsed through the parse cache: ``context`` is what it parses to besides its bytes (part of
    the key); ``also``: other files it reads (their bytes are part of the key too); ``exact``: ``parse`` reads the
    very bytes the key was made of, so its result is stored without checking the file again."""

    parse: Callable[[bytes], Columns]
    context: str = ""
    also: tuple[tuple[Path, bytes], ...] = ()
    exact: bool = False


@dataclass(frozen=True)
class AnswerFormat:
    """How a harness's answer files are read. suffix: their name's ending (before any .gz). read(path, items,
    by_model_id): the model they hold and its answers to those of ``items`` it answers. detect: for a suffix that
    another harness shares, whether a file of that name is this harness's (asked before any suffix matches)."""

    suffix: str
    title: str
    read: Callable[[Path, Sequence[Item], bool], tuple[str, Answers]]
    detect: Callable[[Probe], bool] | None = None


@dataclass(frozen=True)
class Format:
    """One harness's files. detect: whether a path is in this format (asked in ``FORMATS``' order). sources: its
    judgments (a run directory gives one Source per run). parse: how one file goes through the parse cache (None:
    ``parsed`` reads it another way). texts: what the judge read and wrote, each text cut at the limit given
    (None: whole). reads_folders: it reads a directory itself (a folder of other harnesses' judgment files is read
    file by file instead)."""

    name: str
    detect: Callable[[Probe], bool]
    sources: Callable[[Path, Path | None], list[Source]]
    parse: Callable[[Path, bytes, Path | None], Parse] | None = None
    parsed: Callable[[Path, ParseCache], list[ParsedSource]] | None = None
    texts: Callable[[Path, int | None], list[JudgmentText]] = lambda _path, _limit: []
    answers: AnswerFormat | None = None
    reads_folders: bool = False


def _single(read: Callable[[Path], Sequence[Any]]) -> Callable[[Path, Path | None], list[Source]]:
    return lambda path, _questions: [Source(str(path), tuple(read(path)))]


def _categories(path: Path, questions: Path | None) -> dict[str, str]:
    """A FastChat judgment file's categories: from the question file given, else the one found beside it."""
    found = fastchat.questions(questions) if questions else None
    return {i.id: i.category for i in found} if found is not None else fastchat.question_categories(path)


def _fastchat_sources(path: Path, questions: Path | None) -> list[Source]:
    categories = {i.id: i.category for i in fastchat.questions(questions)} if questions else None
    return [Source(str(path), tuple(fastchat.judgments(path, categories)))]


def _fastchat_parse(path: Path, data: bytes, questions: Path | None) -> Parse:
    categories = _categories(path, questions)
    return Parse(lambda _data: judgment_columns(fastchat.judgments(path, categories)),
                 json.dumps(sorted(categories.items())))


def _alpaca_parse(path: Path, data: bytes, questions: Path | None) -> Parse:
    model = alpaca_eval.folder_model(path)
    return Parse(lambda data: alpaca_eval.annotation_columns(content(path, data), str(path), model),
                 json.dumps(["results folder", model]), exact=True)


def _arena_hard_parse(path: Path, data: bytes, questions: Path | None) -> Parse:
    config = arena_hard.judge_config(path)
    parse = Parse(lambda _data: judgment_columns(arena_hard.judgments(path, config)))
    if config is None:
        return parse
    return Parse(parse.parse, json.dumps(["judge config", str(config.path)]), ((config.path, config.data),))


def _arena_hard_detect(probe: Probe) -> bool:
    # Beside an arena-hard-auto config, every file is Arena-Hard's, whatever its rows look like (one arena-bench-v1
    # file carries FastChat's turn field). Else Arena-Hard's pairwise games, or arena-bench's single grades:
    # FastChat's shape without FastChat's judge and turn fields.
    if arena_hard.judge_config(probe.path) is not None:
        return True
    first = probe.first
    return "games" in first or ("judgment" in first and "judge" not in first and "turn" not in first)


def _fastchat_answers(path: Path, items: Sequence[Item], by_model_id: bool) -> tuple[str, Answers]:
    model = fastchat.answers_model(path, by_model_id=by_model_id)
    found = fastchat.answers(path)
    return model, {item.id: found[item.id] for item in items if item.id in found}


def _alpaca_answers(path: Path, items: Sequence[Item], by_model_id: bool) -> tuple[str, Answers]:
    generator, by_instruction = alpaca_eval.answers_by_instruction(path)
    model = alpaca_eval.folder_model(path) or generator or path.stem
    return model, {item.id: (by_instruction[item.turns[0]],) for item in items if item.turns[0] in by_instruction}


def _scalerlab_answers(path: Path, items: Sequence[Item], by_model_id: bool) -> tuple[str, Answers]:
    model, found = scalerlab.side_answers(path, "B")  # response_A is the task's reference
    return model, {item.id: found[item.id] for item in items if item.id in found}


def _run_texts(path: Path, limit: int | None) -> list[JudgmentText]:
    return [text for run_dir in ours.run_dirs(path) for text in text_readers.run_texts(run_dir, limit)]


def _arena_parsed(path: Path, cache: ParseCache) -> list[ParsedSource]:
    # Not through the parse cache: a live database's votes sit partly in its WAL file, so the main file's bytes do
    # not say what it holds. Reading it is one query.
    return [ParsedSource(str(path), judgment_columns(arena_db.judgments(path)))]


JUDGEBENCH = Format("judgebench", lambda probe: probe.path.is_dir(), lambda path, _q: run_sources(path),
                    parsed=lambda path, cache: [parsed_run(run_dir, cache) for run_dir in run_dirs(path)],
                    texts=_run_texts, reads_folders=True)
# The human arena's database: any SQLite file is read as one, or refused.
ARENA = Format("arena", lambda probe: arena_db.is_sqlite(probe.path), _single(arena_db.judgments),
               parsed=_arena_parsed, texts=text_readers.arena_texts)
ALPACA_EVAL = Format("alpaca-eval", lambda probe: probe.name.endswith(".json"), _single(alpaca_eval.read_annotations),
                     parse=_alpaca_parse, texts=text_readers.annotation_texts,
                     answers=AnswerFormat(".json", "AlpacaEval", _alpaca_answers))
# Arena-Hard's judgment files keep no answers: the page shows the item ids.
ARENA_HARD = Format("arena-hard", _arena_hard_detect, _single(arena_hard.judgments), parse=_arena_hard_parse)
# JudgeBench's (ScalerLab's) judge output files: labelled pairs, each judged in one or two orders.
SCALERLAB = Format(scalerlab.FORMAT, lambda probe: scalerlab.is_judgebench_file(probe.first),
                   _single(scalerlab.judgments),
                   parse=lambda path, _data, _q: Parse(lambda _d: judgment_columns(scalerlab.judgments(path))),
                   answers=AnswerFormat(".jsonl", "JudgeBench pairs (response_B)", _scalerlab_answers,
                                        detect=lambda probe: scalerlab.is_judgebench_file(probe.first)))
FASTCHAT = Format("fastchat", lambda probe: "g1_judgment" in probe.first or "judgment" in probe.first,
                  _fastchat_sources, parse=_fastchat_parse, texts=text_readers.fastchat_texts,
                  answers=AnswerFormat(".jsonl", "FastChat", _fastchat_answers))

# In the order detection tries them.
FORMATS: Mapping[str, Format] = {f.name: f for f in (JUDGEBENCH, ARENA, ALPACA_EVAL, SCALERLAB, ARENA_HARD,
                                                          FASTCHAT)}
# The formats of answer files (each with ``answers``), as messages list them.
ANSWER_FORMATS: tuple[Format, ...] = (FASTCHAT, ALPACA_EVAL, SCALERLAB)


def format_named(name: str) -> Format:
    """The format called ``name``; a DataError that suggests the closest known name otherwise."""
    found = FORMATS.get(name)
    if found is not None:
        return found
    close = closest(name, FORMATS)
    hint = f" (did you mean {close!r}?)" if close else ""
    raise DataError(f"unknown format {name!r}; one of {', '.join(FORMAT_NAMES)}{hint}")


def detect(path: Path) -> Format:
    """The format of ``path``: the first that recognises it."""
    probe = Probe(path)
    for fmt in FORMATS.values():
        if fmt.detect(probe):
            return fmt
    raise DataError(f"{path}: cannot tell the format; pass --format ({', '.join(FORMAT_NAMES)})")


def resolve(path: Path, fmt: str) -> Format:
    """``fmt`` (a format's name, or "auto": detect it from ``path``)."""
    return detect(path) if fmt == "auto" else format_named(fmt)


def per_file(fmt: str) -> str:
    """The format to read each file of a folder of judgment files in: a format that reads folders cannot read the
    files, so they are detected one by one."""
    found = FORMATS.get(fmt)
    return "auto" if found is not None and found.reads_folders else fmt


def parsed(fmt: Format, path: Path, questions: Path | None, cache: ParseCache) -> list[ParsedSource]:
    """One input's ParsedSources in format ``fmt``, through the parse cache."""
    if fmt.parsed is not None:
        return fmt.parsed(path, cache)
    assert fmt.parse is not None, f"format {fmt.name} says neither how to parse a file nor how to read one"
    data = read_bytes(path)
    how = fmt.parse(path, data, questions)
    stored = [(path, data), *how.also]
    key = cache.key(fmt.name, [stored_data for _, stored_data in stored], how.context)
    cached = cache.get(key)
    if cached is not None:
        return [ParsedSource(str(path), cached, parsed=False)]
    columns = how.parse(data)
    if how.exact:
        cache.put(key, columns)
    else:
        put_unless_changed(cache, key, columns, stored)
    return [ParsedSource(str(path), columns, parsed=True)]


def _detects(answers: AnswerFormat, probe: Probe) -> bool:
    # A file that cannot be read is not told apart here: the reader of its suffix says what is wrong with it.
    assert answers.detect is not None
    try:
        return answers.detect(probe)
    except DataError:
        return False


def answers_format(path: Path) -> Format:
    """The harness an answers file is in, by its name's ending."""
    name = path.name.removesuffix(".gz")
    probe = Probe(path)
    for fmt in ANSWER_FORMATS:
        assert fmt.answers is not None
        if fmt.answers.detect is not None and name.endswith(fmt.answers.suffix) and _detects(fmt.answers, probe):
            return fmt
    for fmt in ANSWER_FORMATS:
        assert fmt.answers is not None
        if fmt.answers.detect is None and name.endswith(fmt.answers.suffix):
            return fmt
    ways = " or ".join(f"{f.answers.suffix} ({f.answers.title})" for f in ANSWER_FORMATS
                       if f.answers and f.answers.detect is None)
    raise DataError(f"{path}: cannot tell the answers' format; use {ways}")


__all__ = ["ANSWER_FORMATS", "FORMATS", "AnswerFormat", "Format", "Parse", "Probe", "answers_format", "detect",
           "format_named", "parsed", "per_file", "resolve"]
