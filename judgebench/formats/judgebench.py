"""judgebench's own results on disk: results/<run-id>/ with config.json, answers.jsonl, judgments.jsonl, summary.json.

JSONL files are append-only: every record reaches the operating system as it is written (a killed process
loses nothing), and fsyncs are grouped, at most one a second and one at the end (a power cut loses at most the
last second, whose replies the request cache still holds); JSON files are written atomically (temp file +
rename). A run directory is created exclusively: an existing run is never overwritten. A torn last line
(a run killed mid-write) is skipped on reading.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import fields, is_dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from ..errors import DataError, ResultsError
from ..secrets import redact
from ..types import CallRecord, Candidate, Judgment
from .common import decode
from .identity import canonical_benchmark

CONFIG, ANSWERS, JUDGMENTS, SUMMARY = "config.json", "answers.jsonl", "judgments.jsonl", "summary.json"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:60] or "run"


def new_run_dir(out: Path, label: str, run_id: str | None = None) -> Path:
    """Create a fresh run directory. A given ``run_id`` that exists is an error, never overwritten."""
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
    text = redact(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)) + "\n"
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as tmp:
        tmp.write(text)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.chmod(tmp.name, _file_mode())  # the same permissions as the run's JSONL files
    os.replace(tmp.name, path)


class JsonlWriter:
    """Append-only JSONL. Each record is written through to the operating system at once; fsyncs are grouped
    (one per ``sync_every_s`` at most, and one on close), since one per record costs more than the request."""

    def __init__(self, path: Path, sync_every_s: float = 1.0) -> None:
        self.path = path
        self._fh = path.open("a", encoding="utf-8")
        self._sync_every_s = sync_every_s
        self._last_sync = time.monotonic()

    def append(self, record: Any) -> None:
        """Write one record: a dict, or a dataclass (written as its fields)."""
        # A server can echo a key into a reply or an error message: nothing written keeps it.
        self._fh.write(redact(dumps_line(record)) + "\n")
        self._fh.flush()
        now = time.monotonic()
        if now - self._last_sync >= self._sync_every_s:
            os.fsync(self._fh.fileno())
            self._last_sync = now

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL file; a torn *last* line is skipped, a bad line elsewhere is an error."""
    return [record for _, record in read_jsonl_lines(path)]


def read_jsonl_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, record) of a JSONL file; a torn *last* line is skipped, a bad line elsewhere is an error."""
    if not path.exists():
        return []
    try:
        lines = decode(path.read_bytes(), str(path)).splitlines()
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


def judgment_record(judgment: Judgment) -> dict[str, Any]:
    return dict(judgment.__dict__)


def _upgrade(fields: dict[str, Any]) -> dict[str, Any]:
    """Records written before judgments carried a benchmark name carried the task's name instead."""
    if "task" in fields:
        fields["benchmark"] = canonical_benchmark(str(fields.pop("task")))
    return fields


_TEXT_FIELDS = ("benchmark", "item_id", "category", "model", "judge", "kind")
_NUMBER_FIELDS = ("score", "preference", "length", "opponent_length", "expected_score", "margin_ab", "margin_ba",
                  "headers", "lists", "bold", "opponent_headers", "opponent_lists", "opponent_bold", "tokens",
                  "opponent_tokens")


def _check_judgment(fields: dict[str, Any]) -> None:
    """A record must be a judgment before it can enter a score: say what is wrong, or raise nothing."""
    from ..judging.kinds import KINDS

    known = set(Judgment.__dataclass_fields__)
    unknown = sorted(set(fields) - known)
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


def judgment_from_record(record: dict[str, Any]) -> Judgment:
    fields = _upgrade(dict(record))
    _check_judgment(fields)
    fields["raw"] = tuple(fields.get("raw", ()))
    fields["calls"] = tuple(CallRecord(**c) for c in fields.get("calls", ()))
    if fields.get("scale") is not None:
        fields["scale"] = tuple(fields["scale"])
    return Judgment(**fields)


def candidate_from_record(record: dict[str, Any]) -> Candidate:
    fields = _upgrade(dict(record))
    fields["turns"] = tuple(fields["turns"])
    fields["params"] = tuple(sorted(fields.get("params", {}).items()))
    fields["calls"] = tuple(CallRecord(**c) for c in fields.get("calls", ()))
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
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
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
