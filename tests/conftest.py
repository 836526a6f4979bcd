"""Shared fixtures: the real data in ../shared/data and the real embedded llama.cpp server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("JUDGEBENCH_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the public benchmark data is not at {SHARED_DATA} (set JUDGEBENCH_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def embedded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The real llama.cpp server on SmolLM2-135M-Instruct, on a free loopback port, for the whole session."""
    from judgebench.run.backends.local import start_server

    server = start_server(log_dir=tmp_path_factory.mktemp("server-logs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _isolated_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp_path / "jb-cache"))
