"""The site's tables: one per ranking, so a model is never twice in one table or plot (MT-Bench graded and then
battled by the same judge, two references, two protocols); the columns that apply to each kind; a battle page read
from its own model's side; the site's title; the position-bias plot's legend clear of its axis label. Judgments
are records written as a run writes them (formats.judgebench), with no server."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from markupsafe import escape
from matplotlib.backends.backend_agg import FigureCanvasAgg

from judgebench.analysis.leaderboard import leaderboard
from judgebench.analysis.records import judgments_frame
from judgebench.cli import main
from judgebench.formats import judgebench as store
from judgebench.publish import pages, plots
from judgebench.types import Candidate, Judgment
from tests.judgments import flat

MODELS = ("alpha", "beta", "zeta")  # zeta sorts last: in every battle record it is the opponent
ITEMS = [f"q{i}" for i in range(6)]


def _category(item: str) -> str:
    return f"c{int(item[1:]) % 2}"


def _battle(item: str, a: str, b: str) -> Judgment:
    """alpha beats everyone in both orders, much better when shown first; beta and zeta split by position."""
    if a == "alpha":
        ab, ba, margin_ab, margin_ba = "win", "win", 2, 1
    else:
        ab, ba, margin_ab, margin_ba = "win", "loss", 1, 1  # whoever is shown first wins
    preference = {("win", "win"): 2.0, ("win", "loss"): 1.5}[(ab, ba)]
    return flat(benchmark="mt-bench", item_id=item, category=_category(item), model=a, judge="j", turn=2,
                    kind="battles", opponent=b, verdict_ab=ab, verdict_ba=ba, preference=preference,
                    margin_ab=margin_ab, margin_ba=margin_ba, raw=(f"[[A{'>>' if margin_ab == 2 else '>'}B]]",
                                                                    "[[A>B]]" if ba == "loss" else "[[B>A]]"))


def _grade(item: str, model: str, turn: int) -> Judgment:
    return flat(benchmark="mt-bench", item_id=item, category=_category(item), model=model, judge="j", turn=turn,
                    kind="single", score=float(9 - MODELS.index(model) * 2 - int(item[1:]) % 2), scale=(1, 10),
                    raw=("Rating: [[7]]",))


def _write_run(root: Path, name: str, judgments: list[Judgment], candidates: list[Candidate] = ()) -> Path:
    run_dir = root / name
    run_dir.mkdir(parents=True)
    (run_dir / store.CONFIG).write_text(json.dumps({"created": "2026-01-01"}))
    (run_dir / store.ANSWERS).write_text("".join(f"{store.dumps_line(store.candidate_record(c))}\n"
                                                 for c in candidates))
    (run_dir / store.JUDGMENTS).write_text("".join(f"{store.dumps_line(store.judgment_record(j))}\n"
                                                   for j in judgments))
    return run_dir


@pytest.fixture(scope="module")
def mt_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(MT-Bench graded, the same models battled) by the same judge: the README's flow."""
    root = tmp_path_factory.mktemp("mt-runs")
    grades = [_grade(i, m, t) for i in ITEMS for m in MODELS for t in (1, 2)]
    battles = [_battle(i, a, b) for i in ITEMS for n, a in enumerate(MODELS) for b in MODELS[n + 1:]]
    answers = [Candidate("mt-bench", i, m, (f"{m} answers {i}, turn 1", f"{m} answers {i}, turn 2"))
               for i in ITEMS for m in MODELS]
    return _write_run(root, "grades", grades, answers), _write_run(root, "battles", battles, answers)


@pytest.fixture(scope="module")
def mt_site(mt_runs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mt-site") / "site"
    result = CliRunner().invoke(main, ["leaderboard", *map(str, mt_runs), "--out", str(out), "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    return out


def _sections(index: str) -> dict[str, str]:
    """Each table's HTML by its title's small text ("judge: j · grades")."""
    parts = index.split('<section class="board"')[1:]
    return {html.unescape(re.search(r"<small>(.*?)</small>", p).group(1)): p for p in parts}  # type: ignore[union-attr]


def test_grades_and_battles_of_one_judge_are_two_tables(mt_site: Path) -> None:
    sections = _sections((mt_site / "index.html").read_text())
    assert set(sections) == {"judge: j · grades", "judge: j · battles between models"}
    for stem in ("mt-bench__j__single", "mt-bench__j__battles"):
        rows = json.loads((mt_site / "data" / f"{stem}.json").read_text())
        assert sorted(r["model"] for r in rows) == sorted(MODELS)  # each model once
    assert {r["kind"] for r in json.loads((mt_site / "data" / "mt-bench__j__single.json").read_text())} == {"single"}
    plotted = {p.name for p in (mt_site / "plots").glob("*.png")}
    # The category plot (where the model appeared twice) is the grades'; the position bias is the battles'.
    assert {"mt-bench__j__single-categories.png", "mt-bench__j__battles-position-bias.png"} <= plotted
    assert "mt-bench__j__single-position-bias.png" not in plotted
    for section in sections.values():
        models = re.findall(r'<tr data-model="([^"]+)"', section)
        assert sorted(models) == sorted(MODELS)


def test_comparisons_against_two_references_are_two_tables(tmp_path: Path) -> None:
    judgments = [flat(benchmark="b", item_id=i, category="c", model=m, judge="j", turn=1, kind="pairwise",
                          opponent=ref, verdict_ab="win", verdict_ba="tie" if m == "beta" else "win",
                          preference=1.75 if m == "beta" else 2.0)
                 for i in ITEMS for m in ("alpha", "beta") for ref in ("ref/one", "ref-two")]
    run_dir = _write_run(tmp_path, "run", judgments)
    result = CliRunner().invoke(main, ["leaderboard", str(run_dir), "--out", str(tmp_path / "site"),
                                       "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    sections = _sections((tmp_path / "site" / "index.html").read_text())
    assert set(sections) == {"judge: j · compared with ref/one", "judge: j · compared with ref-two"}
    stems = sorted(p.stem for p in (tmp_path / "site" / "data").glob("*.json") if ".diagnostics" not in p.name)
    assert stems == ["b__j__pairwise-vs-ref-one", "b__j__pairwise-vs-ref-two"]
    for stem in stems:
        rows = json.loads((tmp_path / "site" / "data" / f"{stem}.json").read_text())
        assert sorted(r["model"] for r in rows) == ["alpha", "beta"] and len({r["opponent"] for r in rows}) == 1


def test_two_protocols_of_one_benchmark_are_two_rankings() -> None:
    judgments = [flat(benchmark="b", protocol=protocol, item_id=i, category="c", model=m, judge="j", turn=1,
                          kind="single", score=float(len(m) + n), scale=(1, 10))
                 for n, protocol in enumerate(("p-one", "p-two")) for i in ITEMS for m in ("alpha", "beta")]
    rows = leaderboard(judgments_frame(judgments), n_bootstrap=10).rows
    # Each protocol is its own ranking, alpha above beta in each (mixed, alpha would be ranked against itself).
    assert [(r.model, r.score, r.rank) for r in rows] == [("alpha", 5.0, 1), ("beta", 4.0, 2), ("alpha", 6.0, 1),
                                                          ("beta", 5.0, 2)]


def test_category_figure_draws_a_model_named_twice_once() -> None:
    per_category = pd.DataFrame({"model": ["a", "a", "b", "b"], "category": ["x", "y", "x", "y"],
                                 "score": [1.0, 2.0, 3.0, 4.0]})
    figure = plots.category_figure(per_category, "t", ["b", "a", "b", "a"])
    (ax,) = figure.axes
    assert [c.get_label() for c in ax.containers] == ["b", "a"]


def test_winrate_figure_refuses_a_model_twice() -> None:
    rows = pd.DataFrame({"model": ["a", "a"], "score": [50.0, 60.0], "ci_low": [40.0, 50.0], "ci_high": [60.0, 70.0]})
    with pytest.raises(ValueError, match="a model appears twice: a"):
        plots.winrate_figure(rows, "t")


def test_columns_follow_the_kind(mt_site: Path, tmp_path: Path) -> None:
    sections = _sections((mt_site / "index.html").read_text())
    battles, grades = sections["judge: j · battles between models"], sections["judge: j · grades"]
    assert ">LC win rate</th>" not in battles and ">LC 95% CI</th>" not in battles
    assert ">order agree</th>" in battles and ">anchor</th>" in battles and ">opponent</th>" not in battles
    assert ">LC win rate</th>" not in grades and ">order agree</th>" not in grades
    # A comparison with a reference keeps its LC columns.
    judgments = [flat(benchmark="b", item_id=i, category="c", model=m, judge="j", turn=1, kind="pairwise",
                          opponent="ref", verdict_ab="win", verdict_ba="win", preference=2.0)
                 for i in ITEMS for m in ("alpha", "beta")]
    result = CliRunner().invoke(main, ["leaderboard", str(_write_run(tmp_path, "run", judgments)), "--out",
                                       str(tmp_path / "site"), "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    (pairwise,) = _sections((tmp_path / "site" / "index.html").read_text()).values()
    assert ">LC win rate</th>" in pairwise and ">order agree</th>" in pairwise and ">opponent</th>" in pairwise


def _groups(page: str) -> tuple[str, str]:
    """(the battles' part of a model page, its grades' part)."""
    parts = page.split('<section class="group"')[1:]
    (battles,) = [p for p in parts if "battles against every model, on either side" in p]
    (grades,) = [p for p in parts if p is not battles]
    return battles, grades


def test_a_battle_page_speaks_from_its_own_models_side(mt_site: Path) -> None:
    page = html.unescape((mt_site / pages.model_pages(["zeta"])["zeta"]).read_text())
    battles, grades = _groups(page)
    shown = battles.count('<article class="judgment">')
    assert shown == 2 * len(ITEMS)
    # zeta is the opponent in every record, and never called so on its own page.
    assert battles.count("Answer of zeta (this page's model), turn 1") == shown
    assert battles.count("Answer of its opponent, alpha, turn 2") == len(ITEMS)
    assert "opponent: zeta" not in page and "Answer of its opponent, zeta" not in page
    assert "zeta answers q0, turn 2" in battles and "alpha answers q0, turn 2" in battles
    # A battle judges the whole conversation, not its second turn.
    assert battles.count("whole conversation (2 turns)") == shown and ", turn 2 <small>" not in battles
    assert ("zeta lost to alpha: with alpha's answer shown first, alpha much better; with zeta's answer shown "
            "first, alpha better") in battles
    assert ("zeta and beta tied: with beta's answer shown first, beta better; with zeta's answer shown first, "
            "zeta better; the two orders disagree (position bias)") in battles
    assert "Judge's reply, alpha's answer shown first" in battles
    # Grades are per turn, and still say so.
    assert ", turn 2 <small>" in grades and "whole conversation" not in grades


def test_the_title_option_names_every_page(mt_runs: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "site"
    title = '<i>My</i> "evals" & co'
    result = CliRunner().invoke(main, ["leaderboard", *map(str, mt_runs), "--out", str(out), "--bootstrap", "20",
                                       "--title", title])
    assert result.exit_code == 0, result.output
    escaped = str(escape(title))  # as the pages' autoescape writes it
    index = (out / "index.html").read_text()
    assert f"<title>{escaped}</title>" in index and f'<h1 class="wrap">{escaped}</h1>' in index
    for model in MODELS:
        page = (out / pages.model_pages([model])[model]).read_text()
        assert f"<title>{model} — {escaped}</title>" in page and f"← {escaped}</a>" in page
    viewer_page = (out / "viewer.html").read_text()
    assert f"<title>judgments — {escaped}</title>" in viewer_page and f"← {escaped}</a>" in viewer_page
    for path in out.rglob("*.html"):
        assert "<i>My</i>" not in path.read_text()
    # A new title is a new site, not "unchanged"; no title is the default one.
    again = CliRunner().invoke(main, ["leaderboard", *map(str, mt_runs), "--out", str(out), "--bootstrap", "20"])
    assert again.exit_code == 0 and "<title>judgebench leaderboard</title>" in (out / "index.html").read_text()


@pytest.mark.parametrize("title", ["", "   ", "two\nlines", "x" * 201])
def test_a_bad_title_is_a_one_line_error(mt_runs: tuple[Path, Path], tmp_path: Path, title: str) -> None:
    result = CliRunner().invoke(main, ["leaderboard", str(mt_runs[0]), "--out", str(tmp_path / "site"),
                                       "--title", title])
    assert result.exit_code == 1 and result.output.startswith("Error: --title ")
    assert "printable characters" in result.output and result.output.count("\n") == 1
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("n_judges", [1, 4])
def test_the_position_bias_legend_clears_the_axis_label(n_judges: int) -> None:
    per_judge = pd.DataFrame({"judge": [f"judge-{n}" for n in range(n_judges)], "consistent": [0.6] * n_judges,
                              "biased_first": [0.2] * n_judges, "biased_second": [0.1] * n_judges,
                              "error": [0.1] * n_judges})
    figure = plots.position_bias_figure(per_judge, "bench: position bias")
    renderer = FigureCanvasAgg(figure).get_renderer()
    figure.draw(renderer)
    (legend,) = figure.legends
    box = legend.get_window_extent(renderer)
    (ax,) = figure.axes
    for artist in (ax.xaxis.label, *ax.get_xticklabels()):
        assert not box.overlaps(artist.get_window_extent(renderer)), artist.get_text()
    assert not box.overlaps(ax.get_window_extent(renderer))
    whole = figure.bbox
    assert whole.x0 <= box.x0 and box.x1 <= whole.x1 and whole.y0 <= box.y0 and box.y1 <= whole.y1
    assert [t.get_text() for t in legend.get_texts()] == ["consistent", "biased first", "biased second", "error"]
