"""The generated leaderboard page in a real headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

import http.server
import shutil
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from judgebench.publish.site import build_site

from ..conftest import ROOT
from ..fakeserver import serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = ROOT / "build" / "leaderboard-screenshot.png"
AE2 = "alpaca_eval/results/{}/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
MODELS = ["claude-2", "gpt-3.5-turbo-0301", "alpaca-7b", "gpt4_1106_preview", "vicuna-13b", "phi-2"]

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium; "
                                                ".ci/run installs it)"),
]


@pytest.fixture
def served_site(shared_data: Path, tmp_path: Path) -> Iterator[str]:
    """The site built from real AlpacaEval annotations plus a small judgebench-style single-grading file,
    served over loopback (a page loaded from file:// would hide loading errors)."""
    out = tmp_path / "site"
    inputs = [shared_data / AE2.format(m) for m in MODELS]
    inputs.append(shared_data / "mt_bench_extras/third_party_alvarobartt/model_judgment/gpt-4_single.jsonl.gz")
    build_site(inputs, out, n_bootstrap=100)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    with serving(http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)) as base:
        yield f"{base}/index.html"


def test_leaderboard_page_in_headless_chromium(served_site: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (in the dev extra)")
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(served_site, wait_until="load")

        tables = page.locator("table.leaderboard")
        assert tables.count() == 2  # the AlpacaEval task and the MT-Bench grades
        alpaca = page.locator("table[data-benchmark=alpaca-eval]")
        assert alpaca.locator("tbody tr").count() == len(MODELS)

        def column(index: int) -> list[str]:
            return alpaca.locator(f"tbody tr td:nth-child({index})").all_inner_texts()

        # Sort by model name, ascending then descending.
        alpaca.locator("th", has_text="model").click()
        names = column(2)
        assert names == sorted(names, key=str.lower) or names == sorted(names)
        alpaca.locator("th", has_text="model").click()
        assert column(2) == list(reversed(names))
        # Sort by score, ascending: the numbers must come out in order.
        alpaca.locator("th", has_text="score").first.click()
        scores = [float(s) for s in column(3)]
        assert scores == sorted(scores)
        assert alpaca.locator("th[aria-sort=ascending]").count() == 1

        images = page.locator("img")
        assert images.count() >= 3
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        assert all(w > 0 for w in widths), widths

        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        browser.close()
    assert errors == []
    assert SCREENSHOT.stat().st_size > 10_000
