"""The site's Judges page: the judge configurations of the inputs, ranked, with the numbers of
analysis.judge_profiles (what `judgebench judges` prints) for the same inputs; linked from the index."""

from __future__ import annotations

import math
from html.parser import HTMLParser
from pathlib import Path

import pytest

from judgebench.analysis.judge_profiles import judge_prices, judge_profiles
from judgebench.analysis.records import read_judgments
from judgebench.publish.site import build_site, expand_inputs
from judgebench.publish.tables import PROFILE_CELLS

from .runs import fake_run

AE = "alpaca_eval/results/{}/{}/annotations.json.gz"
MODELS = ["alpaca-7b", "gpt4_1106_preview", "claude-2"]
JUDGES = ["weighted_alpaca_eval_gpt4_turbo", "alpaca_eval_gpt4"]


class _Cells(HTMLParser):
    """Each judge row's cells: judge -> {column: data-value}."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.order: list[str] = []
        self._judge: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "tr" and found.get("data-judge") is not None:
            self._judge = str(found["data-judge"])
            self.order.append(self._judge)
            self.rows[self._judge] = {}
        elif tag == "td" and self._judge is not None and found.get("data-column"):
            self.rows[self._judge][str(found["data-column"])] = str(found.get("data-value") or "")


@pytest.fixture(scope="module")
def site(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    tmp = tmp_path_factory.mktemp("judges-site")
    inputs = [shared_data / AE.format(m, j) for m in MODELS for j in JUDGES if (shared_data / AE.format(m, j)).exists()]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp / "jb-cache"))
        inputs.append(fake_run(tmp / "run", reply="Fine. [[B]]"))
        build_site(inputs, tmp / "site", n_bootstrap=20)
    return tmp / "site", inputs


def test_the_judges_page_shows_judge_profiles_numbers(site: tuple[Path, list[Path]]) -> None:
    out, inputs = site
    expected = judge_profiles(read_judgments(expand_inputs(inputs)).frame, judge_prices(inputs))
    parser = _Cells()
    parser.feed((out / "judges.html").read_text(encoding="utf-8"))
    assert parser.order == list(expected["judge"])  # the same ranking
    assert len(parser.order) == len(JUDGES) + 1
    for _, row in expected.iterrows():
        shown = parser.rows[str(row["judge"])]
        for _, column, _, _ in PROFILE_CELLS:
            value = row[column]
            if column == "judge":
                assert shown[column] == value
            elif value is None or (isinstance(value, float) and math.isnan(value)):
                assert shown[column] == "", column
            else:
                assert float(shown[column]) == float(value), column
    # Real numbers, not blanks: AlpacaEval's files carry both outputs, so the length bias is measured.
    ae = parser.rows[JUDGES[0]]
    assert 0 < float(ae["prefers_longer"]) < 1 and float(ae["n_longer"]) > 100


def test_the_index_links_to_the_judges_page(site: tuple[Path, list[Path]]) -> None:
    out, _ = site
    assert 'href="judges.html"' in (out / "index.html").read_text(encoding="utf-8")
    assert 'href="index.html"' in (out / "judges.html").read_text(encoding="utf-8")
