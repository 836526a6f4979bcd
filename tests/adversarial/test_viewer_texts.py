"""The judgment viewer's data files hold hostile texts as data: whatever a candidate, a judge or a file wrote (markup,
a script's end tag, JavaScript's line separators, a lone surrogate a server sent, a hostile model name) is written as
a JSON string inside the shard script, read back unchanged, and never breaks out of it. (That the page sets them as
text only is checked in a browser: tests/publish/test_viewer.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgebench.formats.table import judgments_frame
from judgebench.formats.texts import JudgmentText
from judgebench.publish import viewer
from tests.judgments import flat

NASTY = ['</script><script>alert(1)</script>', "<img src=x onerror=alert(1)>", "line\u2028separator\u2029",
         "lone \ud800 surrogate", "NUL \x00 byte", "'); alert(1); ('", "\\u0022 escaped quote"]


def _write(tmp_path: Path, model: str, text: str) -> tuple[Path, JudgmentText]:
    judgment = flat(benchmark="b", item_id="i1", category="c", model=model, judge="j", turn=1, kind="pairwise",
                        opponent="ref", verdict_ab="win", verdict_ba="win", preference=2.0)
    texts = JudgmentText("b", "j", model, "ref", "i1", 1, question=(text,), answer=(text,), opponent_answer=(text,),
                         replies=(text, text))
    viewer.write_viewer(tmp_path, judgments_frame([judgment]), {texts.key: texts}, build_date="-",
                        build_date_source="-", viewer_href=viewer.href)
    return tmp_path / "viewer" / "shards" / "0.js", texts


def _read(path: Path, prefix: str) -> object:
    text = path.read_bytes().decode("utf-8")  # strict: the file is valid UTF-8 whatever the texts held
    assert text.startswith(prefix) and text.endswith(");\n") and text.count("\n") == 1
    return json.loads(text[len(prefix):-3])


@pytest.mark.parametrize("text", NASTY)
def test_viewer_shard_holds_hostile_text_as_one_json_string(tmp_path: Path, text: str) -> None:
    shard, _ = _write(tmp_path, "model", text)
    data = _read(shard, "JBV.shard(0,")
    assert data["texts"] == [text]  # type: ignore[index]
    assert data["rows"][0]["q"] == data["rows"][0]["a"] == [0]  # type: ignore[index]


def test_viewer_hostile_model_name_is_data_in_the_index(tmp_path: Path) -> None:
    name = '"><script>alert(1)</script>\u2028'
    _write(tmp_path, name, "fine")
    index = _read(tmp_path / "viewer" / "index.js", "JBV.index(")
    assert index["facets"]["models"] == [name, "ref"]  # type: ignore[index]
