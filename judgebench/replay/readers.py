"""Anchors' judgment files -> recordings (prompt, reply, sampling parameters), one reader per file layout, found
through ``READERS``. Each reads only what its harness wrote; none is given our own rendering code, so a replay
checks our prompts against the anchor's, not against themselves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from ..errors import DataError
from ..formats.common import iter_jsonl, read_text
from .alpaca_eval import alpaca_eval_annotations
from .table import NO_OPTIONS, ReaderOptions, Recording

Reader = Callable[[Path, ReaderOptions], Iterator[Recording]]

# FastChat's llm_judge asks its judge with temperature 0 and max_tokens 2048 (common.run_judge_single/_pair).
FASTCHAT_PARAMS: tuple[tuple[str, Any], ...] = (("temperature", 0), ("max_tokens", 2048))
# A harness config beside judgment files is small YAML; anything larger is not one.
MAX_CONFIG_BYTES = 1 << 20


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def fastchat_judgments(path: Path, options: ReaderOptions = NO_OPTIONS) -> Iterator[Recording]:
    """FastChat's model_judgment files: single grades (``user_prompt``, ``judgment``) and pairwise games
    (``g1_user_prompt``/``g1_judgment``, ``g2_...``). The system message is not recorded (it is the named judge
    prompt's, which the task reads from FastChat's judge_prompts.jsonl)."""
    for lineno, row in iter_jsonl(path):
        where = f"{path}:{lineno}"
        for prefix in ("", "g1_", "g2_"):
            user, reply = _text(row.get(f"{prefix}user_prompt")), _text(row.get(f"{prefix}judgment"))
            if user is not None and reply is not None:
                yield Recording(user=user, reply=reply, params=FASTCHAT_PARAMS, source=where)


def config_beside(path: Path) -> dict[str, Any]:
    """The harness config in the folder of a judgment file or up to two above it (arena-bench's ``*config.yaml``
    names the judge, its system prompt and its sampling parameters; arena-hard-auto keeps it in data/, beside
    data/arena-bench-v1/model_judgment/); {} when there is none."""
    for folder in list(path.parents)[:3]:
        for candidate in sorted(folder.glob("*config.yaml")):
            if candidate.stat().st_size > MAX_CONFIG_BYTES:
                continue
            try:
                loaded = yaml.safe_load(read_text(candidate))
            except (yaml.YAMLError, RecursionError) as exc:  # RecursionError: nested thousands deep
                raise DataError(f"{candidate}: not valid YAML ({exc})") from None
            if isinstance(loaded, dict) and ("judge_model" in loaded or "system_prompt" in loaded):
                return loaded
    return {}


def _config_params(config: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, config[name]) for name in ("temperature", "max_tokens")
                 if isinstance(config.get(name), (int, float)) and not isinstance(config.get(name), bool))


def arena_hard_judgments(path: Path, options: ReaderOptions = NO_OPTIONS) -> Iterator[Recording]:
    """Arena-Hard's model_judgment files: pairwise ``games`` (v2: each with the full ``prompt`` messages and
    ``judgment.answer``; v0.1: ``user_prompt`` and ``judgment``), and arena-bench's single grades (``user_prompt``,
    ``judgment``). Where the messages were not recorded, the system prompt and sampling parameters come from the
    config beside the files, when there is one."""
    config = config_beside(path)
    system = _text(config.get("system_prompt"))
    params = _config_params(config)
    for lineno, row in iter_jsonl(path):
        where = f"{path}:{lineno}"
        games = row.get("games")
        if not isinstance(games, list):
            games = [row]
        for game in games:
            if not isinstance(game, dict):
                continue
            judgment = game.get("judgment")
            reply = _text(judgment.get("answer")) if isinstance(judgment, dict) else _text(judgment)
            prompt = game.get("prompt")
            if isinstance(prompt, list):
                roles = {m.get("role"): m.get("content") for m in prompt if isinstance(m, dict)}
                user, recorded_system = _text(roles.get("user")), _text(roles.get("system"))
            else:
                user, recorded_system = _text(game.get("user_prompt")), system
            if user is not None and reply is not None:
                yield Recording(user=user, reply=reply, system=recorded_system, params=params, source=where)


READERS: dict[str, Reader] = {"fastchat": fastchat_judgments, "arena-hard": arena_hard_judgments,
                              "alpaca-eval": alpaca_eval_annotations}


def detect(path: Path) -> str:
    """The reader for a file, by its content's shape."""
    name = path.name.removesuffix(".gz")
    if name.endswith(".json"):
        return "alpaca-eval"
    first = next(iter_jsonl(path), (0, {}))[1]
    if "games" in first or ("user_prompt" in first and "judge" not in first):
        return "arena-hard"
    if "user_prompt" in first or "g1_user_prompt" in first:
        return "fastchat"
    raise DataError(f"{path}: not a judgment file the replay judge can read; pass --format "
                    f"({', '.join(READERS)})")


def read_recordings(path: Path, fmt: str = "auto", options: ReaderOptions = NO_OPTIONS) -> Iterator[Recording]:
    """The recordings of one file (or of every file in a folder, recursively)."""
    if path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file() and (p.suffix in (".jsonl", ".json", ".gz"))):
            yield from read_recordings(child, fmt, options)
        return
    name = detect(path) if fmt == "auto" else fmt
    if name not in READERS:
        raise DataError(f"{path}: the replay judge has no reader for {name!r} files (it reads {', '.join(READERS)})")
    yield from READERS[name](path, options)
