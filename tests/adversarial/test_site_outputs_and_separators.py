"""The site's --out and the results reader against what a user or a model can put in their way: the site replaces
its folder whole, so a device, a pipe or a folder of the user's own files is refused before anything is touched; a
model's answer holding U+2028 (or another character str.splitlines treats as a line end) reads back whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from judgebench.errors import ResultsError
from judgebench.formats.judgebench import read_jsonl
from judgebench.publish.site import build_site


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1e", "\r"])
def test_an_answer_holding_a_unicode_line_separator_reads_back_whole(tmp_path: Path, separator: str) -> None:
    path = tmp_path / "answers.jsonl"
    records = [{"item_id": "1", "answer": f"before{separator}after"}, {"item_id": "2", "answer": "plain"}]
    # As the run writes them: UTF-8 text, the separator raw inside the string (json.dumps with ensure_ascii=False).
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    assert read_jsonl(path) == records


def test_the_site_refuses_a_fifo_as_its_folder_and_leaves_it(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ResultsError, match="not a folder"):
        build_site([tmp_path], fifo)
    assert fifo.is_fifo() and sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_the_site_refuses_a_device_as_its_folder(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="not a folder"):
        build_site([tmp_path], Path("/dev/null"))
    assert Path("/dev/null").is_char_device()


def test_the_site_refuses_a_folder_of_the_users_own_files_and_keeps_them(tmp_path: Path) -> None:
    mine = tmp_path / "project"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    with pytest.raises(ResultsError, match="no judgebench site"):
        build_site([tmp_path], mine)
    assert (mine / "thesis.tex").read_text() == "years of work"
