"""Files from elsewhere in any state: UTF-8 with or without a BOM and CRLF are read; other encodings, bad values
and damaged caches are one-line errors with file:line; a reply no judge would write is not stored."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from judgebench.cli import main
from judgebench.tasks import load_task

from ..fakeserver import Script, fake_server


def _fastchat_answers(path: Path, encoding: str, newline: str, bom: bool = False) -> Path:
    task = load_task("sample-mt")
    lines = [json.dumps({"question_id": item.id, "model_id": "cand", "choices": [{"turns": ["Café au lait.", "Oui."]}]},
                        ensure_ascii=False) for item in task.items]
    data = newline.join(lines).encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--limit", "1", "--out", str(tmp_path / "r"),
                                       *args])
    return result.exit_code, result.output


def test_utf8_with_bom_and_crlf_is_read(tmp_path: Path) -> None:
    answers = _fastchat_answers(tmp_path / "a.jsonl", "utf-8", "\r\n", bom=True)
    with fake_server(Script([("ok", "Rating: [[6]]")])) as url:
        code, output = _run(tmp_path, "--answers", str(answers), "--judge", f"j@{url}")
    assert code == 0, output
    record = json.loads((next((tmp_path / "r").glob("*/answers.jsonl"))).read_text().splitlines()[0])
    assert record["turns"] == ["Café au lait.", "Oui."]


def test_latin1_answers_are_a_file_line_error(tmp_path: Path) -> None:
    answers = _fastchat_answers(tmp_path / "a.jsonl", "latin-1", "\n")
    with fake_server(Script([("ok", "Rating: [[6]]")])) as url:
        code, output = _run(tmp_path, "--answers", str(answers), "--judge", f"j@{url}")
    assert code == 1 and f"{answers}:1: not UTF-8 text" in output and "Traceback" not in output
    assert not (tmp_path / "r").exists() or not list((tmp_path / "r").glob("*/config.json"))


def test_latin1_task_file_is_a_file_line_error(tmp_path: Path) -> None:
    task = tmp_path / "t.yaml"
    task.write_bytes("include: sample-mt.yaml\nname: caf\xe9\n".encode("latin-1"))
    result = CliRunner().invoke(main, ["validate", str(task)])
    assert result.exit_code == 1 and f"{task}:2: not UTF-8 text" in result.output


def test_bad_sampling_values_are_task_errors_with_their_line(tmp_path: Path) -> None:
    for body, where in (("judge:\n  max_tokens: abc\n", ":4: max_tokens must be a whole number"),
                        ("generation:\n  temperature: hot\n", ":4: temperature must be a number"),
                        ("generation:\n  max_tokens: -5\n", ":4: max_tokens must be a whole number"),
                        ("judge:\n  on_empty: maybe\n", ":4: on_empty must be")):
        task = tmp_path / "t.yaml"
        task.write_text("include: sample-mt.yaml\nname: x\n" + body)
        result = CliRunner().invoke(main, ["validate", str(task)])
        assert result.exit_code == 1 and f"{task}{where}" in result.output, (body, result.output)


def test_a_damaged_cache_is_a_one_line_error_and_nothing_is_written(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    with fake_server(Script([("ok", "Rating: [[6]]")])) as url:
        code, output = _run(tmp_path, "--model", f"m@{url}", "--judge", f"j@{url}", "--cache", str(cache))
    assert code == 1 and "not a usable judgebench cache" in output and "move it aside" in output
    assert not list((tmp_path / "r").glob("*/config.json"))


def test_a_giant_reply_is_a_failure_and_is_not_stored(tmp_path: Path) -> None:
    giant = "x" * 2_000_000 + " Rating: [[9]]"
    with fake_server(Script([("ok", "An answer.")])) as model_url, fake_server(Script([("ok", giant)])) as judge_url:
        code, output = _run(tmp_path, "--model", f"m@{model_url}", "--judge", f"j@{judge_url}")
    assert code == 3 and "over the 1,000,000" in output
    assert all(p.stat().st_size < 100_000 for p in (tmp_path / "r").rglob("*") if p.is_file())


def test_show_on_a_killed_run_prints_what_it_finished(tmp_path: Path) -> None:
    with fake_server(Script([("ok", "Rating: [[6]]")])) as url:
        assert _run(tmp_path, "--model", f"m@{url}", "--judge", f"j@{url}")[0] == 0
    run_dir = next((tmp_path / "r").glob("*-sample-mt-*"))
    (run_dir / "summary.json").unlink()  # killed before the summary was written
    result = CliRunner().invoke(main, ["show", str(run_dir)])
    assert result.exit_code == 0 and "6.000" in result.output


def test_files_of_a_run_share_one_mode(tmp_path: Path) -> None:
    with fake_server(Script([("ok", "Rating: [[6]]")])) as url:
        assert _run(tmp_path, "--model", f"m@{url}", "--judge", f"j@{url}")[0] == 0
    run_dir = next((tmp_path / "r").glob("*-sample-mt-*"))
    modes = {p.name: p.stat().st_mode & 0o777 for p in run_dir.iterdir()}
    assert len(set(modes.values())) == 1, modes
