"""The generated leaderboard site in a real headless Chromium (Debian's package, driven by Playwright), built from
real AlpacaEval annotations of two judges, real MT-Bench single grades (with FastChat's questions and answers
beside them) and a judgebench run directory whose answers and judge replies are hostile HTML."""

from __future__ import annotations

import gzip
import http.server
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from judgebench.publish.pages import slug
from judgebench.publish.site import build_site

from ..conftest import ROOT
from ..fakeserver import serving
from .runs import fake_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BUILD = ROOT / "build"
SCREENSHOT = BUILD / "leaderboard-screenshot.png"
AE2 = "alpaca_eval/results/{}/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
AE1 = "alpaca_eval/results/{}/alpaca_eval_gpt4/annotations.json.gz"
AE2_JUDGE = "weighted_alpaca_eval_gpt4_turbo"
MODELS = ["claude-2", "gpt-3.5-turbo-0301", "alpaca-7b", "gpt4_1106_preview", "vicuna-13b", "phi-2"]
MT = "mt_bench_extras/third_party_alvarobartt"
PHONE = {"width": 390, "height": 844}

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; "
                                                ".ci/run installs it)"),
]


@dataclass(frozen=True)
class Site:
    url: str  # index.html, served over loopback
    out: Path


@pytest.fixture(scope="module")
def site(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The site, served over loopback (a page loaded from file:// would hide loading errors)."""
    tmp = tmp_path_factory.mktemp("site")
    # FastChat's layout: the judgments in model_judgment/, question.jsonl and model_answer/ beside them.
    mt = tmp / "mt_bench"
    (mt / "model_judgment").mkdir(parents=True)
    shutil.copy(shared_data / MT / "model_judgment/gpt-4_single.jsonl.gz", mt / "model_judgment")
    (mt / "question.jsonl").symlink_to(shared_data / "mt_bench/question.jsonl")
    (mt / "model_answer").symlink_to(shared_data / MT / "model_answer")
    inputs = [shared_data / AE2.format(m) for m in MODELS]
    inputs += [shared_data / AE1.format(m) for m in MODELS if (shared_data / AE1.format(m)).exists()]
    inputs.append(mt / "model_judgment/gpt-4_single.jsonl.gz")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp / "jb-cache"))
        inputs.append(fake_run(tmp / "run"))
        out = tmp / "site"
        build_site(inputs, out, n_bootstrap=100)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as base:
        yield Site(f"{base}/index.html", out)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the dev extra)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Any) -> Iterator[Any]:
    """A function opening a page at a URL (viewport: desktop unless given) that records console errors and
    dialogs; after the test, none may have happened."""
    errors: list[str] = []
    pages = []

    def opener(url: str, viewport: dict[str, int] | None = None) -> Any:
        page = browser.new_page(viewport=viewport or {"width": 1200, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        page.goto(url, wait_until="load")
        pages.append(page)
        return page

    yield opener
    for page in pages:
        page.close()
    assert errors == []


def _rows(site: Site, benchmark: str, judge: str) -> list[dict[str, Any]]:
    """A table's rows as its JSON download gives them."""
    # A section's file is named by its benchmark (with the protocol beside it, where that differs) and its judge.
    (path,) = [p for p in (site.out / "data").glob(f"{slug(benchmark)}*__{slug(judge)}.json")]
    return json.loads(path.read_text())


def _visible_models(table: Any) -> list[str]:
    return [m for m in table.locator("tbody tr:visible td:nth-child(2)").all_inner_texts()]


def test_tables_sort_numerically_and_plots_load(site: Site, open_page: Any) -> None:
    page = open_page(site.url)
    assert page.locator("table.leaderboard").count() == 4  # AlpacaEval x 2 judges, MT-Bench, the sample run
    alpaca = page.locator(f"table.leaderboard[data-judge={AE2_JUDGE}]")
    assert alpaca.locator("tbody tr").count() == len(MODELS)

    def column(index: int) -> list[str]:
        return alpaca.locator(f"tbody tr td:nth-child({index})").all_inner_texts()

    # Sort by model name, ascending then descending.
    alpaca.locator("th", has_text="model").click()
    names = column(2)
    assert names == sorted(names, key=str.lower) or names == sorted(names)
    alpaca.locator("th", has_text="model").click()
    assert column(2) == list(reversed(names))
    # By score, ascending: in numeric order, which here is not the order of the texts ("9.6" after "17.2").
    alpaca.locator("th", has_text="score").first.click()
    scores = column(4)
    assert [float(s) for s in scores] == sorted(float(s) for s in scores)
    assert scores != sorted(scores)
    assert alpaca.locator("th[aria-sort=ascending]").count() == 1
    # Per-category columns (AlpacaEval's datasets) explain themselves, and the glossary is there.
    assert "win rate on the koala questions" in alpaca.locator("th", has_text="koala").get_attribute("title").lower()
    assert page.locator("dl.glossary dt").count() >= 6
    assert "Built " in page.locator("p.meta").first.inner_text()

    # The plots load lazily: bring each into view, then wait until the browser has decoded them all.
    for image in page.locator("img").all():
        image.scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=30_000)
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert len(widths) >= 3 and all(w > 0 for w in widths), widths
    BUILD.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000


def test_search_and_filters(site: Site, open_page: Any) -> None:
    page = open_page(site.url)
    boards = page.locator("table.leaderboard")
    total = boards.locator("tbody tr").count()
    page.fill("#model-filter", "CLAUDE")
    shown = boards.locator("tbody tr:visible td:nth-child(2)").all_inner_texts()
    expected = [r["model"] for j in (AE2_JUDGE, "alpaca_eval_gpt4") for r in _rows(site, "alpaca-eval", j)
                if "claude" in r["model"].lower()]
    assert sorted(shown) == sorted(expected) and len(shown) == 2
    page.fill("#model-filter", "")
    assert boards.locator("tbody tr:visible").count() == total
    page.select_option("#benchmark-filter", "mt-bench")
    assert page.locator("section.board:visible").count() == 1
    assert page.locator("section.board:visible").get_attribute("data-benchmark") == "mt-bench"
    page.select_option("#benchmark-filter", "")
    page.select_option("#judge-filter", "alpaca_eval_gpt4")
    assert [s.get_attribute("data-judge") for s in page.locator("section.board:visible").all()] == ["alpaca_eval_gpt4"]


def _interval(row: dict[str, Any]) -> tuple[float, float]:
    """The ranking value's own interval: the LC's where the LC ranks, else the score's."""
    if row["ranked_by"] == "length_controlled_winrate":
        return row["lc_ci_low"], row["lc_ci_high"]
    return row["ci_low"], row["ci_high"]


@pytest.mark.parametrize(("benchmark", "judge"), [("alpaca-eval", AE2_JUDGE), ("alpaca-eval", "alpaca_eval_gpt4"),
                                                  ("mt-bench", "gpt-4")])
def test_rank_column_respects_the_intervals(site: Site, open_page: Any, benchmark: str, judge: str) -> None:
    page = open_page(site.url)
    rows = _rows(site, benchmark, judge)
    intervals = [_interval(r) for r in rows]
    expected = [1 + sum(low > high for low, _ in intervals) for _, high in intervals]
    table = page.locator(f"table.leaderboard[data-benchmark={benchmark}][data-judge={judge}]")
    cells = table.locator("tbody tr td:nth-child(1)").all_inner_texts()
    assert [int(c.lstrip("=")) for c in cells] == expected
    # A shared rank is marked as one; a rank nobody shares is not.
    assert [c.startswith("=") for c in cells] == [expected.count(r) > 1 for r in expected]
    # The table, its downloads and its plot: one order, by the ranking value (LC where there is one).
    order = [r["model"] for r in rows]
    assert _visible_models(table) == order
    values = [r["ranking_value"] for r in rows]
    assert values == sorted(values, reverse=True)
    (csv_path,) = (site.out / "data").glob(f"{benchmark}*__{judge}.csv")
    csv_models = [line.split(",")[5] for line in csv_path.read_text().splitlines()[1:]]
    assert csv_models == order
    if benchmark == "mt-bench":
        assert any(c.startswith("=") for c in cells)  # MT-Bench's models overlap: ties are shown
    else:
        # Six models fit a difficulty table too thin for a headline LC: flagged beside each LC, with its reason
        # on hover and in the notes, and the score ranks.
        assert all(r["lc_weak"] and r["ranked_by"] == "score" for r in rows if r["opponent"] != r["model"])
        flags = table.locator("td.lc .flag")
        assert flags.count() == sum(r["lc_weak"] for r in rows)
        assert "ranked by the win rate instead" in (flags.first.get_attribute("title") or "")
        notes = page.locator(f"section.board[data-judge={judge}] ul.flag-notes li")
        assert notes.count() >= 1 and notes.first.is_visible()


def test_model_page_shows_each_judgment_with_its_texts(site: Site, open_page: Any, shared_data: Path) -> None:
    page = open_page(site.url)
    page.locator(f"table.leaderboard[data-judge={AE2_JUDGE}] a", has_text="claude-2").click()
    page.wait_for_load_state("load")
    assert page.url.endswith("/models/claude-2.html")
    assert page.locator("h1").inner_text() == "claude-2"
    with gzip.open(shared_data / AE2.format("claude-2"), "rt") as fh:
        annotations = {row["instruction"]: row for row in json.load(fh)}
    group = page.locator("section.group", has_text=AE2_JUDGE)
    first = group.locator("article.judgment").first
    question = first.locator("pre.question").inner_text()
    annotation = annotations[question]
    assert first.locator("pre.answer").inner_text().strip() == annotation["output_2"].strip()
    assert first.locator("pre.opponent").inner_text().strip() == annotation["output_1"].strip()
    assert first.locator("pre.reply").inner_text() == annotation["raw_completion"]["message"]["content"]
    assert "preference" in first.locator("p.verdict").inner_text()
    assert group.locator("article.judgment").count() == 25  # capped, with a note
    assert "the first 25 shown" in group.inner_text()
    page.screenshot(path=str(BUILD / "site-model.png"), full_page=False)


def test_hostile_answers_show_as_text(site: Site, open_page: Any) -> None:
    from judgebench.tasks import load_task

    from .runs import HOSTILE

    page = open_page(site.url)
    page.locator("table.leaderboard[data-benchmark=sample-pairwise] a", has_text="fake-model").click()
    page.wait_for_load_state("load")
    task = load_task("sample-pairwise")
    first = page.locator("article.judgment").first
    assert first.locator("pre.question").inner_text() == task.items[0].turns[0]
    assert first.locator("pre.answer").inner_text() == HOSTILE
    assert first.locator("pre.opponent").inner_text() == task.reference_for(task.items[0].id)[0]
    assert first.locator("pre.reply").all_inner_texts() == [HOSTILE, HOSTILE]  # both orders' replies
    assert page.locator("pre script, pre img").count() == 0
    assert page.title() != "pwned"
    # The run recorded its prompt's hash: the method says it.
    index = open_page(site.url)
    method = index.locator("section.board[data-benchmark=sample-pairwise] p.method").inner_text()
    assert "pairwise.jinja sha256" in method


def test_judges_side_by_side(site: Site, open_page: Any) -> None:
    page = open_page(site.url)
    section = page.locator("section.judges[data-benchmark=alpaca-eval]")
    header = section.locator("thead th").all_inner_texts()
    # Each judge's Bradley-Terry ranking, and its style-controlled one beside it (AlpacaEval's files carry both
    # outputs, so their markdown counts and lengths are known).
    assert header == ["model", AE2_JUDGE, f"{AE2_JUDGE} (style-controlled)", "alpaca_eval_gpt4",
                      "alpaca_eval_gpt4 (style-controlled)"]
    assert "ρ = " in section.inner_text() and "τ = " in section.inner_text()


def test_judges_page_is_linked_and_sorts(site: Site, open_page: Any) -> None:
    page = open_page(site.url)
    page.locator("#judges-link").click()
    page.wait_for_url("**/judges.html")
    table = page.locator("table.judge-profiles")
    judges = table.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.judge)")
    assert {AE2_JUDGE, "alpaca_eval_gpt4", "gpt-4", "fake-judge"} == set(judges)  # every judge of the site's inputs
    # Ranked by position consistency; a click sorts by the share preferring the longer answer, as numbers.
    table.locator("th", has_text="prefers longer").click()
    shares = table.locator("tbody td[data-column=prefers_longer]").evaluate_all(
        "cells => cells.map(c => c.dataset.value)")
    numbers = [float(v) if v else float("-inf") for v in shares]
    assert numbers == sorted(numbers) and any(0 < n < 1 for n in numbers)


def test_phone_layout_has_no_horizontal_page_scroll(site: Site, open_page: Any) -> None:
    page = open_page(site.url, PHONE)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # The wide table scrolls inside its own container instead.
    wrapper = page.locator(f"section.board[data-judge={AE2_JUDGE}] div.scroll")
    assert wrapper.evaluate("e => e.scrollWidth > e.clientWidth")
    page.screenshot(path=str(BUILD / "site-phone.png"), full_page=False)
    model = open_page(site.url.replace("index.html", "models/mistral-orpo-mix.html"), PHONE)
    assert model.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    desktop = open_page(site.url)
    desktop.screenshot(path=str(BUILD / "site-desktop.png"), full_page=False)


@pytest.fixture(scope="module")
def rubric_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A site of two models' runs of a HealthBench-style rubric task (tests/publish/rubric_runs.py), served."""
    from .rubric_runs import rubric_runs

    tmp = tmp_path_factory.mktemp("rubric-site")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp / "jb-cache"))
        out = tmp / "site"
        build_site([rubric_runs(tmp)], out, n_bootstrap=100)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as base:
        yield Site(f"{base}/index.html", out)


def test_rubric_page_is_linked_sorts_and_shows_criteria_as_text(rubric_site: Site, open_page: Any) -> None:
    from .rubric_runs import HOSTILE_CRITERION

    page = open_page(rubric_site.url)
    page.locator("#rubric-link").click()
    page.wait_for_url("**/rubric.html")
    section = page.locator("section.rubric[data-benchmark=hb-sample]")
    assert section.locator("table.rubric-table").count() == 4  # pairs, categories, tags, criteria
    criteria = section.locator("table.rubric-criteria")
    # Both models' rows of the criterion whose text is HTML: shown as that text.
    assert criteria.locator("td.criterion-text", has_text="Says hi").all_inner_texts() == [HOSTILE_CRITERION] * 2
    assert page.locator("main img, table img, table script").count() == 0
    assert page.title() != "pwned"
    # A click on "met" sorts the criteria by their rate, as numbers.
    criteria.locator("th", has_text="met").first.click()
    rates = criteria.locator("tbody td[data-column=met]").evaluate_all("cells => cells.map(c => c.dataset.value)")
    numbers = [float(v) if v else float("-inf") for v in rates]
    assert numbers == sorted(numbers) and len(set(numbers)) > 1
    # On a phone the page does not scroll sideways: each wide table scrolls in its own container.
    phone = open_page(rubric_site.url.replace("index.html", "rubric.html"), PHONE)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # A category cell opens the viewer on that model's judgments of the category.
    section.locator("table.rubric-categories tbody a").nth(1).click()
    page.wait_for_url("**/viewer.html#*")
    page.wait_for_selector("#v-status[data-done='1']")
    assert page.locator("article.judgment").count() == 2  # two items per category


def _show_in_viewer(page: Any, url: str) -> None:
    """Go to a viewer address and wait until every shard the filter reads has been read: a change of the hash alone
    keeps the page, so the earlier judgments stay on it until the new search is done."""
    page.evaluate("() => { const s = document.getElementById('v-status'); if (s) s.dataset.done = '0'; }")
    page.goto(url)
    page.wait_for_selector("#v-status[data-done='1']")


def test_viewer_shows_each_criterions_verdict(rubric_site: Site, open_page: Any) -> None:
    import judgebench

    from .rubric_runs import EARLIER_REPLY, HOSTILE_CRITERION

    page = open_page(rubric_site.url.replace("index.html", "viewer.html#model=alpha&item=hb-0"))
    page.wait_for_selector("#v-status[data-done='1']")
    article = page.locator("article.judgment")
    assert article.count() == 1
    rows = article.locator("table.criteria tbody tr")
    shown = [row.locator("td").all_inner_texts() for row in rows.all()]
    frame = judgebench.load(rubric_site.out.parent / "results").criteria
    mine = frame[(frame["model"] == "alpha") & (frame["item_id"] == "hb-0")]
    expected = [[c, f"{p:g}", ("met (penalty)" if p < 0 else "met") if m else "not met", t]
                for c, p, m, t in zip(mine["criterion"], mine["points"], mine["met"], mine["text"], strict=True)]
    assert shown == expected
    assert HOSTILE_CRITERION in [cells[3] for cells in shown]
    assert article.locator("img, script").count() == 0 and page.title() != "pwned"
    assert article.locator("p.verdict").inner_text().startswith("rubric score ")
    # A conversation with an earlier exchange shows it above the question, as the model and the judge saw it.
    _show_in_viewer(page, rubric_site.url.replace("index.html", "viewer.html#model=alpha&item=hb-5"))
    question = page.locator("article.judgment pre.question").inner_text()
    assert question.index("[assistant]") < question.index(EARLIER_REPLY) < question.index("Health question 5")
    # The search finds a judgment by its criteria's text.
    _show_in_viewer(page, rubric_site.url.replace("index.html", "viewer.html#q=follow-up+question&model=beta"))
    assert page.locator("article.judgment").count() == 3  # the odd items ask a follow-up question
