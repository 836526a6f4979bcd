"""The site's rubric page and the viewer's criteria, from real runs of a HealthBench-style rubric task (scripted
judge): the page prints the numbers `judgebench stats` prints, cell for cell; its CSVs are `judgebench.load()`'s
tables; the viewer's rows carry each criterion's text, points and verdict as the judgments frame holds them."""

from __future__ import annotations

import itertools
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import markupsafe
import pandas as pd
import pytest
from click.testing import CliRunner

import judgebench
from judgebench.cli import main
from judgebench.constants import RUBRIC_TOP_DISAGREEMENTS
from judgebench.publish import rubric_page
from judgebench.publish.site import build_site

from .rubric_runs import HOSTILE_CRITERION, rubric_runs
from .runs import fake_run


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the results folder, the site built from it)."""
    tmp = tmp_path_factory.mktemp("rubric-site")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp / "jb-cache"))
        results = rubric_runs(tmp)
        build_site([results], tmp / "site")
    return results, tmp / "site"


class _Tables(HTMLParser):
    """Each rubric table of a page: its class and its rows' cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and "rubric-table" in classes:
            self.tables.append((next(c for c in classes if c != "rubric-table"), []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag == "td" and self.tables:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.tables[-1][1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _site_tables(site: Path) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed((site / rubric_page.PAGE).read_text())
    return {name: [row for row in rows if row] for name, rows in parser.tables}


def _stats_tables(text: str) -> dict[str, list[list[str]]]:
    """The rubric sections of `judgebench stats`' text, each row's cells cut at the columns the dashes mark."""
    titles = {"rubric: mean per-item": "rubric-pairs", "rubric: mean item score per category": "rubric-categories",
              "rubric: per tag": "rubric-tags", "rubric: per criterion": "rubric-criteria"}
    found: dict[str, list[list[str]]] = {}
    blocks = text.split("\n\n")
    for title, body in itertools.pairwise(blocks):
        name = next((v for k, v in titles.items() if title.strip().startswith(k)), None)
        if name is None:
            continue
        lines = body.strip("\n").split("\n")
        spans = [m.span() for m in re.finditer(r"-+", lines[1])]
        cut = [[line[a:(spans[i + 1][0] if i + 1 < len(spans) else None)].strip() for i, (a, _) in enumerate(spans)]
               for line in lines[2:]]
        found[name] = [row[2:] for row in cut]  # benchmark and judge: the page's section says them
    return found


def test_the_page_prints_the_numbers_stats_prints(built: tuple[Path, Path]) -> None:
    results, site = built
    result = CliRunner().invoke(main, ["stats", str(results)])
    assert result.exit_code == 0, result.output
    stats = _stats_tables(result.stdout)
    page = {name: rows for name, rows in _site_tables(site).items() if not name.startswith("rubric-quality-")}
    assert set(stats) == set(page) == {"rubric-pairs", "rubric-categories", "rubric-tags", "rubric-criteria"}
    for name in ("rubric-pairs", "rubric-categories", "rubric-tags"):
        assert page[name] == stats[name], name
    # The text table cuts a criterion's text at 60 characters; every number is the same.
    assert [row[:-1] for row in page["rubric-criteria"]] == [row[:-1] for row in stats["rubric-criteria"]]
    assert len(page["rubric-criteria"]) == 2 * sum(3 + n % 2 for n in range(6))  # both models' every criterion
    assert any(row[-1] == HOSTILE_CRITERION for row in page["rubric-criteria"])


def test_the_downloads_are_the_notebooks_tables(built: tuple[Path, Path]) -> None:
    results, site = built
    tables = judgebench.load(results).rubric
    for name in ("criteria", "tags", "categories", "pairs"):
        (path,) = (site / "data").glob(f"rubric-*.{name}.csv")
        written = pd.read_csv(path, keep_default_na=False, na_values=[""])
        expected = getattr(tables, name).reset_index(drop=True)
        assert list(written.columns) == list(expected.columns)
        for column in expected.columns:
            if pd.api.types.is_numeric_dtype(expected[column]):
                assert written[column].to_numpy(float) == pytest.approx(expected[column].to_numpy(float),
                                                                        nan_ok=True), (name, column)
            else:
                assert written[column].astype(object).where(written[column].notna(), "").astype(str).tolist() == \
                    expected[column].fillna("").astype(str).tolist(), (name, column)


def test_hostile_criterion_text_is_escaped_and_the_index_links_the_page(built: tuple[Path, Path]) -> None:
    _, site = built
    text = (site / rubric_page.PAGE).read_text()
    assert "<script>document" not in text and "<img src=x" not in text
    assert str(markupsafe.escape(HOSTILE_CRITERION)) in text  # jinja's autoescape
    assert 'href="rubric.html" id="rubric-link"' in (site / "index.html").read_text()


def _viewer_rows(site: Path) -> list[dict[str, object]]:
    rows = []
    for shard in sorted((site / "viewer" / "shards").glob("*.js")):
        body = shard.read_text()
        rows += json.loads(body[body.index(",") + 1:body.rindex(");")])["rows"]
    return rows


def test_the_viewer_shows_each_criterion_as_the_frame_holds_it(built: tuple[Path, Path]) -> None:
    results, site = built
    criteria = judgebench.load(results).criteria
    rows = _viewer_rows(site)
    assert len(rows) == 12 and all("cr" in row for row in rows)
    shown = sorted((row["item"], c[0], c[1], c[2], c[3]) for row in rows for c in row["cr"])  # type: ignore[union-attr]
    expected = sorted(zip(criteria["item_id"], criteria["criterion"], criteria["text"], criteria["points"],
                          [None if pd.isna(m) else bool(m) for m in criteria["met"]], strict=True))
    # Two models judged on each item: the frame's rows, model for model.
    assert shown == expected
    assert all(str(row["v"]).startswith("rubric score ") for row in rows)
    viewer_js = (site / "viewer" / "viewer.js").read_text()
    assert "innerHTML" not in viewer_js  # every text, criteria included, goes in as textContent


def test_a_long_criterion_table_shows_the_rubrics_own_first(built: tuple[Path, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    results, _ = built
    monkeypatch.setattr(rubric_page, "MAX_CRITERIA_ROWS", 5)
    (group,) = rubric_page.groups(judgebench.load(results).rubric, tmp_path)
    (table,) = [t for t in group.tables if t.name == "criteria"]
    assert len(table.rows) == 5 and table.n_rows == 2 * sum(3 + n % 2 for n in range(6))
    rates = [row[4].value for row in table.rows]
    assert rates == sorted(rates)  # the least met first
    assert len(pd.read_csv(tmp_path / Path(table.download).name)) == table.n_rows


def test_a_site_without_rubric_judgments_has_no_rubric_page(tmp_path: Path) -> None:
    run = fake_run(tmp_path)
    build_site([run], tmp_path / "site", n_bootstrap=20)
    assert not (tmp_path / "site" / rubric_page.PAGE).exists()
    assert "rubric-link" not in (tmp_path / "site" / "index.html").read_text()


def _quality_texts(row: dict[str, object], columns: tuple[tuple[str, str, bool], ...]) -> list[str]:
    """A rubric-report JSON row's cells as the page writes them (the text tables' formatting)."""
    from judgebench.publish.rubric_tables import ci_text, num_text

    cells = []
    for _, column, _ in columns:
        if column.startswith("ci:"):
            cells.append(ci_text(row[f"{column[3:]}_low"], row[f"{column[3:]}_high"]))
        elif column in ("agreement", "kappa"):
            cells.append(num_text(row[column], 2))
        elif column == "always":
            cells.append("met by all" if row[column] else "met by none")
        else:
            cells.append("" if row[column] is None else str(row[column]))
    return cells


def test_the_page_shows_the_rubric_quality_rubric_report_prints(tmp_path: Path) -> None:
    """A panel of two judges: the page's rubric-quality tables are `rubric-report --json`'s rows, cell for cell,
    and its CSVs hold them all."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp_path / "jb-cache"))
        results = rubric_runs(tmp_path, judges=("judge", "critic"))
        build_site([results], tmp_path / "site")
    report = CliRunner().invoke(main, ["rubric-report", str(results), "--json"])
    assert report.exit_code == 0, report.output
    expected = json.loads(report.stdout)
    assert expected["panel"] and expected["disagreements"]
    page = _site_tables(tmp_path / "site")
    for name, _, columns in rubric_page.QUALITY_TABLES:
        rows = expected[name][:RUBRIC_TOP_DISAGREEMENTS] if name == "disagreements" else expected[name]
        assert page.get(f"rubric-quality-{name}", []) == [_quality_texts(row, columns) for row in rows], name
        if not rows:
            continue
        (path,) = (tmp_path / "site" / "data").glob(f"rubric-quality-*.{name}.csv")
        written = pd.read_csv(path, keep_default_na=False, na_values=[""])
        assert written.astype(object).where(written.notna(), None).to_dict(orient="records") == expected[name]
    # The panel's pooled row first, then every criterion's: the page holds the agreement rubric-report prints.
    assert page["rubric-quality-panel"][0][0] == "*"


def test_a_long_rubric_quality_table_is_cut_on_the_page_and_whole_in_its_csv(built: tuple[Path, Path], tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    results, _ = built
    quality = judgebench.load(results).rubric_quality()
    assert len(quality.constant) > 1  # one judge, two models: criteria every answer met (or none did)
    monkeypatch.setattr(rubric_page, "MAX_CRITERIA_ROWS", 1)
    (group,) = rubric_page.quality_groups(quality, tmp_path)
    (table,) = [t for t in group.tables if t.name == "constant"]
    assert len(table.rows) == 1 and table.n_rows == len(quality.constant)
    assert len(pd.read_csv(tmp_path / Path(table.download).name)) == table.n_rows
    assert group.judges == ""  # no panel: the page says panel agreement needs two judges
