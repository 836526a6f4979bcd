"""Built-in tasks cut down for the tests that run on the real embedded model."""

from __future__ import annotations

from pathlib import Path

from judgebench.tasks import load_task
from judgebench.types import Task


def short_answers_file(folder: Path) -> Path:
    """sample-mt with answers cut at 24 tokens: the tests that use it check judging, caching, serving and failures,
    not the answers, and a 135M model's 160-token answers were most of their time (the judge's settings are
    unchanged)."""
    path = folder / "sample-mt-short.yaml"
    path.write_text("include: sample-mt.yaml\ngeneration:\n  max_tokens: 24\n", encoding="utf-8")
    return path


def short_answers_task(folder: Path) -> Task:
    return load_task(str(short_answers_file(folder)))
