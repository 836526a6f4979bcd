"""Faults of the machine, not of judgebench: a read-only or unwritable output folder, a full disk (at the start or
during a run), a cache that cannot be opened, a NUL byte or JSON nested thousands deep in an input file. Each ends in
one line naming the path, the cause and what to do, never "internal error ... a bug" (nor, on a full disk, advice to
delete the cache); nothing that was there is corrupted or replaced by a partial file.

A full disk and a read-only folder are real: a small tmpfs mounted for the test (tests run as root here, and root
ignores file permissions, so a chmod'ed folder is no read-only folder for it: that case runs only as another user).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.errors import ResultsError, environment_fault
from judgebench.formats.judgebench import write_json_atomic
from judgebench.judging.verdicts import parse_score_json
from judgebench.run.cache import Cache

from ..fakeserver import Script, fake_server


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MiB file system (tmpfs) mounted for the test."""
    yield from _mounted(tmp_path / "disk", "size=1m")


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    """A real read-only file system, read-only for root too."""
    yield from _mounted(tmp_path / "ro", "size=64k,ro")


def _mounted(where: Path, options: str) -> Iterator[Path]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small file system needs root (and mount)")
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(disk: Path) -> Path:
    """Fill the file system to its last byte; the filler, to free the space again."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as fh:
        size = 65536
        while size:  # smaller and smaller writes, down to one byte: no byte is left
            try:
                fh.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                size //= 2
    return filler


def _run(tmp_path: Path, out: Path, cache: Path, judge: Script | None = None, *extra: str) -> tuple[int, str]:
    with fake_server(Script([("ok", "A short note.")])) as model_url, \
            fake_server(judge or Script([("ok", "Kind.\nRating: [[6]]")])) as judge_url:
        result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--limit", "1", "--model", f"m@{model_url}",
                                           "--judge", f"j@{judge_url}", "--out", str(out), "--cache", str(cache),
                                           *extra])
    return result.exit_code, result.output


def _one_line_naming(output: str, path: Path | str, cause: str) -> str:
    """The error: the last line, naming ``path`` and ``cause``, with no bug report and no traceback."""
    last = [line for line in output.splitlines() if line.strip()][-1]
    assert last.startswith("Error: ") and str(path) in last and cause in last, output
    assert "internal error" not in output and "a bug" not in output and "Traceback" not in output, output
    return last


def test_a_read_only_output_folder_is_one_line_naming_it(tmp_path: Path, read_only_disk: Path) -> None:
    code, output = _run(tmp_path, read_only_disk / "results", tmp_path / "c.sqlite")
    assert code == 1
    _one_line_naming(output, read_only_disk / "results", "read-only file system: choose another --out")


def test_an_unwritable_output_folder_is_one_line_naming_it(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes into a folder whatever its permissions: the read-only mount covers this case")
    out = tmp_path / "locked"
    out.mkdir(mode=0o555)
    code, output = _run(tmp_path, out / "results", tmp_path / "c.sqlite")
    assert code == 1
    _one_line_naming(output, out / "results", "permission denied")


def test_an_output_folder_below_a_file_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    code, output = _run(tmp_path, tmp_path / "a-file" / "results", tmp_path / "c.sqlite")
    assert code == 1
    _one_line_naming(output, tmp_path / "a-file", "is a file, not a folder: choose another --out")


def test_a_full_disk_at_the_start_is_one_line_and_leaves_no_run_directory(tmp_path: Path, small_disk: Path) -> None:
    _fill(small_disk)
    code, output = _run(tmp_path, small_disk / "results", tmp_path / "c.sqlite")
    assert code == 1
    line = _one_line_naming(output, small_disk / "results", "the disk is full: free space there or choose another")
    assert "config.json" in line and "cache" not in line
    assert list((small_disk / "results").iterdir()) == []  # no empty run directory left behind


def test_a_disk_that_fills_during_a_run_says_so_and_never_advises_deleting_the_cache(tmp_path: Path,
                                                                                     small_disk: Path) -> None:
    cache = small_disk / "cache.sqlite"
    fillers: list[Path] = []

    def judge_then_fill(body: dict[str, Any]) -> str:
        if not fillers:
            fillers.append(_fill(small_disk))
        return "Kind.\nRating: [[6]]"

    code, output = _run(tmp_path, small_disk / "results", cache, Script([("fn", judge_then_fill)]))
    assert code == 1 and fillers
    line = _one_line_naming(output, small_disk, "the disk is full: free space there or choose another")
    assert "move it aside" not in line and "delete" not in line
    # Space freed, the cache opens and holds what was stored before the disk filled: nothing was corrupted.
    fillers[0].unlink()
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    Cache(cache).close()


def test_a_failed_results_write_leaves_the_good_file_and_no_temporary_file(small_disk: Path) -> None:
    summary = small_disk / "summary.json"
    write_json_atomic(summary, {"score": 7.5})
    _fill(small_disk)
    with pytest.raises(ResultsError, match="the disk is full"):
        write_json_atomic(summary, {"score": 1.0, "rows": ["x" * 1000] * 1000})
    assert json.loads(summary.read_text()) == {"score": 7.5}
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "summary.json"]


def test_a_cache_on_a_full_disk_says_the_disk_is_full_not_to_move_it_aside(tmp_path: Path, small_disk: Path) -> None:
    _fill(small_disk)
    code, output = _run(tmp_path, tmp_path / "results", small_disk / "cache.sqlite")
    assert code == 1
    line = _one_line_naming(output, small_disk / "cache.sqlite", "the disk is full: free space there or choose "
                                                                   "another --cache")
    assert "move it aside" not in line
    assert not (tmp_path / "results").exists()  # refused before any result was written


def test_a_cache_on_a_read_only_file_system_is_one_line_naming_it(tmp_path: Path, read_only_disk: Path) -> None:
    code, output = _run(tmp_path, tmp_path / "results", read_only_disk / "cache.sqlite")
    assert code == 1
    line = _one_line_naming(output, read_only_disk / "cache.sqlite", "choose another --cache")
    assert "move it aside" not in line


def test_a_cache_below_a_file_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    code, output = _run(tmp_path, tmp_path / "results", tmp_path / "a-file" / "cache.sqlite")
    assert code == 1
    line = _one_line_naming(output, tmp_path / "a-file", "choose another --cache")
    assert "move it aside" not in line


def test_a_device_as_the_cache_is_refused_before_sqlite_writes_beside_it(tmp_path: Path) -> None:
    journal = Path("/dev/full-journal")
    existed = journal.exists()
    try:
        code, output = _run(tmp_path, tmp_path / "results", Path("/dev/full"))
        assert code == 1
        _one_line_naming(output, "/dev/full", "not a regular file, so not a cache: choose another --cache")
        assert journal.exists() == existed
    finally:
        if not existed and journal.exists():
            journal.unlink()


@pytest.mark.parametrize("line", [
    b'{"question_id": "writing-1", "model_id": "cand", "choices": [{"turns": ["a\x00b", "c"]}]}\n',
    b'{"question_id": "writing-1",\x00 "model_id": "cand", "choices": [{"turns": ["ab", "c"]}]}\n',
])
def test_a_nul_byte_in_an_answers_file_is_a_file_line_error(tmp_path: Path, line: bytes) -> None:
    answers = tmp_path / "answers.jsonl"
    answers.write_bytes(b"\n" + line)
    with fake_server(Script([("ok", "Rating: [[6]]")])) as url:
        result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--limit", "1", "--answers", str(answers),
                                           "--judge", f"j@{url}", "--out", str(tmp_path / "r"),
                                           "--cache", str(tmp_path / "c.sqlite")])
    assert result.exit_code == 1
    _one_line_naming(result.output, f"{answers}:2: a NUL byte", "not JSON text")


@pytest.mark.parametrize(("name", "text"), [
    ("answers.jsonl", '{"question_id": "writing-1", "model_id": "cand", "choices": [{"turns": '
                      + "[" * 100_000 + "]" * 100_000 + "}]}\n"),
    ("outputs.json", "[" * 100_000 + "]" * 100_000),
])
def test_json_nested_thousands_deep_in_an_answers_file_is_a_file_error(tmp_path: Path, name: str, text: str) -> None:
    answers = tmp_path / name
    answers.write_text(text)
    task = "sample-mt" if name.endswith(".jsonl") else "sample-pairwise"
    with fake_server(Script([("ok", "Rating: [[6]]")])) as url:
        result = CliRunner().invoke(main, ["run", "--task", task, "--limit", "1", "--answers", str(answers),
                                           "--judge", f"j@{url}", "--out", str(tmp_path / "r"),
                                           "--cache", str(tmp_path / "c.sqlite")])
    assert result.exit_code == 1
    _one_line_naming(result.output, answers, "JSON nested too deeply to read")


def test_json_nested_thousands_deep_in_a_judge_reply_is_a_parse_failure(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert parse_score_json(deep, 1, 10).error == "the judge's reply is not one JSON object"
    with fake_server(Script([("ok", "A note.")])) as model_url, fake_server(Script([("ok", deep)])) as judge_url:
        result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--limit", "1", "--model", f"m@{model_url}",
                                           "--judge", f"j@{judge_url}#json", "--out", str(tmp_path / "r2"),
                                           "--cache", str(tmp_path / "c2.sqlite")])
    assert result.exit_code == 3 and "not one JSON object" in result.output and "internal error" not in result.output


def test_json_nested_thousands_deep_in_a_results_file_is_one_line_naming_it(tmp_path: Path) -> None:
    code, output = _run(tmp_path, tmp_path / "r", tmp_path / "c.sqlite")
    assert code == 0, output
    (run_dir,) = (tmp_path / "r").iterdir()
    judgments = run_dir / "judgments.jsonl"
    judgments.write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}\n" + judgments.read_text())
    result = CliRunner().invoke(main, ["stats", str(run_dir)])
    assert result.exit_code == 1
    _one_line_naming(result.output, f"{judgments}:1", "nested too deeply")


def test_a_write_error_without_a_file_name_names_the_file_being_written(tmp_path: Path, small_disk: Path) -> None:
    # A write to an open file on a full disk raises an OSError that carries no name: the site's pages are written
    # so, and the one line still names the file.
    code, output = _run(tmp_path, tmp_path / "r", tmp_path / "c.sqlite")
    assert code == 0, output
    _fill(small_disk)
    result = CliRunner().invoke(main, ["leaderboard", *map(str, (tmp_path / "r").iterdir()),
                                       "--out", str(small_disk / "site")])
    assert result.exit_code == 1
    _one_line_naming(result.output, small_disk, "the disk is full")


@pytest.mark.parametrize(("text", "says"), [
    ("models:\n  gpt-x: {input: 1, output: 2}\n  gpt-y: {input: 1\x00, output: 2}\n",
     ":3: a character YAML does not allow"),
    ("models: " + "[" * 20_000 + "]" * 20_000 + "\n", ": nested thousands of levels deep"),
])
def test_a_nul_byte_or_deep_nesting_in_a_price_file_is_one_line_naming_it(tmp_path: Path, text: str,
                                                                           says: str) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(text)
    result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--dry-run", "--prices", str(prices),
                                       "--model", "m@http://127.0.0.1:9/v1", "--judge", "j@http://127.0.0.1:9/v1"])
    assert result.exit_code == 1
    _one_line_naming(result.output, f"{prices}{says}", "")


def test_a_genuine_bug_still_asks_for_a_report() -> None:
    # Only the machine's faults are told apart: any other exception stays a bug to report.
    assert environment_fault(ValueError("shape mismatch")) is None
    assert environment_fault(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")) is None
    fault = environment_fault(OSError(errno.ENOSPC, "No space left on device", "/data/results/x.json"))
    assert fault is not None
    assert str(fault).startswith("/data/results/x.json: No space left on device (the disk is full")


def test_an_arena_database_on_a_full_disk_is_one_line_naming_it(small_disk: Path) -> None:
    from judgebench.arena import store

    db = small_disk / "arena.sqlite"
    store.open_db(db, benchmark="sample-mt", task="sample-mt").close()
    _fill(small_disk)
    result = CliRunner().invoke(main, ["arena", "invite", "--db", str(db), "alice"])
    assert result.exit_code == 1
    _one_line_naming(result.output, db, "free space there or choose another --db")
