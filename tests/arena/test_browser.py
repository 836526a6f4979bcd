"""The arena's page in a real headless Chromium (Debian's package, driven by Playwright): two voters, each in their
own browser context with their own invite token, vote through a dozen battles of real MT-Bench answers. Before each
vote no model name is on the page or in any response the page received; after it both names are shown; the
votes land in the database; the ranking page shows them and updates."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judgebench.arena.pool import Pool
from judgebench.arena.store import read_votes

from ..conftest import ROOT
from .conftest import MODELS, invite, serve_arena

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = ROOT / "build"
# Every model name and file name, and the families they name, as whole words.
FORBIDDEN = re.compile(r"(?<![a-z0-9])(" + "|".join(re.escape(n) for n in [*MODELS, *MODELS.values()])
                       + r"|gpt|claude|vicuna|alpaca)(?![a-z0-9])", re.IGNORECASE)

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; "
                                                ".ci/run installs it)"),
]


@pytest.fixture
def arena_site(tmp_path: Path, pool: Pool) -> Iterator[tuple[str, Path]]:
    db = tmp_path / "arena.sqlite"
    with serve_arena(db, pool, cap=100) as base:
        yield base, db


class Voter:
    """A browser context logged in with its own token, recording what the server sent it."""

    def __init__(self, browser: Any, base: str, token: str, errors: list[str], viewport: dict[str, int]) -> None:
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.responses: list[Any] = []
        self.page.on("response", lambda response: self.responses.append(response))
        self.page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: errors.append(str(exc)))
        self.page.goto(base + "/", wait_until="load")
        self.page.fill("#token", token)
        self.page.click("#login-form button")
        self.page.wait_for_selector("#battle:not([hidden]) .answer")

    def received(self) -> str:
        """The bodies of every response since the last call."""
        bodies = [r.body().decode("utf-8", "replace") for r in self.responses if r.status < 300]
        self.responses.clear()
        return "\n".join(bodies)


def test_two_voters_vote_through_a_dozen_battles(arena_site: tuple[str, Path]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the dev extra)")
    base, db = arena_site
    errors: list[str] = []
    tokens = {name: invite(db, name) for name in ("ann", "ben")}
    revealed: list[tuple[str, str]] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        voters = [Voter(browser, base, tokens[n], errors, {"width": 1280, "height": 900}) for n in tokens]
        ranking = browser.new_context(viewport={"width": 1000, "height": 700})
        ranking_page = ranking.new_page()
        ranking_page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        ranking_page.on("pageerror", lambda exc: errors.append(str(exc)))
        for n in range(12):
            voter = voters[n % 2]
            page = voter.page
            page.wait_for_selector("#votebar:not([hidden]) [data-winner]:enabled")
            shown_text = page.inner_text("body")
            assert not FORBIDDEN.search(shown_text), FORBIDDEN.search(shown_text)
            assert not FORBIDDEN.search(voter.received())
            assert page.locator(".answer").count() == 4  # two turns, two answers each
            if n == 0:
                page.screenshot(path=str(SHOTS / "arena-battle.png"), full_page=True)
            if n % 3 == 0:
                page.fill("#reason", f"reason {n}")
            page.click(f"[data-winner={['A', 'B', 'tie', 'both_bad', 'A', 'A'][n % 6]}]")
            page.wait_for_selector("#reveal:not([hidden])")
            a, b = page.inner_text("#model-a"), page.inner_text("#model-b")
            assert {a, b} <= set(MODELS.values()) and a != b
            revealed.append((a, b))
            if n == 0:
                page.screenshot(path=str(SHOTS / "arena-after-vote.png"), full_page=True)
                # The ranking page, logged in with ann's cookie, shows the first vote.
                ranking.add_cookies(voter.context.cookies())
                ranking_page.goto(base + "/ranking", wait_until="load")
                # (Locators, not wait_for_function: the page's CSP rightly refuses evaluating strings.)
                sync_api.expect(ranking_page.locator("#ranking tbody tr")).to_have_count(2)
                assert "1 votes counted" in ranking_page.inner_text("#counts")
            voter.received()  # the vote's reply carries the names: it is after the vote
            page.click("#next")
        # The ranking updates as votes arrive (it polls): all twelve, every model that played. Each poll refits the
        # ranking, which on a loaded machine takes seconds: the wait is for the answer, not a speed limit.
        sync_api.expect(ranking_page.locator("#counts")).to_contain_text("12 votes in all", timeout=120_000)
        played = {m for pair in revealed for m in pair}
        rows = ranking_page.locator("#ranking tbody tr")
        assert rows.count() == len(played)
        listed = {rows.nth(i).get_attribute("data-model") for i in range(rows.count())}
        assert listed == played
        ranking_page.screenshot(path=str(SHOTS / "arena-ranking.png"), full_page=True)
        # A phone: the two answers stacked, not side by side.
        phone = Voter(browser, base, tokens["ann"], errors, {"width": 390, "height": 844})
        boxes = phone.page.locator(".turn").first.locator(".answer")
        first, second = boxes.nth(0).bounding_box(), boxes.nth(1).bounding_box()
        assert first is not None and second is not None and second["y"] >= first["y"] + first["height"]
        assert first["width"] <= 390
        phone.page.screenshot(path=str(SHOTS / "arena-phone.png"), full_page=False)
        browser.close()
    assert errors == [], errors
    votes = [v for v in read_votes(db) if v.check_of is None] + [v for v in read_votes(db) if v.check_of]
    assert len(read_votes(db)) == 12
    assert sorted((v.model_a, v.model_b) for v in votes) == sorted(revealed)
    assert {v.voter for v in votes} == {"ann", "ben"}
    assert sum(v.reason is not None for v in votes) == 4
    for name in ("arena-battle", "arena-after-vote", "arena-ranking", "arena-phone"):
        assert (SHOTS / f"{name}.png").stat().st_size > 10_000


def test_html_in_answers_is_shown_as_text(tmp_path: Path, pool: Pool) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the dev extra)")
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script><b>bold?</b>'
    answers = {model: {item: (hostile, hostile) for item in items} for model, items in pool.answers.items()}
    db = tmp_path / "hostile.sqlite"
    dialogs: list[str] = []
    with serve_arena(db, Pool(pool.benchmark, pool.task_name, pool.items, answers)) as base, \
            sync_api.sync_playwright() as p:
        token = invite(db, "eve")
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(base + "/", wait_until="load")
        page.fill("#token", token)
        page.click("#login-form button")
        page.wait_for_selector("#battle:not([hidden]) .answer")
        assert page.locator(".answer img, .answer script, .answer b").count() == 0
        assert page.locator(".answer .text").first.inner_text() == hostile
        browser.close()
    assert dialogs == []
