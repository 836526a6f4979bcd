"""Shared fixtures: the real data in ../shared/data and the real embedded llama.cpp server."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("JUDGEBENCH_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the public benchmark data is not at {SHARED_DATA} (set JUDGEBENCH_SHARED_DATA)")
    return SHARED_DATA


def mirror_of(shared: Path, target: Path) -> Path:
    """A data mirror (tasks.fetch: DIR/<host>/<path of the URL>) of the public data, laid out as the tasks' URLs name
    it: every file of ``shared``'s MANIFEST.jsonl at raw.githubusercontent.com/<repo>/<commit>/<path> (a link to the
    staged copy, with ``.gz`` where it is stored compressed)."""
    import json

    for line in (shared / "MANIFEST.jsonl").read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        link = target / "raw.githubusercontent.com" / entry["repo"] / entry["commit"] / entry["path"]
        if entry.get("gzip"):
            link = link.with_name(link.name + ".gz")
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to((shared / entry["staged"]).resolve())
    return target


@pytest.fixture(scope="session")
def shared_mirror(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The public data as a data mirror: set JUDGEBENCH_DATA_DIR to it and every task whose URLs point at those
    files runs offline."""
    return mirror_of(shared_data, tmp_path_factory.mktemp("data-mirror"))


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The real llama.cpp server on SmolLM2-135M-Instruct, on a free loopback port, for the whole session."""
    from judgebench.clients.backends.local import start_server

    server = start_server(log_dir=tmp_path_factory.mktemp("server-logs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", autouse=True)
def _shared_data_allowed() -> Iterator[None]:
    """Module- and session-scoped fixtures load tasks too (before any function-scoped fixture runs): the shared
    data folder is allowed to them as to every test (see _isolated_cache_dir)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUDGEBENCH_ALLOW_PATH", str(SHARED_DATA))
        yield


@pytest.fixture(autouse=True)
def _isolated_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp_path / "jb-cache"))
    # Task files the tests write beside tmp_path name the public data in shared/ by absolute path: the one folder
    # outside a task's own they may read (as `--allow-path` allows it a user); anything else is still refused.
    monkeypatch.setenv("JUDGEBENCH_ALLOW_PATH", str(SHARED_DATA))



# Tests that share an expensive fixture run on one xdist worker, so it is built once: the embedded llama.cpp server
# (one per session, not one per worker, whose threads would fight for the same cores), and a module's own
# module-scoped fixtures (a browser, a built site, a fitted table). Found by reading the test files: xdist's own
# `xdist_group` marks do nothing under pytest 9 (they rename a node id that pytest no longer stores there).
EMBEDDED_GROUP = "embedded-server"
_USES_EMBEDDED = re.compile(r"[(,]\s*embedded_server\b")
_MODULE_FIXTURE = re.compile(r"@pytest\.fixture\(scope=[\"']module[\"']")


def shared_fixture_groups(tests: Path) -> dict[str, str]:
    """Test module (its node id, relative to the repository) -> the group its tests run in together."""
    groups = {}
    for path in sorted(tests.rglob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        module = path.relative_to(ROOT).as_posix()
        if _USES_EMBEDDED.search(text):
            groups[module] = EMBEDDED_GROUP
        elif _MODULE_FIXTURE.search(text):
            groups[module] = module
    return groups


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` (as `make test` runs): every test goes to whichever worker is free, except the groups
    above, each of which goes to one worker."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    groups = shared_fixture_groups(ROOT / "tests")

    class SharedFixtureScheduling(LoadGroupScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return groups.get(nodeid.split("::", 1)[0], nodeid)

    return SharedFixtureScheduling(config, log)
