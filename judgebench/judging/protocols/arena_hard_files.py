"""Arena-Hard-Auto's own protocol files read as data: its YAML configs and the judge settings of
utils/judge_utils.py (a Python module, read with ``ast``, never executed: only module-level assignments of string
literals, and of a dict literal of such strings, are understood). Pure apart from reading the files."""

from __future__ import annotations

import ast
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from ...errors import DataError
from ...formats import arena_hard
from ...formats.common import decode, read_bytes

# judge_utils.py is 4 KB and a config under 1 KB: a larger file is not the one the protocol names.
MAX_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class CategorySetting:
    """JUDGE_SETTINGS[category] of judge_utils.py: the baseline model and the judge's system prompt."""

    baseline: str
    system_prompt: str


@dataclass(frozen=True)
class JudgeConfig:
    """What one Arena-Hard config gives the judge call: the user template (and the names it fills), the verdict
    patterns, the sampling parameters; v0.1's config also its system prompt, baseline and judgment attempts."""

    template: str
    fields: tuple[str, ...]
    patterns: tuple[str, ...]
    temperature: float
    max_tokens: int
    judge_model: str
    system_prompt: str | None = None
    baseline: str | None = None
    attempts: int = 1


def _text(path: Path) -> str:
    data = read_bytes(path)
    if len(data) > MAX_FILE_BYTES:
        raise DataError(f"{path}: {len(data)} bytes; an Arena-Hard config is under {MAX_FILE_BYTES >> 10} KB")
    return decode(data, str(path))


def _template_fields(template: str, expected: tuple[str, ...], where: str) -> tuple[str, ...]:
    """The names a template fills, which must be exactly ``expected``: plain names, no attribute or index access."""
    try:
        names = tuple(dict.fromkeys(f for _, f, _, _ in string.Formatter().parse(template) if f is not None))
    except ValueError as exc:
        raise DataError(f"{where}: prompt_template is not a format string ({exc})") from exc
    if set(names) != set(expected):
        raise DataError(f"{where}: prompt_template fills {', '.join(names) or 'nothing'}; Arena-Hard's fills "
                        f"{', '.join(expected)}")
    return names


def _mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(_text(path))
    except (yaml.YAMLError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise DataError(f"{path}: not YAML ({' '.join(str(exc).split())[:300]})") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: an Arena-Hard config is a mapping")
    return data


def _require(data: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError(f"{path}: the config's {key!r} is missing or not a {getattr(kind, '__name__', kind)}")
    return value


@lru_cache(maxsize=16)
def read_v2_config(path: Path) -> JudgeConfig:
    """config/arena-hard-v2.0.yaml (and the v0.1 config of the same layout): prompt_template with {QUESTION},
    {ANSWER_A}, {ANSWER_B}; regex_patterns tried in order."""
    data = _mapping(path)
    template = _require(data, "prompt_template", str, path)
    patterns = _require(data, "regex_patterns", list, path)
    for pattern in patterns:
        _compile(pattern, str(path))
    return JudgeConfig(template=template,
                       fields=_template_fields(template, ("QUESTION", "ANSWER_A", "ANSWER_B"), str(path)),
                       patterns=tuple(str(p) for p in patterns),
                       temperature=float(_require(data, "temperature", (int, float), path)),
                       max_tokens=int(_require(data, "max_tokens", int, path)),
                       judge_model=str(data.get("judge_model", "")))


@lru_cache(maxsize=16)
def read_v01_config(path: Path) -> JudgeConfig:
    """config/judge_config.yaml of July 2024: system_prompt, a prompt_template list (one template with
    {question_1}, {answer_1}, {answer_2}), one regex_pattern, number_of_judgment_attempts, baseline_model."""
    data = _mapping(path)
    templates = _require(data, "prompt_template", list, path)
    if len(templates) != 1 or not isinstance(templates[0], str):
        raise DataError(f"{path}: prompt_template must be a list of one template (Arena-Hard's single turn)")
    pattern = _require(data, "regex_pattern", str, path)
    _compile(pattern, str(path))
    return JudgeConfig(template=templates[0],
                       fields=_template_fields(templates[0], ("question_1", "answer_1", "answer_2"), str(path)),
                       patterns=(pattern,),
                       temperature=float(_require(data, "temperature", (int, float), path)),
                       max_tokens=int(_require(data, "max_tokens", int, path)),
                       judge_model=str(data.get("judge_model", "")),
                       system_prompt=_require(data, "system_prompt", str, path),
                       baseline=_require(data, "baseline_model", str, path),
                       attempts=int(data.get("number_of_judgment_attempts", 1)))


def _compile(pattern: object, where: str) -> re.Pattern[str]:
    try:
        return re.compile(str(pattern))
    except re.error as exc:
        raise DataError(f"{where}: verdict pattern {pattern!r} is not a regular expression ({exc})") from exc


def _literal(node: ast.expr, names: dict[str, str], where: str) -> Any:
    """A string, a name bound to one, or a dict of those: nothing else is evaluated."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
        return {_literal(k, names, where): _literal(v, names, where) for k, v in zip(node.keys, node.values,
                                                                                    strict=True) if k is not None}
    raise DataError(f"{where}:{getattr(node, 'lineno', '?')}: JUDGE_SETTINGS holds something other than strings "
                    "and dicts of strings; not reading it")


@lru_cache(maxsize=16)
def read_judge_settings(path: Path) -> dict[str, CategorySetting]:
    """JUDGE_SETTINGS of utils/judge_utils.py: category -> baseline and system prompt."""
    try:
        tree = ast.parse(_text(path), filename=str(path))
    except SyntaxError as exc:
        raise DataError(f"{path}:{exc.lineno}: not Python ({exc.msg})") from exc
    names: dict[str, str] = {}
    settings: Any = None
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        target = node.targets[0].id
        if target == "JUDGE_SETTINGS":
            settings = _literal(node.value, names, str(path))
        elif isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            names[target] = node.value.value
    if not isinstance(settings, dict):
        raise DataError(f"{path}: no JUDGE_SETTINGS dict")
    found = {}
    for category, setting in settings.items():
        if not (isinstance(setting, dict) and isinstance(setting.get("baseline"), str)
                and isinstance(setting.get("system_prompt"), str)):
            raise DataError(f"{path}: JUDGE_SETTINGS[{category!r}] needs a baseline and a system_prompt")
        found[str(category)] = CategorySetting(setting["baseline"], setting["system_prompt"])
    return found


@lru_cache(maxsize=8)
def baseline_answers(path: Path) -> dict[str, arena_hard.Answer]:
    return arena_hard.answers(path)
