"""judgebench's own results on disk: results/<run-id>/ with config.json, answers.jsonl, judgments.jsonl, summary.json.

JSONL files are append-only: every record reaches the operating system as it is written (a killed process
loses nothing), and fsyncs are grouped, at most one a second and one at the end (a power cut loses at most the
last second, whose replies the request cache still holds); JSON files are written atomically (temp file +
rename). A run directory is created exclusively: an existing run is never overwritten. A torn last line
(a run killed mid-write) is skipped on reading.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import time
from dataclasses import fields, is_dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from ..credentials import redact, redactor
from ..errors import DataError, ResultsError, os_fault
from ..types import TAG_SEPARATOR, Candidate, Grade, Judgment, PairVerdict, RubricVerdict, call_record
from .common import decode
from .identity import canonical_benchmark
from .table import CRITERION_FIELDS, PAIR_FIELDS, PROBABILITY_FIELDS, criteria_records, flat_judgment, verdict_fields

CONFIG, ANSWERS, JUDGMENTS, SUMMARY = "config.json", "answers.jsonl", "judgments.jsonl", "summary.json"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "run"


# What a results write that fails on the machine's account (a full disk, a read-only folder) tells the user to do.
CHOOSE = "choose another --out"


def _written(path: Path, exc: OSError) -> Exception:
    """The one-line error for a failed write of ``path``: the machine's fault said as such, anything else as it is."""
    return os_fault(exc, path, CHOOSE) or exc


def new_run_dir(out: Path, label: str, run_id: str | None = None) -> Path:
    """Create a fresh run directory. A given ``run_id`` that exists is an error, never overwritten."""
    try:
        return _new_run_dir(out, label, run_id)
    except ResultsError:
        raise
    except OSError as exc:
        raise _written(out, exc) from None


def start_run_dir(out: Path, label: str, run_id: str | None, config: dict[str, Any]) -> Path:
    """A fresh run directory (``new_run_dir``) holding the run's configuration; none is left behind when the
    configuration cannot be written (a full disk)."""
    path = new_run_dir(out, label, run_id)
    try:
        write_json_atomic(path / CONFIG, config)
    except BaseException:
        with contextlib.suppress(OSError):
            path.rmdir()
        raise
    return path


def _new_run_dir(out: Path, label: str, run_id: str | None) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    if run_id is not None:
        path = out / _slug(run_id)
        try:
            path.mkdir()
        except FileExistsError as exc:
            raise ResultsError(f"{path} already exists; results are never overwritten: "
                               "choose another --run-id") from exc
        return path
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = f"{stamp}-{_slug(label)}"
    for n in range(1000):
        path = out / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise ResultsError(f"cannot create a new run directory under {out}")


def _file_mode() -> int:
    """The mode a plain new file gets under this process's umask (a temporary file would get 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def write_json_atomic(path: Path, value: Any) -> None:
    """Write ``value`` as JSON to ``path`` whole or not at all: a failed write (a full disk) leaves the file that
    was there, and no temporary file."""
    text = redact(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)) + "\n"
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as tmp:
            tmp_name = tmp.name
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, _file_mode())  # the same permissions as the run's JSONL files
        os.replace(tmp.name, path)
    except OSError as exc:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        raise _written(path, exc) from None


class JsonlWriter:
    """Append-only JSONL. Records are handed to the operating system in groups: when ``batch`` lines wait, or when
    ``write_every_s`` has passed since the last write (so a slow run's records still appear as they come), and on
    ``flush`` and ``close``; one write and flush per record cost more than the record. fsyncs are grouped too (one
    per ``sync_every_s`` at most, and one on close). ``batch`` 1: each record is written through at once."""

    def __init__(self, path: Path, sync_every_s: float = 1.0, *, batch: int = 1, write_every_s: float = 1.0) -> None:
        self.path = path
        try:
            self._fh = path.open("a", encoding="utf-8")
        except OSError as exc:
            raise _written(path, exc) from None
        self._sync_every_s = sync_every_s
        self._last_sync = time.monotonic()
        self._batch = max(1, batch)
        self._write_every_s = write_every_s
        self._last_write = self._last_sync
        self._lines: list[str] = []

    def append(self, record: Any) -> None:
        """Write one record: a dict, or a dataclass (written as its fields)."""
        self._lines.append(dumps_line(record))
        if len(self._lines) >= self._batch or time.monotonic() - self._last_write >= self._write_every_s:
            self.flush()

    def _text(self, lines: list[str]) -> str:
        # A server can echo a key into a reply or an error message: nothing written keeps it. Each line is redacted
        # on its own (a secret's trailing newline never joins two lines), the secrets worked out once per batch.
        clean = redactor()
        return "".join([clean(line) + "\n" for line in lines])

    def flush(self) -> None:
        """Hand the waiting records to the operating system (and fsync, at most once per ``sync_every_s``)."""
        lines, self._lines = self._lines, []
        try:
            if lines:
                self._fh.write(self._text(lines))
                self._fh.flush()
            now = time.monotonic()
            self._last_write = now
            if lines and now - self._last_sync >= self._sync_every_s:
                os.fsync(self._fh.fileno())
                self._last_sync = now
        except OSError as exc:
            raise _written(self.path, exc) from None

    def close(self) -> None:
        if self._fh.closed:
            return
        try:
            if self._lines:
                lines, self._lines = self._lines, []
                self._fh.write(self._text(lines))
            self._fh.flush()
            os.fsync(self._fh.fileno())
        except OSError as exc:
            raise _written(self.path, exc) from None
        finally:
            # Closed whatever happened: a second close (the run's cleanup after this error) has nothing to do. The
            # buffer that could not be written is dropped, not written again by the file object's own close.
            with contextlib.suppress(OSError):
                self._fh.close()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL file; a torn *last* line is skipped, a bad line elsewhere is an error."""
    return [record for _, record in read_jsonl_lines(path)]


def read_jsonl_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) of a JSONL file; a torn *last* line is skipped, a bad line elsewhere is an error."""
    if not path.exists():
        return []
    try:
        # Not str.splitlines: a model's answer may hold U+2028, U+0085 or a form feed, which are no line ends in JSONL.
        lines = decode(path.read_bytes(), str(path)).split("\n")
    except DataError as exc:
        raise ResultsError(str(exc)) from None
    records = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if n == len(lines):
                break  # torn by an interrupted write
            raise ResultsError(f"{path}:{n}: corrupt record: {exc.msg}") from exc
        except RecursionError:
            raise ResultsError(f"{path}:{n}: corrupt record: JSON nested too deeply to read; judgebench never "
                               "writes one: restore the file or remove the record") from None
        if not isinstance(record, dict):
            raise ResultsError(f"{path}:{n}: corrupt record: expected a JSON object")
        records.append((n, record))
    return records


def dumps_line(record: Any) -> str:
    """One JSON line, keys sorted. orjson writes dataclasses and tuples itself, several times faster than
    ``json``; text orjson refuses (a lone surrogate a server sent) is written escaped instead of failing the run."""
    try:
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(plain(record), ensure_ascii=True, sort_keys=True)


def plain(value: Any) -> Any:
    """A dataclass as JSON-ready dicts and lists, as ``dataclasses.asdict`` gives, without its deep copies."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    return value


def candidate_record(candidate: Candidate) -> dict[str, Any]:
    # The fields as they are (orjson writes the nested call records), with the sampling parameters as a mapping.
    return {**candidate.__dict__, "params": dict(candidate.params)}


NO_PAIR = PairVerdict()  # a verdict's pair fields where it is not a pair (frozen: one for every record)


def judgment_record(j: Judgment) -> dict[str, Any]:
    """A judgment as its JSONL record: the flat fields (``JUDGMENT_FIELDS``) every version of judgebench writes."""
    score, expected = (j.verdict.score, j.verdict.expected_score) if isinstance(j.verdict, Grade) else (None, None)
    if isinstance(j.verdict, RubricVerdict):
        score = j.verdict.score
    pair = j.verdict if isinstance(j.verdict, PairVerdict) else NO_PAIR
    mine, theirs = j.answer, j.opponent_answer
    return {
        "benchmark": j.id.benchmark, "item_id": j.id.item_id, "category": j.category, "model": j.id.model,
        "judge": j.id.judge, "turn": j.id.turn, "kind": j.kind, "score": score, "opponent": j.id.opponent,
        "verdict_ab": pair.ab, "verdict_ba": pair.ba, "preference": pair.preference, "raw": j.raw,
        "error": j.failure.message or None if j.failure else None, "failure": j.failure.cause if j.failure else None,
        "calls": j.calls,
        "length": mine.length, "opponent_length": theirs.length,
        "expected_score": expected, "scale": j.scale, "empty": j.empty, "margin_ab": pair.margin_ab,
        "margin_ba": pair.margin_ba, "headers": mine.headers, "lists": mine.lists, "bold": mine.bold,
        "opponent_headers": theirs.headers, "opponent_lists": theirs.lists, "opponent_bold": theirs.bold,
        "protocol": j.id.protocol, "tokens": mine.tokens, "opponent_tokens": theirs.tokens,
        # Written only for a judge that asks K times: every other record stays as it always was.
        **({"repeats": [verdict_fields(v) for v in j.repeats]} if j.repeats else {}),
        # Likewise only for a judge with ,logprobs whose verdict tokens carried them.
        **({"verdict_probability": pair.probability, "verdict_margin": pair.logprob_margin}
           if pair.probability is not None else {}),
        # Written only for a rubric judgment: each criterion's verdict.
        **({"criteria": criteria_records(j.verdict)} if isinstance(j.verdict, RubricVerdict) else {}),
    }


# The keys of a judgment's JSONL record, as ``judgment_record`` writes them.
JUDGMENT_FIELDS = ("benchmark", "item_id", "category", "model", "judge", "turn", "kind", "score", "opponent",
                   "verdict_ab", "verdict_ba", "preference", "raw", "error", "failure", "calls", "length",
                   "opponent_length", "expected_score", "scale", "empty", "margin_ab", "margin_ba", "headers", "lists",
                   "bold", "opponent_headers", "opponent_lists", "opponent_bold", "protocol", "tokens",
                   "opponent_tokens")
# The key a repeated judge's record adds (``,repeats=K``: each ask's verdict); other records never hold it.
REPEAT_FIELDS = ("repeats",)
# The key a rubric judgment's record adds (each criterion's verdict); other records never hold it.
RUBRIC_FIELDS = ("criteria",)
# The keys a record adds where the judge's verdict carried log-probabilities (``,logprobs``); others never hold them.
OPTIONAL_FIELDS = (*REPEAT_FIELDS, *RUBRIC_FIELDS, *PROBABILITY_FIELDS)


def _upgrade(fields: dict[str, Any]) -> dict[str, Any]:
    """Records written before judgments carried a benchmark name carried the task's name instead."""
    if "task" in fields:
        fields["benchmark"] = canonical_benchmark(str(fields.pop("task")))
    return fields


_TEXT_FIELDS = ("benchmark", "item_id", "category", "model", "judge", "kind")
_NUMBER_FIELDS = ("score", "preference", "length", "opponent_length", "expected_score", "margin_ab", "margin_ba",
                  "headers", "lists", "bold", "opponent_headers", "opponent_lists", "opponent_bold", "tokens",
                  "opponent_tokens", *PROBABILITY_FIELDS)


def _check_judgment(fields: dict[str, Any]) -> None:
    """A record must be a judgment before it can enter a score: say what is wrong, or raise nothing."""
    from ..judging.kinds import KINDS

    unknown = sorted(set(fields) - {*JUDGMENT_FIELDS, *OPTIONAL_FIELDS})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    missing = [f for f in (*_TEXT_FIELDS, "turn") if f not in fields]
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    for name in _TEXT_FIELDS:
        if not isinstance(fields[name], str):
            raise ValueError(f"{name} must be text, not {fields[name]!r}")
    if fields["kind"] not in KINDS:
        raise ValueError(f"unknown kind {fields['kind']!r} (known: {', '.join(KINDS)})")
    if isinstance(fields["turn"], bool) or not isinstance(fields["turn"], int) or fields["turn"] < 1:
        raise ValueError(f"turn must be a positive integer, not {fields['turn']!r}")
    for name in _NUMBER_FIELDS:
        value = fields.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ValueError(f"{name} must be a number or null, not {value!r}")
    if fields.get("score") is not None and any(fields.get(f) is not None for f in PAIR_FIELDS):
        raise ValueError("a judgment has a score or a pair verdict, not both")
    if fields.get("score") is None and fields.get("expected_score") is not None:
        raise ValueError("an expected_score without a score")
    score = fields.get("score")
    if KINDS[fields["kind"]].has_criteria and score is not None and not 0 <= score <= 1:
        raise ValueError(f"a rubric score lies in [0, 1] (the points met over those available, clipped), not {score!r}")
    if KINDS[fields["kind"]].has_criteria and (score is None) == (fields.get("failure") is None):
        raise ValueError("a rubric judgment has a score or a failure, exactly one of them (score "
                         f"{score!r}, failure {fields.get('failure')!r})")
    _check_repeats(fields.get("repeats"))
    _check_criteria(fields.get("criteria"))
    if fields.get("criteria") is not None and any(fields.get(f) is not None for f in PAIR_FIELDS):
        raise ValueError("a judgment has criteria or a pair verdict, not both")


def _check_repeats(repeats: Any) -> None:
    """A repeated judge's asks: a list of verdicts (each a record's verdict fields) or nulls."""
    if repeats is None:
        return
    if not isinstance(repeats, list):
        raise ValueError(f"repeats must be a list of each ask's verdict, not {str(repeats)[:40]!r}")
    allowed = {"score", "expected_score", *PAIR_FIELDS, *RUBRIC_FIELDS}
    for ask in repeats:
        if ask is not None and (not isinstance(ask, dict) or set(ask) - allowed):
            raise ValueError(f"repeats holds an ask that is not a verdict ({', '.join(sorted(allowed))}): "
                             f"{str(ask)[:60]!r}")
        for name, value in (ask or {}).items():
            if name == "criteria":
                _check_criteria(value, "repeats: criteria")
            elif name in ("verdict_ab", "verdict_ba"):
                if value not in (None, "win", "tie", "loss"):
                    raise ValueError(f"repeats: {name} must be win, tie, loss or null, not {str(value)[:40]!r}")
            elif value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"repeats: {name} must be a number or null, not {str(value)[:40]!r}")


def _check_criteria(criteria: Any, where: str = "criteria") -> None:
    """A rubric judgment's criteria: a list of criterion verdicts (id, met, points, tags, text, scope, level)."""
    if criteria is None:
        return
    if not isinstance(criteria, list) or not criteria:
        raise ValueError(f"{where} must be a list of criterion verdicts, not {str(criteria)[:40]!r}")
    seen: set[Any] = set()
    for c in criteria:
        if not isinstance(c, dict) or set(c) - set(CRITERION_FIELDS) or "id" not in c or "points" not in c:
            raise ValueError(f"{where} holds an entry that is not a criterion verdict ({', '.join(CRITERION_FIELDS)}): "
                             f"{str(c)[:60]!r}")
        # ``isinstance``, not ``in (True, False)``: 1 == True, and a 1 in a verdict column breaks every table.
        if not isinstance(c["id"], str) or not c["id"] or (c.get("met") is not None and not isinstance(c["met"], bool)):
            raise ValueError(f"{where}: id must be nonempty text and met true, false or null: {str(c)[:60]!r}")
        if c["id"] in seen:
            raise ValueError(f"{where}: criterion {c['id'][:40]!r} is given twice (ids are distinct)")
        seen.add(c["id"])
        if isinstance(c["points"], bool) or not isinstance(c["points"], (int, float)) or c["points"] == 0 \
                or not math.isfinite(c["points"]):
            raise ValueError(f"{where}: points must be a finite nonzero number: {str(c)[:60]!r}")
        level = c.get("level")
        if level is not None and (isinstance(level, bool) or not isinstance(level, (int, float))
                                  or not math.isfinite(level) or level < 1):
            raise ValueError(f"{where}: level must be a number from 1 up (a repeated judge's mean) or null: "
                             f"{str(c)[:60]!r}")
        if level is not None and c.get("met") is not None:
            raise ValueError(f"{where}: a criterion with a yes/no verdict (met) has no level; only a score rubric's "
                             f"does: {str(c)[:60]!r}")
        tags = c.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ValueError(f"{where}: tags must be a list of names: {str(c)[:60]!r}")
        if any(TAG_SEPARATOR in t for t in tags):
            raise ValueError(f"{where}: a tag cannot hold a comma (it separates tags in tables): {str(c)[:60]!r}")


def judgment_from_record(record: dict[str, Any]) -> Judgment:
    fields = _upgrade(dict(record))
    _check_judgment(fields)
    return flat_judgment(fields)


def candidate_from_record(record: dict[str, Any]) -> Candidate:
    fields = _upgrade(dict(record))
    fields["turns"] = tuple(fields["turns"])
    fields["params"] = tuple(sorted(fields.get("params", {}).items()))
    fields["calls"] = tuple(call_record(c) for c in fields.get("calls", ()))
    fields["reasoning"] = tuple(fields.get("reasoning", ()))
    return Candidate(**fields)


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG).is_file()


def run_dirs(path: Path) -> list[Path]:
    """A run directory as itself; a results directory as its runs, oldest first."""
    if is_run_dir(path):
        return [path]
    if not path.is_dir():
        return []
    found = [p for p in path.iterdir() if is_run_dir(p)]
    return sorted(found, key=lambda p: (read_config(p).get("created") or "", p.name))


def read_config(run_dir: Path) -> dict[str, Any]:
    config_path = run_dir / CONFIG
    if not config_path.exists():
        raise ResultsError(f"{run_dir}: not a judgebench run (no {CONFIG})")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ResultsError(f"{config_path}: unreadable run configuration ({exc}); remove the run directory "
                           "or restore the file") from exc
    if not isinstance(config, dict):
        raise ResultsError(f"{config_path}: a run configuration is a JSON object; remove the run directory or "
                           "restore the file")
    return config


def load_run(run_dir: Path) -> tuple[dict[str, Any], list[Candidate], list[Judgment]]:
    """(config, candidates, judgments) of a run directory, in the order they were written."""
    config = read_config(run_dir)
    candidates = []
    for n, record in read_jsonl_lines(run_dir / ANSWERS):
        try:
            candidates.append(candidate_from_record(record))
        except (TypeError, ValueError, KeyError) as exc:
            raise ResultsError(f"{run_dir / ANSWERS}:{n}: not an answer record ({exc})") from exc
    judgments = []
    for n, record in read_jsonl_lines(run_dir / JUDGMENTS):
        try:
            judgments.append(judgment_from_record(record))
        except (TypeError, ValueError, KeyError) as exc:
            raise ResultsError(f"{run_dir / JUDGMENTS}:{n}: not a judgment record ({exc}); fix or remove the "
                               "line") from exc
    return config, candidates, judgments
