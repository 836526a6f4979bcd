"""`judgebench run --engine ray` end to end on a local Ray instance (2 CPUs, no dashboard), against a local server
whose replies are a function of the request, so the local runner and Ray get the same reply for the same request
whatever order they send them in.

Ray's own temporary directory (/tmp/ray/session_*) is not checked for keys: Ray holds the processor's request
header in its object store for the run, which is Ray's business."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytest.importorskip("ray.data.llm", reason="the Ray engine's tests need judgebench[ray]")

from judgebench.cli import main
from judgebench.errors import BackendError
from judgebench.run.cache import Cache
from judgebench.run.ray_engine import RayEngine
from judgebench.run.runner import RetryPolicy
from judgebench.types import ChatReply, ChatRequest, Endpoint

from ..fakeserver import completion, serving

# A real Ray cluster starts for this module (a minute and more on two cores): with the real servers, in `make test`.
pytestmark = pytest.mark.integration

KEY = "sk-ray-engine-sentinel-0123456789abcdef"
VOLATILE = {"latency_s", "from_cache"}


def digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def deterministic(faults: bool) -> Callable[[dict[str, Any], set[str]], tuple[int, dict[str, Any], dict[str, str]]]:
    """Replies that depend only on the request: an answer, a grade or a pairwise verdict from the request's hash.
    With ``faults``, the answer to the neighbour question says 'poison', and judging it is refused (400, echoing
    the key the request carried); judging the lighthouse question is answered 429 once, then graded."""
    def respond(body: dict[str, Any], seen: set[str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        text = "\n".join(m["content"] for m in body["messages"])
        h = digest(json.dumps({k: v for k, v in body.items() if k != "_auth"}, sort_keys=True))
        if "comparing two AI assistants" in text:
            return 200, completion(f"Fine. [[{'ABC'[h % 3]}]]"), {}
        if "[[N]]" not in text:  # a candidate's answer
            poison = faults and "neighbour" in body["messages"][-1]["content"]
            return 200, completion(f"Answer {h % 1000}." + (" poison" if poison else "")), {}
        if "poison" in text:
            return 400, {"error": {"message": f"refused, your key was {body['_auth']}", "type": "x"}}, {}
        if faults and "lighthouse" in text and text not in seen:
            seen.add(text)
            return 429, {"error": {"message": "slow down", "type": "x"}}, {"Retry-After": "0"}
        return 200, completion(f"Graded. Rating: [[{1 + h % 10}]]"), {}

    return respond


class Server:
    """Records what arrived (bodies and Authorization headers) and answers as ``respond`` says."""

    def __init__(self, respond: Callable[[dict[str, Any], set[str]], tuple[int, dict[str, Any], dict[str, str]]]):
        self.respond = respond
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def judge_requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [b for b in self.bodies if "[[" in "\n".join(m["content"] for m in b["messages"])]


def serve(server: Server) -> Any:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self._send(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]}, {})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            auth = self.headers.get("Authorization", "")
            with server.lock:
                server.bodies.append(body)
                server.auth.append(auth)
                status, payload, headers = server.respond({**body, "_auth": auth}, server.seen)
            self._send(status, payload, headers)

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

    return serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield
    finally:
        ray.shutdown()


def run(url: str, out: Path, *extra: str, judge_options: str = "") -> Any:
    return CliRunner().invoke(main, ["run", "--task", "sample-mt", "--task", "sample-pairwise", "--limit", "2",
                                     "--model", f"fake@{url}/v1", "--judge", f"judge@{url}/v1#text{judge_options}",
                                     "--out", str(out), "--no-progress", *extra])


def judgments(out: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for path in sorted(out.glob("*/judgments.jsonl")) for line in path.open()]
    for record in records:
        record["calls"] = [{k: v for k, v in call.items() if k not in VOLATILE} for call in record["calls"]]
    return sorted(records, key=lambda r: (r["benchmark"], r["item_id"], r["turn"], r["judge"]))


def shape(out: Path) -> list[tuple[str, list[str]]]:
    """Each run directory's files, and the keys of its JSON files."""
    found = []
    for run_dir in sorted(p for p in out.iterdir() if p.is_dir()):
        for path in sorted(run_dir.iterdir()):
            keys = sorted(json.loads(path.read_text())) if path.suffix == ".json" else []
            found.append((f"{run_dir.name.split('-', 1)[1]}/{path.name}", keys))
    return found


def test_ray_judges_as_the_local_runner_does_and_a_second_run_sends_nothing(tmp_path: Path, local_ray: None) -> None:
    server = Server(deterministic(faults=False))
    with serve(server) as url:
        local = run(url, tmp_path / "local")
        assert local.exit_code == 0, local.output + local.stderr
        sent_locally = len(server.judge_requests())
        ray_run = run(url, tmp_path / "ray", "--engine", "ray")
        assert ray_run.exit_code == 0, ray_run.output + ray_run.stderr
        assert len(server.judge_requests()) == 2 * sent_locally  # Ray sent each judge request once
        again = run(url, tmp_path / "again", "--engine", "ray", "--cache", str(tmp_path / "ray" / "cache.sqlite"))
        assert again.exit_code == 0, again.output + again.stderr
        assert len(server.judge_requests()) == 2 * sent_locally  # all from the cache: nothing sent
    assert "total requests made: 0" in again.output
    assert judgments(tmp_path / "ray") == judgments(tmp_path / "local") == judgments(tmp_path / "again")
    assert len(judgments(tmp_path / "local")) == 4 + 2 and {j["failure"] for j in judgments(tmp_path / "ray")} == {None}
    assert shape(tmp_path / "ray") == shape(tmp_path / "local")
    local_cache, ray_cache = Cache(tmp_path / "local" / "cache.sqlite"), Cache(tmp_path / "ray" / "cache.sqlite")
    assert len(ray_cache) == len(local_cache) > sent_locally  # every judge reply (and every answer) stored
    local_cache.close()
    ray_cache.close()
    # Tokens per endpoint, the judges' included, as the local runner reports them (the cost report reads these).
    def usage(directory: str) -> dict[str, dict[str, tuple[int, int]]]:
        found = {}
        for path in (tmp_path / directory).glob("*/summary.json"):
            summary = json.loads(path.read_text())
            found[summary["task"]] = {name: (u["requests"], u["prompt_tokens"]) for name, u in summary["usage"].items()}
        return found

    assert usage("ray") == usage("local") and all(len(by_task) == 2 for by_task in usage("ray").values())


def test_failures_are_recorded_retries_wait_and_the_key_is_written_nowhere(
        tmp_path: Path, local_ray: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_JUDGE_KEY", KEY)
    server = Server(deterministic(faults=True))
    with serve(server) as url:
        keyed = ",key_env=RAY_JUDGE_KEY"
        result = run(url, tmp_path / "r", "--engine", "ray", "--max-attempts", "3", judge_options=keyed)
        first = server.judge_requests()
        again = run(url, tmp_path / "r", "--engine", "ray", "--max-attempts", "3", judge_options=keyed)
        resent = server.judge_requests()[len(first):]
    assert result.exit_code == 3, result.output + result.stderr  # failed judgments are recorded, not fatal
    records = [r for r in judgments(tmp_path / "r") if r["benchmark"] == "sample-mt"]
    failed = [r for r in records if r["failure"]]
    # Judging the poisoned answer (writing-1; its second turn shows the first) is refused; the rest is graded.
    assert {(r["item_id"], r["turn"], r["failure"]) for r in failed} == {("writing-1", 1, "request"),
                                                                          ("writing-1", 2, "request")}
    assert all("HTTP 400" in r["error"] and "[redacted RAY_JUDGE_KEY]" in r["error"] for r in failed)
    assert all(r["score"] is not None for r in records if not r["failure"])
    # The lighthouse judgments were refused with 429 once, then asked again and graded.
    assert sum("lighthouse" in json.dumps(b) for b in first) == 2 * 2  # two turns, each sent twice
    first_run = sorted((tmp_path / "r").glob("*sample-mt*/summary.json"))[0]  # run directories start with the time
    summary = json.loads(first_run.read_text())
    assert summary["requests"]["retries"] == 2
    # The second run asks again only what failed: the two poisoned judgments.
    assert [("poison" in json.dumps(b)) for b in resent] == [True, True]
    assert again.exit_code == 3
    # The key was sent to the judge's server, and is in no file written and no message printed.
    assert {a for a, b in zip(server.auth, server.bodies, strict=True) if "[[" in json.dumps(b)} == {f"Bearer {KEY}"}
    written = b"".join(p.read_bytes() for p in (tmp_path / "r").rglob("*") if p.is_file())
    assert KEY.encode() not in written
    assert KEY not in result.output + result.stderr + again.output + again.stderr


def test_the_same_request_twice_is_sent_once_and_a_claimed_one_is_waited_for(tmp_path: Path, local_ray: None) -> None:
    server = Server(lambda body, _: (200, completion(f"reply to {body['messages'][0]['content']}"), {}))
    with serve(server) as url:
        endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=f"{url}/v1", concurrency=2)
        ask = [ChatRequest(endpoint, (("user", text),), (("max_tokens", 8),)) for text in ("a", "b", "c")]
        other = Cache(tmp_path / "c.sqlite")  # another process's cache object on the same file
        assert other.claim(ask[2], ttl_s=60)
        threading.Timer(1.0, lambda: other.put(ask[2], ChatReply(text="from the other process"))).start()
        engine = RayEngine(Cache(tmp_path / "c.sqlite"), retry=RetryPolicy(max_attempts=2))
        found = asyncio.run(engine.outcomes([ask[0], ask[1], ask[0], ask[2]], lambda _r, _p: True))
    assert [r.text if not isinstance(r, BackendError) else r for r in found] == \
        ["reply to a", "reply to b", "reply to a", "from the other process"]
    assert sorted(b["messages"][0]["content"] for b in server.bodies) == ["a", "b"]
    assert engine.counters.requests == 2 and engine.counters.cache_hits == 1
    assert len(engine.cache) == 3
