"""The leaderboard site at 100,000 judgments, with its judgment viewer: build time, sizes, and what a browser loads
to show the viewer's first page.

A synthetic judgebench run (tests/publish/runs.py: 200 models x 500 questions, pairwise in both orders, answers of
~600 characters and replies of ~200, plus a second judge of one model's answers so judges disagree; a second judge of
more models would add the judges' rank correlation, minutes of bootstrap that are not the viewer's) is built into a
site by `judgebench leaderboard`'s code. Reported:

- build time of the whole site, and of the viewer's part (publish.viewer.write_viewer, timed alone on the same
  judgments and texts) as a share of it: the baseline is the same build;
- the site's total size and the viewer's, index.html's weight (and the share of it that links to the viewer), the
  viewer's index and its largest shard or text pack;
- the bytes a browser loads to show the viewer's first page (measured in Chromium from file:// where it is
  installed, by summing the files it requested; otherwise the files the page needs), against all the viewer's
  bytes: what loading judgments on demand saves over one file with all of them.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judgebench.analysis.records import read_judgments
from judgebench.formats import read_texts
from judgebench.publish import viewer
from judgebench.publish.site import build_site
from tests.publish.runs import synthetic_run

N_MODELS, N_ITEMS, JUDGES = 200, 500, ["judge-1", "judge-2"]


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def _first_page_bytes(site: Path) -> tuple[int, str]:
    """(bytes loaded to show the viewer's first page, how it was measured)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        needed = [site / "viewer.html", *(site / "viewer" / a for a in viewer.ASSETS), site / "viewer" / "index.js",
                  site / "viewer" / "shards" / "0.js"]
        return sum(p.stat().st_size for p in needed), "the files the first page needs (no Chromium here)"
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.goto((site / "viewer.html").as_uri(), wait_until="load")
        page.wait_for_selector("#v-status[data-done='1']", timeout=60_000)
        shown = page.locator("article.judgment").count()
        browser.close()
    files = {Path(unquote(urlparse(url).path)) for url in requested if url.startswith("file://")}
    return sum(f.stat().st_size for f in files if f.is_file()), f"measured in Chromium from file:// ({shown} shown)"


def _link_bytes(html: str) -> int:
    """Bytes of index.html that are links to the viewer (each opening tag and its closing ``</a>``)."""
    return sum(len(tag) + len("</a>") for tag in re.findall(r'<a [^>]*href="viewer\.html[^"]*"[^>]*>', html))


def main(n_models: int = N_MODELS, n_items: int = N_ITEMS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["JUDGEBENCH_CACHE_DIR"] = str(tmp / "jb-cache")
        models = [f"model-{i:03d}" for i in range(n_models)]
        run = synthetic_run(tmp / "inputs", n_items, models, JUDGES, judged_by={m: JUDGES[:1] for m in models[1:]},
                            answer_chars=600, reply_chars=200)
        start = time.perf_counter()
        result = build_site([run], tmp / "site", n_bootstrap=20)
        build_s = time.perf_counter() - start
        # The viewer's part alone, on the same judgments and texts.
        frame = read_judgments([run]).frame
        texts = {t.key: t for t in read_texts(run, "judgebench")}
        start = time.perf_counter()
        stats = viewer.write_viewer(tmp / "viewer-alone", frame, texts, build_date="-", build_date_source="-",
                                    viewer_href=viewer.href)
        viewer_s = time.perf_counter() - start
        site = tmp / "site"
        first_page, how = _first_page_bytes(site)
        viewer_bytes = _size(site / "viewer") + _size(site / "viewer.html")
        return {
            "judgments": result.n_judgments, "shards": stats.n_shards,
            "build_s": round(build_s, 2), "viewer_write_s": round(viewer_s, 2),
            "viewer_share_of_build": round(viewer_s / build_s, 3),
            "site_mb": round(_size(site) / 1e6, 1), "viewer_mb": round(viewer_bytes / 1e6, 1),
            "index_html_kb": round(_size(site / "index.html") / 1e3, 1),
            "index_html_share_of_viewer_links": round(_link_bytes((site / "index.html").read_text())
                                                      / _size(site / "index.html"), 3),
            "viewer_index_kb": round(stats.index_bytes / 1e3, 1),
            "largest_shard_kb": round(stats.largest_shard_bytes / 1e3, 1),
            "first_page_kb": round(first_page / 1e3, 1), "first_page_measured": how,
            "first_page_share_of_viewer": round(first_page / viewer_bytes, 5),
        }


if __name__ == "__main__":
    import json

    print(json.dumps(main(*(int(a) for a in sys.argv[1:3])), indent=2))
