"""Markdown counts (stats.style) against the plain regular expressions that define them, on random texts and on
real AlpacaEval answers; and on hostile answers, which must be counted in linear time."""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

from judgebench.stats.style import answer_counts, bold_spans, markdown_counts, without_code

# The definitions, written as the obvious regular expressions (ours counts the same in one linear pass).
HEADER = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.MULTILINE)
BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__", re.DOTALL)
PIECES = ["*", "_", "**", "__", " ", "\t", "a", "\n", "\r\n", "#", "-", "1.", "\u00a0", "```\n", "~~~\n"]


def _reference(text: str) -> tuple[int, int, int]:
    prose = without_code(text)
    return len(HEADER.findall(prose)), len(LIST_ITEM.findall(prose)), len(BOLD.findall(prose))


def test_counts_match_the_defining_regular_expressions_on_random_texts() -> None:
    rng = random.Random(0)
    for _ in range(20000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 16)))
        counts = markdown_counts(text)
        assert (counts.headers, counts.lists, counts.bold) == _reference(text), repr(text)


def test_counts_match_on_real_answers(shared_data: Path) -> None:
    path = shared_data / "alpaca_eval/results/claude-2/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
    rows = json.loads(gzip.decompress(path.read_bytes()))
    texts = [str(r["output_1"] or "") for r in rows] + [str(r["output_2"] or "") for r in rows]
    assert sum(bold_spans(t) for t in texts) > 100  # the check has bold to see
    for text in texts:
        counts = markdown_counts(text)
        assert (counts.headers, counts.lists, counts.bold) == _reference(text)


def test_code_is_content_not_style() -> None:
    answer = "# Plan\n- one\n- **two**\n```python\n# comment\n- not a list\n```\n1. three\n~~~\n**open fence"
    assert markdown_counts(answer) == markdown_counts("# Plan\n- one\n- **two**\n1. three\n")
    assert (markdown_counts(answer).headers, markdown_counts(answer).lists, markdown_counts(answer).bold) == (1, 3, 1)
    assert answer_counts(["## a", "* b **c**"]) == markdown_counts("## a\n* b **c**")


def test_a_megabyte_of_unclosed_bold_markers_is_counted_at_once() -> None:
    """The defining regex retries every opening marker to the end: quadratic, hours for these. Ours is linear."""
    for text, spans in (("**a " * 250_000, 0), ("__a " * 250_000, 0), ("**a** " * 150_000 + "**x", 150_000)):
        assert bold_spans(text) == spans
        assert markdown_counts(text).bold == spans
