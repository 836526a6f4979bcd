"""AlpacaEval annotation files in any state: what json.loads reads is read (a BOM, NaN), gzip or not, with the
same judgments from the fast decoder and the slow path; anything else is a one-line error naming the file."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.errors import DataError
from judgebench.formats.alpaca_eval import read_annotations

ROW = {"instruction": "Say hi.", "output_1": "Hello there.", "output_2": "Hi!", "generator_1": "base",
       "generator_2": "model", "annotator": "judge", "preference": 1.75, "dataset": "d",
       "raw_completion": {"ignored": ["by", "the", "reader"]}, "price_per_example": 0.01}


def _write(path: Path, text: str, *, bom: bool = False, compress: bool = False) -> Path:
    data = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_a_bom_nan_and_gzip_read_as_json_loads_reads_them(tmp_path: Path) -> None:
    rows = [ROW, {**ROW, "instruction": "Count.", "preference": 0}, {**ROW, "instruction": "X", "preference": "2"}]
    plain = read_annotations(_write(tmp_path / "a.json", json.dumps(rows)))
    assert [j.preference for j in plain] == [1.75, 1.5, 2.0]  # 0 is AlpacaEval's draw; text numbers count
    assert plain[0].length == 3 and plain[0].opponent_length == 12 and plain[0].model == "model"
    # The slow path (msgspec refuses a BOM and NaN) gives the same judgments.
    assert read_annotations(_write(tmp_path / "b.json", json.dumps(rows), bom=True)) == plain
    assert read_annotations(_write(tmp_path / "c.json.gz", json.dumps(rows), compress=True)) == plain
    with_nan = read_annotations(_write(tmp_path / "d.json", json.dumps([{**ROW, "preference": math.nan}])))
    assert with_nan[0].preference is None and with_nan[0].failure_kind == "parse"


@pytest.mark.parametrize(("text", "message"), [
    ('[{"instruction": "x",\n "preference": }]', "e.json:2: not valid JSON"),
    (json.dumps({"instruction": "x"}), "e.json: not AlpacaEval annotations (Expected `array`, got `object`)"),
    (json.dumps([{k: v for k, v in ROW.items() if k != "generator_2"}]), "missing required field `generator_2`"),
    (json.dumps([ROW, 5]), "Expected `object`, got `int` - at `$[1]`"),
    (json.dumps([{**ROW, "instruction": 3}]), "Expected `str`, got `int` - at `$[0].instruction`"),
    (json.dumps([ROW, {**ROW, "output_2": 7}]), "e.json[1]: not an AlpacaEval annotation"),
])
def test_a_bad_file_is_a_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "e.json", text)
    with pytest.raises(DataError) as raised:
        read_annotations(path)
    assert message in str(raised.value)
    result = CliRunner().invoke(main, ["stats", str(path)])
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output and result.output.count("\n") == 1


def test_damaged_gzip_and_latin1_are_one_line_errors(tmp_path: Path) -> None:
    data = gzip.compress(json.dumps([ROW] * 50).encode())
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(data[: len(data) // 2])
    flipped = tmp_path / "flipped.json.gz"
    flipped.write_bytes(data[:20] + bytes([data[20] ^ 0xFF]) + data[21:])
    latin = tmp_path / "latin.json"
    latin.write_bytes(json.dumps([{**ROW, "output_2": "caf\xe9"}], ensure_ascii=False).encode("latin-1"))
    for path, message in ((cut, "cannot read"), (flipped, "cannot read"), (latin, "latin.json:1: not UTF-8 text")):
        result = CliRunner().invoke(main, ["stats", str(path)])
        assert result.exit_code == 1 and message in result.output and str(path) in result.output, result.output
        assert "Traceback" not in result.output and result.output.count("\n") == 1
