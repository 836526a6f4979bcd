"""Markdown counts of an answer: the style covariates of style-controlled Bradley-Terry (as Chatbot Arena and
Arena-Hard v2 define them: headers, list items and bold spans, with fenced code blocks left out, since code is
content rather than style). Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.MULTILINE | re.DOTALL)
_UNCLOSED_FENCE = re.compile(r"^[ \t]*(```|~~~).*\Z", re.MULTILINE | re.DOTALL)
_HEADER = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+\S", re.MULTILINE)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__", re.DOTALL)


@dataclass(frozen=True)
class MarkdownCounts:
    """How many headers (# .. ######), list items (-, *, +, 1.) and bold spans (**x**, __x__) a text has."""

    headers: int = 0
    lists: int = 0
    bold: int = 0

    def __add__(self, other: MarkdownCounts) -> MarkdownCounts:
        return MarkdownCounts(self.headers + other.headers, self.lists + other.lists, self.bold + other.bold)


def without_code(text: str) -> str:
    """The text with fenced code blocks removed (a fence left open runs to the end, as markdown renders it)."""
    return _UNCLOSED_FENCE.sub("", _FENCED.sub("", text))


def markdown_counts(text: str) -> MarkdownCounts:
    prose = without_code(text)
    return MarkdownCounts(len(_HEADER.findall(prose)), len(_LIST_ITEM.findall(prose)), len(_BOLD.findall(prose)))


def answer_counts(turns: Iterable[str]) -> MarkdownCounts:
    """The counts of a whole answer (every turn), as a judge of the whole conversation sees it."""
    total = MarkdownCounts()
    for turn in turns:
        total = total + markdown_counts(turn)
    return total
