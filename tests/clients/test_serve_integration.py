"""A served model for real: `judgebench run --model llamacpp:PATH --judge llamacpp:PATH#json` through the CLI starts
llama.cpp's server on the SmolLM2 GGUF once for both roles, records its launch in config.json, writes results, and
leaves nothing running; the next run, on a new port, is served from the cache."""

from __future__ import annotations

import importlib.metadata
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from judgebench.clients.backends.local import model_path
from judgebench.clients.serve import parse_served

from ..run.embedded_tasks import short_answers_file

pytestmark = pytest.mark.integration


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "judgebench.cli", *args], cwd=cwd, env=dict(os.environ),
                          capture_output=True, text=True, timeout=900)


def running_commands() -> list[list[str]]:
    """The argv of every process on this machine (Linux)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                raw = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if raw:
                found.append(raw.rstrip(b"\0").decode(errors="replace").split("\0"))
    return found


def refuses_connections(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads the process table from /proc")
def test_served_llamacpp_model_and_judge_through_the_cli(tmp_path: Path) -> None:
    gguf = model_path()
    spec = f"llamacpp:{gguf}"
    out = tmp_path / "results"
    task = str(short_answers_file(tmp_path))
    args = ("run", "--model", spec, "--judge", f"{spec}#json", "--task", task, "--limit", "2", "--out", str(out),
            "--no-progress")
    first = cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr + first.stdout
    # One spec for the model and the judge: started once (a server per core, as replicas), stopped once.
    copies = parse_served(spec).server.servers(parse_served(spec))
    assert first.stderr.count("starting llama.cpp serving") == 1 and first.stderr.count("stopped llama.cpp") == 1
    assert len(list((out / ".server-logs").glob("llama-server-*.log"))) == copies

    (run_dir,) = [p for p in out.iterdir() if (p / "config.json").exists()]
    config = json.loads((run_dir / "config.json").read_text())
    launch, *others = config["launched"]
    assert len(others) == copies - 1
    command = launch["command"]
    port = int(command[command.index("--port") + 1])
    assert command == [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias",
                       gguf.stem, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
                       "--n_threads", "1", "--n_threads_batch", "1"]
    assert launch["spec"] == spec and launch["cache_identity"] == spec
    assert launch["package"] == "llama_cpp_python"
    assert launch["version"] == importlib.metadata.version("llama_cpp_python")
    assert launch["base_url"] == f"http://127.0.0.1:{port}/v1"
    assert config["model"]["base_url"] == launch["base_url"] == config["judges"][0]["endpoint"]["base_url"]
    assert config["model"]["replicas"] == [other["base_url"] for other in others]
    assert config["model"]["cache_identity"] == spec and config["judges"][0]["constrained"]

    # Results: 2 items x 2 turns answered, each turn graded by the served judge with a JSON verdict.
    answers = [json.loads(line) for line in (run_dir / "answers.jsonl").read_text().splitlines()]
    judgments = [json.loads(line) for line in (run_dir / "judgments.jsonl").read_text().splitlines()]
    assert len(answers) == 2 and all(len(a["turns"]) == 2 and a["model"] == gguf.stem for a in answers)
    assert len(judgments) == 4 and {j["judge"] for j in judgments} == {f"{gguf.stem}#json"}
    assert all(1 <= j["score"] <= 10 for j in judgments)
    assert json.loads((run_dir / "summary.json").read_text())["n_failed"] == 0

    # Nothing left behind: no process runs the launch command, nothing listens on its port.
    for each in (launch, *others):
        assert each["command"] not in running_commands()
        assert refuses_connections(int(each["command"][each["command"].index("--port") + 1]))

    # A new server on a new port: the cache knows it by its model, so nothing is asked again.
    second = cli(*args, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "requests made: 0 " in second.stdout
    assert len(list((out / ".server-logs").glob("llama-server-*.log"))) == 2 * copies
