"""The reachability probe before a run (clients.endpoints.check_reachable), against real servers on loopback: what
counts as an answer, what a refused key and an absent server say, and that no key is ever shown."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from judgebench.clients.endpoints import check_reachable, parse_endpoint
from judgebench.errors import ConfigError
from judgebench.types import Endpoint
from judgebench.version import __version__
from tests.fakeserver import serving

SECRET = "sk-probe-secret-0123456789abcdef"


@contextmanager
def answering(status: int, seen: list[dict[str, str]] | None = None,
              headers: dict[str, str] | None = None) -> Iterator[str]:
    """A server whose every GET gets ``status`` (with ``headers``); ``seen`` collects each request's path and
    Authorization header. Yields its base URL, ending in /v1."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if seen is not None:
                seen.append({"path": self.path, "authorization": self.headers.get("Authorization", ""),
                             "user_agent": self.headers.get("User-Agent", "")})
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as base:
        yield f"{base}/v1"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _endpoint(urls: str, key_env: str | None = None) -> Endpoint:
    return parse_endpoint(f"m@{urls}", role="judge", concurrency=1, key_env=key_env)


def test_a_server_that_answers_passes_and_gets_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_KEY", SECRET)
    seen: list[dict[str, str]] = []
    with answering(200, seen) as url:
        assert check_reachable([_endpoint(url, "PROBE_KEY")], timeout_s=5) == []
    assert seen == [{"path": "/v1/models", "authorization": f"Bearer {SECRET}",
                     "user_agent": f"judgebench/{__version__}"}]


@pytest.mark.parametrize("status", [404, 500, 302])
def test_any_answer_but_a_refused_key_is_a_server_that_is_there(status: int) -> None:
    # A redirect is not followed (it would be an answer from elsewhere): the server answered.
    seen: list[dict[str, str]] = []
    with answering(status, seen, {"Location": "http://127.0.0.1:9/elsewhere"} if status == 302 else None) as url:
        assert check_reachable([_endpoint(url)], timeout_s=5) == []
    assert [s["path"] for s in seen] == ["/v1/models"]


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_names_the_variable_and_never_the_key(status: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_KEY", SECRET)
    with answering(status) as url, pytest.raises(ConfigError) as caught:
        check_reachable([_endpoint(url, "PROBE_KEY")], timeout_s=5)
    assert str(caught.value) == f"m at {url} refused the key (HTTP {status}); check PROBE_KEY"


def test_no_server_is_a_one_line_error_with_the_hint_and_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROBE_KEY", SECRET)
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    with pytest.raises(ConfigError) as caught:
        check_reachable([_endpoint(url, "PROBE_KEY")], timeout_s=5)
    message = str(caught.value)
    assert message.startswith(f"cannot reach m at {url} (ConnectionRefusedError: ")
    assert "Is the server running" in message and "\n" not in message and SECRET not in message


def test_a_server_that_never_answers_is_given_up_after_the_timeout() -> None:
    with socket.socket() as listener:  # accepts connections (the backlog does) and never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        with pytest.raises(ConfigError, match=r"cannot reach m at .* \(TimeoutError: timed out\)"):
            check_reachable([_endpoint(url)], timeout_s=0.3)


def test_a_server_that_trickles_its_answer_is_given_up_after_the_probes_bound() -> None:
    # Each byte comes before the socket's timeout, so no read times out: the probe as a whole is bounded
    # (PROBE_BOUND times the timeout), not only each read.
    stop = threading.Event()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)

        def trickle() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                    if stop.wait(0.05):
                        return
                    connection.sendall(bytes([byte]))

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        try:
            with pytest.raises(ConfigError, match=r"cannot reach m at .* \(TimeoutError"):
                check_reachable([_endpoint(url)], timeout_s=0.2)
            assert sender.is_alive()  # the server was still sending: the bound, not the server, ended the probe
        finally:
            stop.set()
            sender.join(5)


def test_one_replica_down_is_a_warning_and_all_down_an_error() -> None:
    dead = f"http://127.0.0.1:{_closed_port()}/v1"
    with answering(200) as url:
        warnings = check_reachable([_endpoint(f"{url},{dead}")], timeout_s=5)
    assert len(warnings) == 1 and warnings[0].startswith(f"cannot reach m at {dead} ")
    assert warnings[0].endswith("(starting without this replica; it is tried again during the run)")
    with pytest.raises(ConfigError, match=f"cannot reach m at {dead}"):
        check_reachable([_endpoint(f"{dead},{dead.replace('/v1', '/w/v1')}")], timeout_s=5)


def test_probes_of_several_servers_wait_at_once() -> None:
    # Each server holds its answer until both requests have arrived (at most 2 s): sent at once, neither had an
    # answer when the other arrived; sent one after the other, the second would come after the first's answer.
    both_in = threading.Event()
    arrived: list[str] = []
    answered_before: list[int] = []
    answered: list[str] = []

    class Held(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            answered_before.append(len(answered))
            arrived.append(self.path)
            if len(arrived) == 2:
                both_in.set()
            both_in.wait(2)
            answered.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Held)) as a, \
            serving(ThreadingHTTPServer(("127.0.0.1", 0), Held)) as b:
        assert check_reachable([_endpoint(f"{a}/v1"), _endpoint(f"{b}/v1")], timeout_s=5) == []
    assert answered_before == [0, 0]


def test_a_run_stopped_during_a_probe_does_not_wait_for_the_server() -> None:
    """Ctrl-C cancels the run's coroutine: the loop then ends at once, not when the held probe's socket times out
    (asyncio.to_thread's pool is joined as the loop closes: 10 s by default, for ever for a server that trickles;
    a regression fails here after 20 s)."""
    from judgebench.clients.endpoints import acheck_reachable

    with socket.socket() as listener:  # accepts connections (the backlog does) and never replies
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"

        async def stopped() -> None:
            probing = asyncio.ensure_future(acheck_reachable([_endpoint(url)], timeout_s=20))
            await asyncio.sleep(0.2)
            probing.cancel()  # what asyncio.run does to the run on KeyboardInterrupt
            with pytest.raises(asyncio.CancelledError):
                await probing

        asyncio.run(stopped())
        # The loop has ended while the probe still waits on the silent server (its thread is not joined).
        assert [t for t in threading.enumerate() if t.name == "judgebench-probe" and t.is_alive()]


@pytest.mark.parametrize("scheme", ["file", "ftp"])
def test_a_base_url_that_is_no_server_is_refused_without_opening_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     scheme: str) -> None:
    # OPENAI_BASE_URL comes from the environment unchecked: the probe speaks HTTP only, and says so in one line
    # (urllib would open a local file, and a file's answer has no status).
    (tmp_path / "models").write_text("not a server")
    base = tmp_path.as_uri() if scheme == "file" else "ftp://127.0.0.1:9/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", base)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    endpoint = parse_endpoint("gpt-4o@openai", role="judge", concurrency=1)
    with pytest.raises(ConfigError) as caught:
        check_reachable([endpoint], timeout_s=0.5)
    message = str(caught.value)
    assert "not an http:// or https:// URL" in message and SECRET not in message and "\n" not in message
