"""Difficulty tables are input too: a broken, hostile or mismatched one is a one-line error or a noted, missing
LC, never a silently wrong number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main


def _annotations(path: Path, judge: str = "judge", baseline: str = "base", n: int = 40) -> Path:
    rows = [{"instruction": f"question {i}", "output_1": "b" * (50 + i), "output_2": "m" * (30 + 7 * (i % 5)),
             "generator_1": baseline, "generator_2": f"model{k}", "annotator": judge,
             "preference": 1.0 + ((i * (k + 3)) % 5) / 4, "dataset": "d"}
            for k in range(2) for i in range(n)]
    path.write_text(json.dumps(rows))
    return path


@pytest.fixture
def table(tmp_path: Path) -> tuple[Path, Path]:
    data = _annotations(tmp_path / "pool.json")
    out = tmp_path / "t.csv"
    result = CliRunner().invoke(main, ["difficulty", "fit", str(data), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return data, out


def stats(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["stats", "--json", "--bootstrap", "0", *args])
    return result.exit_code, result.stdout, result.output


@pytest.mark.parametrize(("content", "message"), [
    (b"", "is empty"),
    (bytes(range(256)) * 8, "not UTF-8"),
    (b"item_id,instruction_difficulty\n", "has no rows"),
])
def test_unreadable_tables_are_one_line_errors(tmp_path: Path, table: tuple[Path, Path], content: bytes,
                                               message: str) -> None:
    data, _ = table
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    code, _, output = stats(str(data), "--difficulty", str(bad))
    assert code == 1 and message in output and "Traceback" not in output and output.count("\n") == 1


@pytest.mark.parametrize(("old", "new"), [
    ("# length_sensitivity: ", "# length_sensitivity: 1e308 #"),
    ("# length_sensitivity: ", "# length_sensitivity: nan #"),
    ("# difficulty_weight: ", "# difficulty_weight: inf #"),
    ("# prior_strength: ", "# prior_strength: -5 nan #"),
])
def test_hostile_table_headers_are_refused(tmp_path: Path, table: tuple[Path, Path], old: str, new: str) -> None:
    data, good = table
    text = good.read_text()
    start = text.index(old)
    end = text.index("\n", start)
    bad = tmp_path / "bad.csv"
    bad.write_text(text[:start] + new.rstrip(" #") + text[end:])
    code, _, output = stats(str(data), "--difficulty", str(bad))
    assert code == 1 and "Traceback" not in output, output


def test_absurd_difficulties_are_refused(tmp_path: Path, table: tuple[Path, Path]) -> None:
    data, good = table
    lines = good.read_text().splitlines()
    header_end = next(n for n, line in enumerate(lines) if line.startswith("item_id"))
    rows = [line.split(",", 2) for line in lines[header_end + 1:]]
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines[:header_end + 1] + [f"{r[0]},1e300,{r[2]}" for r in rows]) + "\n")
    code, _, output = stats(str(data), "--difficulty", str(bad))
    assert code == 1 and "within" in output


def test_a_table_of_another_judge_or_baseline_gives_no_lc_and_says_why(tmp_path: Path,
                                                                      table: tuple[Path, Path]) -> None:
    _, good = table
    other = _annotations(tmp_path / "other.json", judge="another-judge")
    code, stdout, _ = stats(str(other), "--difficulty", str(good))
    assert code == 0
    for row in json.loads(stdout):
        assert row["length_controlled_winrate"] is None and "fitted for judge judge" in row["lc_note"]


def test_a_table_that_knows_too_few_of_the_items_gives_no_lc(tmp_path: Path, table: tuple[Path, Path]) -> None:
    data, good = table
    lines = good.read_text().splitlines()
    header_end = next(n for n, line in enumerate(lines) if line.startswith("item_id"))
    upper = lines[:header_end + 1] + [line.split(",", 1)[0].upper() + "," + line.split(",", 1)[1]
                                      for line in lines[header_end + 1:]]
    bad = tmp_path / "upper.csv"
    bad.write_text("\n".join(upper) + "\n")
    code, stdout, _ = stats(str(data), "--difficulty", str(bad))
    assert code == 0
    for row in json.loads(stdout):
        assert row["length_controlled_winrate"] is None and "known difficulty" in row["lc_note"]
