"""Running a protocol task end to end against the replay judge (judgebench.replay) built from an anchor's own
judgment files, through the CLI, and reading back what the run recorded."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from judgebench.cli import main
from judgebench.formats.common import iter_jsonl
from judgebench.replay import ReplayTable, read_recordings


def replay_table(files: Iterable[Path]) -> ReplayTable:
    return ReplayTable.of(r for path in files for r in read_recordings(path))


def run_task(task: str, answers: Path, judge_url: str, out: Path, mirror: Path, *extra: str) -> Path:
    """``judgebench run --task TASK --answers FILE --judge replay@URL#text --data-dir MIRROR``; the run's folder."""
    before = set(out.iterdir()) if out.exists() else set()
    ran = CliRunner().invoke(main, ["run", "--task", task, "--answers", str(answers), "--judge",
                                    f"gpt-4@{judge_url}#text", "--concurrency", "32", "--out", str(out),
                                    "--no-progress", "--data-dir", str(mirror), *extra])
    # Exit status 3: some judgments failed (a prompt the anchor never sent is refused by the replay judge).
    assert ran.exit_code in (0, 3), ran.output
    (run_dir,) = [p for p in set(out.iterdir()) - before if (p / "judgments.jsonl").exists()]
    return run_dir


def judgments(run_dir: Path) -> list[dict[str, Any]]:
    return [record for _, record in iter_jsonl(run_dir / "judgments.jsonl")]


def summary_rows(run_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((run_dir / "summary.json").read_text())["rows"]
    return rows


def mean(values: Sequence[float]) -> float:
    """show_result.py's mean: sum / count, in Python."""
    return sum(values) / len(values)
