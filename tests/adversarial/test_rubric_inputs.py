"""Hostile rubric inputs (issue 22's review): task files whose points no number can hold, judge replies and
hand-edited judgments a rubric's statistics must refuse or count as failed, never score."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.errors import TaskError
from judgebench.tasks import load_task


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def rubric_task(tmp_path: Path, criteria: str) -> Path:
    """A one-item rubric task whose item has ``criteria`` (YAML list lines); its first criterion is on line 8."""
    head = "name: r\nkind: rubric\njudge: {prompt: rubric.jinja}\nitems:\n  - id: q1\n    turns: [\"Q\"]\n    rubric:\n"
    return write(tmp_path / "r.yaml", head + textwrap.indent(textwrap.dedent(criteria).strip(), " " * 6) + "\n")


@pytest.mark.parametrize("points", [".inf", "-.inf", ".nan", "-.Inf"])
def test_non_finite_points_are_refused_at_their_line(tmp_path: Path, points: str) -> None:
    path = rubric_task(tmp_path, f"""
        - {{text: "Is correct", points: 3}}
        - {{text: "Is other", points: {points}}}
        """)
    with pytest.raises(TaskError, match=re.escape("r.yaml:9: points must be a finite nonzero number")):
        load_task(str(path))
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code != 0 and "r.yaml:9: points must be a finite" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("criteria", "sign"), [
    ('- {text: "A", points: 1.0e+308}\n- {text: "B", points: 1.0e+308}', "positive"),
    ('- {text: "A", points: 1}\n- {text: "B", points: -1.0e+308}\n- {text: "C", points: -1.0e+308}', "negative"),
])
def test_points_whose_total_overflows_are_refused(tmp_path: Path, criteria: str, sign: str) -> None:
    path = rubric_task(tmp_path, criteria)
    with pytest.raises(TaskError, match=re.escape(f"r.yaml:5: the {sign} points of item 'q1'") + ".*smaller points"):
        load_task(str(path))
