"""What rubric benchmark files (formats.healthbench, formats.wildbench) share: JSON Lines read one line at a time
with a bound on each line (memory stays bounded by the longest line allowed, not by the file), a conversation of
``{role, content}`` messages turned into an item's turns, and criteria checked with file:line errors.

A conversation is asked as the benchmark wrote it: its last message is the user's (the one the judged model
answers: the item's one turn), and every message before it (earlier user and assistant turns, a system message) is
the item's ``context``, sent to the judged model before that turn and shown to the rubric's judge
(``prior_turns: keep``, the default). A task's source may instead refuse such a line with its file:line
(``refuse``) or leave it out (``skip``: the single-turn part of the benchmark); never quietly changed into another
conversation.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..types import TAG_SEPARATOR, Criterion
from .common import json_error

# A HealthBench or WildBench line (a conversation and its criteria) is tens of KB; one past this is not such a
# file, and reading it would only spend memory.
MAX_LINE = 4 * 1024 * 1024  # bytes
MAX_CRITERION = 4000  # characters of one criterion's text: a criterion is a sentence or a short paragraph
PRIOR_KEEP, PRIOR_REFUSE, PRIOR_SKIP = "keep", "refuse", "skip"
PRIOR_TURNS = (PRIOR_KEEP, PRIOR_REFUSE, PRIOR_SKIP)  # the first is the default
ROLES = ("user", "assistant", "system")


Context = tuple[tuple[str, str], ...]


class PriorTurns(DataError):
    """A conversation with earlier assistant turns or a system message (see the module doc)."""


def stream_jsonl(path: Path, *, what: str, max_line: int = MAX_LINE) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for each non-empty line of a JSON Lines file (gzip when its name ends in .gz), read one
    line at a time; a line longer than ``max_line`` bytes, not UTF-8, not JSON or not an object is a DataError
    naming its file:line. ``what``: what a record is, for the messages."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            lineno = 0
            while True:
                line = fh.readline(max_line + 1)
                if not line:
                    return
                lineno += 1
                if len(line) > max_line and not line.endswith(b"\n"):
                    raise DataError(f"{path}:{lineno}: a line longer than {max_line:,} bytes: not {what}; check that "
                                    "it is the right file")
                yield lineno, _record(line, path, lineno, what)
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None


def _record(line: bytes, path: Path, lineno: int, what: str) -> dict[str, Any]:
    try:
        text = line.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}:{lineno}: not UTF-8 text (byte 0x{line[exc.start]:02x}); save the file as "
                        "UTF-8") from None
    if not text.strip():
        return {}
    try:
        record = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise json_error(exc, str(path), lineno) from None
    if not isinstance(record, dict):
        raise DataError(f"{path}:{lineno}: expected a JSON object per line ({what})")
    return record


def records(path: Path, *, what: str, max_line: int = MAX_LINE) -> Iterator[tuple[str, dict[str, Any]]]:
    """("file:line", record) for each record of a JSON Lines file, blank lines left out; of a Parquet file (its
    name ends in .parquet: WildBench's own release), ("file[row]", record) for each row."""
    if path.name.endswith(".parquet"):
        yield from _parquet_rows(path, what)
        return
    for lineno, record in stream_jsonl(path, what=what, max_line=max_line):
        if record:
            yield f"{path}:{lineno}", record


PARQUET_BATCH = 256  # rows decoded at a time: memory stays bounded by a batch (and the file's row group)


def _parquet_rows(path: Path, what: str) -> Iterator[tuple[str, dict[str, Any]]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow: pip install 'judgebench[parquet]' (or write the "
                        "file as JSON Lines)") from None
    import pyarrow as pa

    try:
        table = pq.ParquetFile(path)
        row = 0
        for batch in table.iter_batches(batch_size=PARQUET_BATCH):
            for record in batch.to_pylist():
                yield f"{path}[{row}]", record
                row += 1
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: cannot read it as Parquet ({str(exc)[:200]}); expected rows of {what}: check "
                        "that it is the right file") from None


def field(record: dict[str, Any], key: str, where: str, what: str) -> Any:
    if key not in record:
        raise DataError(f"{where}: {what} has no {key!r} field; is this the right file?")
    return record[key]


def text_field(record: dict[str, Any], key: str, where: str, what: str) -> str:
    value = field(record, key, where, what)
    if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
        raise DataError(f"{where}: {what}'s {key!r} must be a non-empty string, not {str(value)[:80]!r}")
    return str(value).strip()


def conversation(messages: Any, where: str, key: str, prior: str) -> tuple[Context, tuple[str, ...]] | None:
    """A conversation ``[{role, content}, ...]`` as an item's (context, turns): the messages before the last, and
    the last (the user's); None where it has earlier messages and ``prior`` is PRIOR_SKIP (see the module doc)."""
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{where}: {key!r} must be a non-empty list of messages {{role, content}}")
    roles = []
    for n, message in enumerate(messages, start=1):
        if not isinstance(message, dict) or message.get("role") not in ROLES or not isinstance(
                message.get("content"), str):
            raise DataError(f"{where}: message {n} of {key!r} must be {{role: user|assistant|system, content: text}},"
                            f" not {str(message)[:120]!r}")
        roles.append(message["role"])
    if roles[-1] != "user":
        article = "an" if roles[-1][0] in "aeiou" else "a"
        raise DataError(f"{where}: the conversation in {key!r} ends with {article} {roles[-1]} message; the last "
                        "message must be the user's (the one the judged model answers)")
    last = (messages[-1]["content"],)
    if len(messages) == 1 or prior == PRIOR_KEEP:
        return tuple((m["role"], m["content"]) for m in messages[:-1]), last
    if prior == PRIOR_SKIP:
        return None
    raise PriorTurns(f"{where}: the conversation has {len(messages) - 1} earlier message(s) ({', '.join(roles[:-1])}) "
                     "and the task's source says prior_turns: refuse; use prior_turns: keep to ask it as written "
                     "(the judged model answers its last message) or skip to leave such lines out")


def number(value: Any, where: str, what: str) -> float:
    """A finite, nonzero number of points; anything else (a string, true, NaN, 0) a DataError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value == 0:
        raise DataError(f"{where}: {what}'s points must be a finite nonzero number (negative for what an answer "
                        f"must not do), not {str(value)[:80]!r}")
    return float(value)


def criterion(text: Any, points: float, tags: Any, where: str, what: str) -> Criterion:
    """One criterion of an item read from a file (its id is given by position when the task is loaded)."""
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{where}: {what} needs its text (a non-empty string), not {str(text)[:80]!r}")
    if len(text) > MAX_CRITERION:
        raise DataError(f"{where}: {what}'s text is {len(text):,} characters (at most {MAX_CRITERION:,}): not a "
                        "criterion; check that it is the right file")
    if not isinstance(tags, list) or not all(isinstance(t, str) and t.strip() for t in tags):
        raise DataError(f"{where}: {what}'s tags must be a list of names, not {str(tags)[:80]!r}")
    if any(TAG_SEPARATOR in t for t in tags):
        raise DataError(f"{where}: {what}'s tag {next(t for t in tags if TAG_SEPARATOR in t)[:60]!r} holds a comma, "
                        "which separates tags in the results' tables: fix the file (a tag is one name)")
    return Criterion(id="", text=" ".join(text.split()), points=points,
                     tags=tuple(dict.fromkeys(t.strip() for t in tags)), source=where, scope="item")
