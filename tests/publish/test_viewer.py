"""The judgment viewer (publish.viewer): its counts are the tables', and in a real headless Chromium, opened from
file:// as users open the site, it pages through every judgment, filters and searches them, and shows hostile
answers and replies as text."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from judgebench.analysis.aggregate import aggregator_of
from judgebench.analysis.records import read_judgments
from judgebench.formats.table import judgments_frame
from judgebench.judging.kinds import kind_of
from judgebench.publish import viewer
from judgebench.publish.site import build_site
from judgebench.types import Judgment
from tests.judgments import flat

from .runs import HOSTILE, synthetic_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MODELS = ["model-a", "model-b"]
JUDGES = ["judge-1", "judge-2"]
# Only model-a is judged by both: with two models in common (model-a and the reference) the site makes no rank
# correlation of the judges, which would take most of the build.
JUDGED_BY = {"model-b": ["judge-1"]}
N_ITEMS = 30  # 30 judgments per model and judge: more than a model page's 25; 90 in all, two viewer pages (50)


@dataclass(frozen=True)
class Built:
    out: Path
    frame: pd.DataFrame  # the judgments, read as every command reads them


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    tmp = tmp_path_factory.mktemp("viewer")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp / "jb-cache"))
        run = synthetic_run(tmp / "inputs", N_ITEMS, MODELS, JUDGES, judged_by=JUDGED_BY, answer=HOSTILE,
                            reply=HOSTILE)
        result = build_site([run], tmp / "site", n_bootstrap=20)
        frame = read_judgments([run]).frame
    assert result.n_judgments == len(frame) == 3 * N_ITEMS
    yield Built(tmp / "site", frame)


def _script_data(path: Path, prefix: str) -> Any:
    text = path.read_text(encoding="utf-8")
    assert text.startswith(prefix) and text.endswith(");\n")
    return json.loads(text[len(prefix):-3])


def _scores(frame: pd.DataFrame) -> list[Any]:
    return [row for (kind, _), group in frame.groupby(["kind", "judge"])
            for row in aggregator_of(str(kind)).aggregate(str(kind), group, n_bootstrap=0).rows]


def _disagreeing(frame: pd.DataFrame) -> int:
    """Judgments another judge decided otherwise, counted independently: each judge's outcome side by side."""
    outcome = kind_of("pairwise").label(frame)
    table = frame.assign(outcome=outcome).pivot_table(index=["model", "item_id"], columns="judge", values="outcome",
                                                      aggfunc="first")
    both = table.dropna()
    return 2 * int((both[JUDGES[0]] != both[JUDGES[1]]).sum())


def test_index_counts_are_the_tables_counts(built: Built) -> None:
    index = _script_data(built.out / "viewer" / "index.js", "JBV.index(")
    shards = index["shards"]
    assert index["total"] == len(built.frame) == sum(s["n"] for s in shards)
    assert all(s["n"] <= viewer.SHARD_ROWS for s in shards)
    failed, parse, flip, disagree = (sum(s["f"][i] for s in shards) for i in range(len(viewer.FLAGS)))
    rows = _scores(built.frame)
    assert failed == sum(r.n_failed for r in rows) > 0
    assert parse == sum(r.n_parse_failures for r in rows) > 0
    # Position flips: what each row's order agreement is the complement of.
    for row in rows:
        mine = [s for s in shards if index["facets"]["models"][s["m"]] == row.model
                and index["facets"]["judges"][s["j"]] == row.judge]
        done = sum(s["n"] for s in mine) - sum(s["f"][1] for s in mine)  # both orders parsed where none failed
        assert sum(s["f"][2] for s in mine) == pytest.approx((1 - row.order_agreement) * done)
    assert flip > 0
    assert disagree == _disagreeing(built.frame) > 0
    # Every judgment is in exactly one shard, with its texts.
    ids = []
    for number in range(len(shards)):
        shard = _script_data(built.out / "viewer" / "shards" / f"{number}.js", f"JBV.shard({number},")
        ids += [row["id"] for row in shard["rows"]]
        assert all(row["q"] and row["a"] and row["oa"] and len(row["r"]) == 2 for row in shard["rows"])
    assert sorted(ids) == list(range(len(built.frame)))


def test_every_table_row_links_to_its_judgments(built: Built) -> None:
    html = (built.out / "index.html").read_text()
    for model, judge in (("model-a", "judge-1"), ("model-a", "judge-2"), ("model-b", "judge-1")):
        # The row's reference and kind too: the same benchmark and judge may have other tables (grades, references).
        assert (f'href="viewer.html#benchmark=synthetic-pairwise&amp;judge={judge}&amp;model={model}'
                f'&amp;opponent=reference&amp;kind=pairwise"') in html
    assert "category=coding" in html and "flip=1" in html and "parse=1" in html
    # Judges side by side: a model's judgments by each judge, and those the judges decided differently.
    assert 'href="viewer.html#model=model-a&amp;judge=judge-2"' in html
    assert 'href="viewer.html#model=model-a&amp;disagree=1"' in html
    page = (built.out / "models" / "model-a.html").read_text()
    assert 'href="../viewer.html#benchmark=synthetic-pairwise&amp;judge=judge-1&amp;model=model-a' in page


def _battle(judge: str, item: str, model: str, opponent: str, preference: float) -> Judgment:
    outcome = "win" if preference > 1.5 else "loss" if preference < 1.5 else "tie"
    return flat(benchmark="b", item_id=item, category="c", model=model, judge=judge, turn=1, kind="battles",
                    opponent=opponent, verdict_ab=outcome, verdict_ba=outcome, preference=preference)


def test_battles_count_for_both_models_and_judges_agree_whichever_side_they_recorded(tmp_path: Path) -> None:
    frame = judgments_frame([
        _battle("j1", "i1", "a", "b", 2.0), _battle("j2", "i1", "b", "a", 1.0),  # a wins for both judges
        _battle("j1", "i2", "a", "b", 2.0), _battle("j2", "i2", "b", "a", 2.0),  # j2: b wins: they disagree
        _battle("j1", "i3", "b", "c", 1.5)])
    disagree, peers = viewer.judge_disagreements(frame)
    assert disagree.tolist() == [False, False, True, True, False]
    assert peers[2] == [["j2", "loss"]] and peers[3] == [["j1", "loss"]] and peers[4] is None
    viewer.write_viewer(tmp_path, frame, {}, build_date="-", build_date_source="-", viewer_href=viewer.href)
    index = _script_data(tmp_path / "viewer" / "index.js", "JBV.index(")
    models = index["facets"]["models"]
    for model in ("a", "b", "c"):  # as the model page and the battle table count: every battle it was in
        at = models.index(model)
        shown = sum(s["n"] if s["m"] == at else s["bo"].get(str(at), 0) for s in index["shards"])
        assert shown == int(((frame["model"] == model) | (frame["opponent"] == model)).sum())


# --- in the browser --------------------------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                                             "(apt-get install chromium; .ci/run installs it)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the dev extra)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def viewer_page(browser: Any, built: Built) -> Iterator[Any]:
    """The viewer opened from file://, as a user opens the site; no console error nor dialog may happen."""
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    page.goto((built.out / "viewer.html").as_uri(), wait_until="load")
    yield page
    page.close()
    assert errors == []


def _show(page: Any, hash_: str) -> int:
    """Set the filters (the page's hash, which must change) and wait for the count; returns it."""
    page.evaluate("h => { document.getElementById('v-status').dataset.done = '0'; location.hash = h; }", hash_)
    page.wait_for_selector("#v-status[data-done='1']")
    return int(page.get_attribute("#v-status", "data-total"))


def _flags_shown(page: Any) -> list[str]:
    return page.locator("article.judgment").evaluate_all(
        "all => all.map(a => Array.from(a.querySelectorAll('.flags .badge')).map(b => b.className).join(' '))")


@needs_chromium
def test_viewer_pages_through_every_judgment_from_file_url(viewer_page: Any, built: Built) -> None:
    page = viewer_page
    seen: list[str] = []
    number = 1
    while len(seen) < len(built.frame) and number < 10:
        assert _show(page, f"page={number}") == len(built.frame)
        seen += page.locator("article.judgment").evaluate_all("all => all.map(a => a.dataset.id)")
        number += 1
    assert len(seen) == len(set(seen)) == len(built.frame)


@needs_chromium
def test_viewer_filters_and_search_match_the_judgments(viewer_page: Any, built: Built, browser: Any) -> None:
    page, frame = viewer_page, built.frame
    assert _show(page, "parse=1") == int((frame["failure"] == "parse").sum())
    assert all("flag-parse" in flags for flags in _flags_shown(page))
    flips = (frame["verdict_ab"].notna() & frame["verdict_ba"].notna() & (frame["verdict_ab"] != frame["verdict_ba"]))
    assert _show(page, "flip=1") == int(flips.sum())
    assert all("flag-flip" in flags for flags in _flags_shown(page))
    assert _show(page, "disagree=1") == _disagreeing(frame)
    assert all("flag-disagree" in flags for flags in _flags_shown(page))
    assert _show(page, "disagree=1&parse=1") == 0  # a failed judgment has no outcome to disagree with
    assert _show(page, "model=model-b&category=math") == int(((frame["model"] == "model-b")
                                                              & (frame["category"] == "math")).sum())
    # The free text reaches the questions: one item's, judged for every model by every judge.
    assert _show(page, "q=QUESTION%207%3A") == 3
    assert set(page.locator("article.judgment h3").all_inner_texts()) == {"item q7 (roleplay)"}
    # A table row's link: that row's judgments, as many as the frame holds for it.
    index = browser.new_page()
    index.goto((built.out / "index.html").as_uri(), wait_until="load")
    index.locator("section.board[data-judge=judge-1] tr[data-model=model-b] a.viewer-row").click()
    index.wait_for_selector("#v-status[data-done='1']")
    assert int(index.get_attribute("#v-status", "data-total")) == int(
        ((frame["model"] == "model-b") & (frame["judge"] == "judge-1")).sum())
    assert index.locator("#f-model").input_value() == "model-b"
    index.close()


@needs_chromium
def test_viewer_hostile_answers_and_replies_never_execute(viewer_page: Any) -> None:
    page = viewer_page
    _show(page, "model=model-a")
    first = page.locator("article.judgment").first
    assert first.locator("pre.answer").inner_text().startswith(HOSTILE)
    assert all(HOSTILE in reply for reply in first.locator("pre.reply").all_inner_texts())
    assert page.locator("#v-results script, #v-results img").count() == 0
    assert page.title() != "pwned"  # the fixture checks that no alert() opened
