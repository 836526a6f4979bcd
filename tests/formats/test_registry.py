"""The format registry: every format the command line offers is registered, detection follows the registry's
order, and an unknown name is refused with a suggestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgebench.constants import FORMATS
from judgebench.errors import DataError
from judgebench.formats import detect_answers_format, detect_format, read_sources
from judgebench.formats.registry import ANSWER_FORMATS, format_named
from judgebench.formats.registry import FORMATS as REGISTERED


def test_the_command_lines_formats_are_the_registered_ones() -> None:
    assert sorted(FORMATS) == sorted(REGISTERED)
    assert all(f.answers is not None for f in ANSWER_FORMATS)


def test_an_unknown_format_suggests_the_closest_name(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"unknown format 'fastchta'; one of .* \(did you mean 'fastchat'\?\)"):
        format_named("fastchta")
    path = tmp_path / "x.jsonl"
    path.write_text('{"judgment": "[[A]]"}\n')
    with pytest.raises(DataError, match="unknown format 'nope'"):
        read_sources(path, "nope")


def test_detection(tmp_path: Path) -> None:
    assert detect_format(tmp_path) == "judgebench"
    games = tmp_path / "g.jsonl"
    games.write_text('{"games": []}\n')
    single = tmp_path / "s.jsonl"
    single.write_text('{"judgment": "x", "judge": ["gpt-4", "single-v1"], "turn": 1}\n')
    assert detect_format(games) == "arena-hard" and detect_format(single) == "fastchat"
    assert detect_format(tmp_path / "annotations.json.gz") == "alpaca-eval"
    unknown = tmp_path / "u.jsonl"
    unknown.write_text('{"other": 1}\n')
    with pytest.raises(DataError, match="cannot tell the format; pass --format"):
        detect_format(unknown)
    assert detect_answers_format(Path("a.jsonl.gz")) == "fastchat"
    assert detect_answers_format(Path("model_outputs.json")) == "alpaca-eval"
    with pytest.raises(DataError, match=r"answers' format; use .jsonl \(FastChat\) or .json \(AlpacaEval\)"):
        detect_answers_format(Path("a.csv"))
