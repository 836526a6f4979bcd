"""Ctrl-C during `judgebench run`: exit status 130 and one line saying how to resume, no traceback, no click
"Aborted!", and no run directory left that holds no result. A real process gets a real SIGINT while its requests
wait on a slow server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from judgebench.formats import judgebench as store
from judgebench.run.evaluate import RunConfig, aevaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakeserver import Script, fake_server
from ..terminal import sigint_as_in_a_terminal

ROOT = Path(__file__).resolve().parents[2]


def start_run(url: str, out: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JUDGEBENCH_TRANSPORT": "lean"}
    return subprocess.Popen([sys.executable, "-m", "judgebench.cli", "run", "--task", "sample-mt", "--limit", "2",
                             "--model", f"m@{url}", "--judge", f"j@{url}", "--out", str(out), "--no-progress"],
                            env=env, cwd=out.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_as_in_a_terminal)


def interrupt_when(process: subprocess.Popen[str], sent: Callable[[], bool]) -> tuple[str, str]:
    """SIGINT once ``sent()`` (the run is then waiting on requests that hang), as a terminal's Ctrl-C."""
    deadline = time.monotonic() + 60
    while not sent() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    return process.communicate(timeout=60)


def test_ctrl_c_exits_130_with_a_resume_line_and_leaves_no_empty_run_dir(tmp_path: Path) -> None:
    script = Script([("hang",)])  # every request waits until the client hangs up
    out = tmp_path / "results"
    with fake_server(script) as url:
        process = start_run(url, out)
        _, stderr = interrupt_when(process, lambda: len(script.requests) >= 2)
    assert process.returncode == 130, stderr
    last = stderr.strip().splitlines()[-1]
    assert last == ("interrupted: run the same command again to resume (if it named a --run-id, name a new one: a "
                    "run directory is never overwritten); everything finished is cached and is not asked again")
    assert "Traceback" not in stderr and "Aborted!" not in stderr
    assert [p.name for p in out.iterdir() if p.is_dir()] == []  # nothing was answered: no run directory at all
    assert script.abandoned == len(script.requests)  # the requests in flight were dropped, not left open


def interrupted_run(tmp_path: Path, script: Script, sent: Callable[[], bool]) -> Path:
    """An in-process run cancelled once ``sent()``, as asyncio.run cancels its task on a Ctrl-C; the results
    directory."""
    endpoint = Endpoint(provider="openai", name="m", model="m", base_url="", concurrency=2, transport="lean")
    out = tmp_path / "results"
    with fake_server(script) as url:
        model = replace(endpoint, base_url=url)
        judge = replace(model, name="j", model="j")
        config = RunConfig(model=model, judges=(Judge("j", judge),), out=out, cache_path=tmp_path / "c.sqlite",
                           limit=2, progress=False, n_bootstrap=10)

        async def go() -> None:
            run = asyncio.ensure_future(aevaluate(load_task("sample-mt"), config))
            while not sent() and not run.done():
                await asyncio.sleep(0.02)
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run

        asyncio.run(go())
    return out


def test_an_interrupted_run_keeps_its_directory_once_it_holds_results(tmp_path: Path) -> None:
    """The answers come back and are written; the judge never answers: the directory holds results and stays."""
    script = Script([("fn", lambda body: None if body["model"] == "j" else "An answer.")])
    out = interrupted_run(tmp_path, script, lambda: any(r["model"] == "j" for r in list(script.requests)))
    (kept,) = store.run_dirs(out)
    assert len(store.read_jsonl(kept / store.ANSWERS)) == 2


def test_an_interrupted_run_with_nothing_written_leaves_no_directory(tmp_path: Path) -> None:
    script = Script([("hang",)])
    out = interrupted_run(tmp_path, script, lambda: len(script.requests) >= 2)
    assert [p.name for p in out.iterdir() if p.is_dir()] == []
