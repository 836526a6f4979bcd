"""The arena's JSON API over a real uvicorn on loopback: auth, refusals, CSRF, headers, no model name before a
vote; and the real `judgebench arena serve` keeping votes and pending battles across a restart."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx

from judgebench.arena import store
from judgebench.arena.app import MAX_BODY, STATIC
from judgebench.arena.pool import Pool
from judgebench.arena.store import read_votes

from ..conftest import ROOT
from ..terminal import sigint_as_in_a_terminal
from .conftest import MODELS, Served, invite, serve_arena

NAMES = [*MODELS, *MODELS.values()]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_no_model_name(text: str) -> None:
    lowered = text.lower()
    for name in NAMES:
        assert name.lower() not in lowered, f"{name} in a response before the vote"


def test_without_a_valid_token_everything_is_401(served: Served) -> None:
    with httpx.Client(timeout=60, base_url=served.base) as client:
        for method, path in [("GET", "/api/battle"), ("POST", "/api/vote"), ("GET", "/api/ranking"),
                             ("GET", "/ranking"), ("POST", "/api/logout")]:
            assert client.request(method, path).status_code == 401, path
        assert client.get("/api/battle", headers=bearer("arena-not-a-token")).status_code == 401
        assert client.get("/api/battle", headers={"Authorization": "Basic abc"}).status_code == 401
        assert client.post("/api/login", json={"token": "arena-not-a-token"}).status_code == 401
        assert client.get("/").status_code == 200  # the login page itself is public
        assert client.get("/api/me").json() == {"voter": None, "csrf": None}


def test_battles_votes_and_refusals_with_a_bearer_token(served: Served) -> None:
    alice, bob = invite(served.db, "alice"), invite(served.db, "bob")
    with httpx.Client(timeout=60, base_url=served.base) as client:
        first = client.get("/api/battle", headers=bearer(alice))
        assert first.status_code == 200 and first.headers["content-type"] == "application/json"
        shown = first.json()
        assert set(shown) == {"battle_id", "category", "questions", "answer_a", "answer_b"}
        assert_no_model_name(first.text)
        assert len(shown["questions"]) == len(shown["answer_a"]) == len(shown["answer_b"]) == 2
        again = client.get("/api/battle", headers=bearer(alice))
        assert again.json() == shown  # the pending battle, not a new one
        # Bob cannot vote on Alice's battle (it does not exist for him), nor with a bad body.
        vote = {"battle_id": shown["battle_id"], "winner": "A", "reason": "more vivid"}
        assert client.post("/api/vote", json=vote, headers=bearer(bob)).status_code == 404
        for bad in [b"{not json", b"[1, 2]", json.dumps({**vote, "winner": "C"}).encode(),
                    json.dumps({**vote, "battle_id": 7}).encode(), json.dumps({**vote, "reason": 5}).encode(),
                    json.dumps({**vote, "reason": "x" * 1001}).encode()]:
            response = client.post("/api/vote", content=bad, headers={**bearer(alice),
                                                                      "content-type": "application/json"})
            assert response.status_code == 400, bad
        huge = json.dumps({**vote, "reason": "x" * (MAX_BODY + 1)}).encode()
        assert client.post("/api/vote", content=huge, headers=bearer(alice)).status_code == 413
        voted = client.post("/api/vote", json=vote, headers=bearer(alice))
        assert voted.status_code == 200
        revealed = voted.json()
        assert {revealed["model_a"], revealed["model_b"]} <= set(MODELS.values())
        assert revealed["model_a"] != revealed["model_b"] and revealed["counted"] is True
        replay = client.post("/api/vote", json=vote, headers=bearer(alice))
        assert replay.status_code == 409 and "voted on already" in replay.json()["error"]
        assert client.get("/api/battle", headers=bearer(alice)).json()["battle_id"] != shown["battle_id"]
    votes = read_votes(served.db)
    assert [(v.voter, v.winner, v.reason, v.model_a, v.model_b) for v in votes] == \
        [("alice", "A", "more vivid", revealed["model_a"], revealed["model_b"])]


def test_the_daily_cap_is_429_with_a_clear_message(tmp_path: Path, pool: Pool) -> None:
    db = tmp_path / "capped.sqlite"
    with serve_arena(db, pool, cap=2) as base, httpx.Client(timeout=60, base_url=base) as client:
        token = invite(db, "carol")
        for _ in range(2):
            shown = client.get("/api/battle", headers=bearer(token)).json()
            assert client.post("/api/vote", json={"battle_id": shown["battle_id"], "winner": "tie"},
                               headers=bearer(token)).status_code == 200
        capped = client.get("/api/battle", headers=bearer(token))
        assert capped.status_code == 429 and "today's 2 votes" in capped.json()["error"]
    assert len(read_votes(db)) == 2


def test_cookie_sessions_need_the_csrf_header_and_this_origin(served: Served) -> None:
    token = invite(served.db, "dave")
    with httpx.Client(timeout=60, base_url=served.base) as client:
        assert client.post("/api/login", json={"token": token},
                           headers={"Origin": "https://evil.example"}).status_code == 403
        login = client.post("/api/login", json={"token": token}, headers={"Origin": served.base})
        assert login.status_code == 200
        cookie = login.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and token.lower() not in cookie
        csrf = login.json()["csrf"]
        assert client.get("/api/me").json() == {"voter": "dave", "csrf": csrf}
        shown = client.get("/api/battle").json()
        vote = {"battle_id": shown["battle_id"], "winner": "B"}
        assert client.post("/api/vote", json=vote).status_code == 403  # no CSRF header
        assert client.post("/api/vote", json=vote, headers={"X-CSRF-Token": "0" * 64}).status_code == 403
        foreign = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
        assert client.post("/api/vote", json=vote, headers=foreign).status_code == 403
        cross = {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}
        assert client.post("/api/vote", json=vote, headers=cross).status_code == 403
        assert read_votes(served.db) == []
        good = client.post("/api/vote", json=vote, headers={"X-CSRF-Token": csrf, "Origin": served.base})
        assert good.status_code == 200
        assert client.get("/ranking").status_code == 200
        assert client.post("/api/logout", json={}, headers={"X-CSRF-Token": csrf}).status_code == 200
        client.cookies.clear()
        assert client.get("/api/battle").status_code == 401


def test_security_headers_and_a_page_without_inline_script(served: Served) -> None:
    with httpx.Client(timeout=60, base_url=served.base) as client:
        for path in ["/", "/static/app.js", "/api/battle"]:
            headers = client.get(path).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
            assert headers["x-content-type-options"] == "nosniff"
        page = client.get("/").text
    assert all('src="/static/' in tag for tag in re.findall(r"<script[^>]*>", page))
    for script in STATIC.glob("*.js"):
        code = script.read_text()
        assert "innerHTML" not in code and "outerHTML" not in code and "insertAdjacentHTML" not in code
        assert "eval(" not in code


def test_html_in_answers_travels_as_json_text(tmp_path: Path, pool: Pool) -> None:
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    answers = {model: {item: (hostile, hostile) for item in items} for model, items in pool.answers.items()}
    db = tmp_path / "hostile.sqlite"
    with serve_arena(db, Pool(pool.benchmark, pool.task_name, pool.items, answers)) as base:
        token = invite(db, "eve")
        response = httpx.get(f"{base}/api/battle", headers=bearer(token))
    assert response.headers["content-type"] == "application/json"
    assert response.json()["answer_a"] == [hostile, hostile]


def _start_cli(args: list[str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "judgebench.cli", "arena", "serve", *args],
                               stdout=subprocess.DEVNULL, stderr=log.open("wb"), env=env,
                               preexec_fn=sigint_as_in_a_terminal)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"serving (http://\S+)/", log.read_text())
        if found:
            return process, found.group(1)
        if process.poll() is not None:
            raise AssertionError(f"arena serve exited: {log.read_text()}")
        time.sleep(0.1)
    process.kill()
    raise AssertionError("arena serve did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_the_real_cli_server_keeps_votes_and_pending_battles_across_a_restart(
        tmp_path: Path, mt_task_file: Path, answer_files: list[Path]) -> None:
    db = tmp_path / "arena.sqlite"
    args = ["--task", str(mt_task_file), *[a for f in answer_files for a in ("--answers", str(f))], "--db", str(db),
            "--port", "0"]
    process, base = _start_cli(args, tmp_path / "serve1.log")
    try:
        invited = subprocess.run([sys.executable, "-m", "judgebench.cli", "arena", "invite", "--db", str(db), "fay"],
                                 capture_output=True, text=True, check=True,
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
        token = invited.stdout.strip().splitlines()[-1]
        voted = []
        for _ in range(3):
            shown = httpx.get(f"{base}/api/battle", headers=bearer(token)).json()
            reply = httpx.post(f"{base}/api/vote", json={"battle_id": shown["battle_id"], "winner": "A"},
                               headers=bearer(token))
            assert reply.status_code == 200
            voted.append(shown["battle_id"])
        pending = httpx.get(f"{base}/api/battle", headers=bearer(token)).json()
    finally:
        _stop(process)
    process, base = _start_cli(args, tmp_path / "serve2.log")
    try:
        assert httpx.get(f"{base}/api/battle", headers=bearer(token)).json() == pending
        ranking = httpx.get(f"{base}/api/ranking", headers=bearer(token)).json()
        assert ranking["n_votes"] == 3
    finally:
        _stop(process)
    assert [v.battle_id for v in read_votes(db)] == voted
    logs = (tmp_path / "serve1.log").read_text() + (tmp_path / "serve2.log").read_text()
    assert token not in logs and token not in invited.stderr
    voters = subprocess.run([sys.executable, "-m", "judgebench.cli", "arena", "voters", "--db", str(db)],
                            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "fay: 3 votes today, 3 in all" in voters.stdout


def test_a_public_host_warns_that_the_traffic_is_plain_http(tmp_path: Path, mt_task_file: Path,
                                                           answer_files: list[Path]) -> None:
    args = ["--task", str(mt_task_file), *[a for f in answer_files for a in ("--answers", str(f))],
            "--db", str(tmp_path / "a.sqlite"), "--port", "0", "--host", "0.0.0.0"]
    process, _ = _start_cli(args, tmp_path / "serve.log")
    _stop(process)
    assert "plain HTTP" in (tmp_path / "serve.log").read_text()


def test_one_line_errors_from_the_cli(tmp_path: Path, mt_task_file: Path, answer_files: list[Path]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cli = [sys.executable, "-m", "judgebench.cli", "arena"]
    missing = subprocess.run([*cli, "invite", "--db", str(tmp_path / "none.sqlite"), "x"], capture_output=True,
                             text=True, env=env)
    assert missing.returncode != 0 and "no arena database here" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    one = subprocess.run([*cli, "serve", "--task", str(mt_task_file), "--answers", str(answer_files[0]),
                          "--db", str(tmp_path / "a.sqlite")], capture_output=True, text=True, env=env)
    assert one.returncode != 0 and "at least two models" in one.stderr
    assert len(one.stderr.strip().splitlines()) == 1


class _Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_deeply_nested_json_is_a_400_not_a_traceback(served: Served) -> None:
    token = invite(served.db, "gus")
    deep = b"[" * 5000 + b"]" * 5000  # 10 kB: under MAX_BODY, far over the decoder's recursion limit
    assert len(deep) < MAX_BODY
    logged = _Collected()
    server_log = logging.getLogger("uvicorn.error")  # where uvicorn writes an unhandled exception's traceback
    server_log.addHandler(logged)
    try:
        with httpx.Client(timeout=60, base_url=served.base) as client:
            for path, body, headers in [("/api/vote", deep, bearer(token)),
                                        ("/api/vote", b'{"battle_id": ' + deep + b"}", bearer(token)),
                                        ("/api/login", deep, {}), ("/api/login", b'{"token": ' + deep + b"}", {})]:
                response = client.post(path, content=body, headers={**headers, "content-type": "application/json"})
                assert response.status_code == 400, (path, response.text)
                assert "nested too deeply" in response.json()["error"]
            assert client.get("/api/battle", headers=bearer(token)).status_code == 200  # the server still serves
    finally:
        server_log.removeHandler(logged)
    assert logged.records == []


def test_a_session_expires_on_the_server_whatever_the_cookie_says(served: Served) -> None:
    token = invite(served.db, "hal")
    with httpx.Client(timeout=60, base_url=served.base) as client:
        login = client.post("/api/login", json={"token": token})
        assert f"max-age={30 * 86400}" in login.headers["set-cookie"].lower()  # 30 days, as the server counts
        assert client.get("/api/battle").status_code == 200
        conn = store.connect(served.db)  # the session was made 30 days and a minute ago
        conn.execute("UPDATE sessions SET created = ?",
                     (store.timestamp(store.now_utc() - timedelta(days=30, minutes=1)),))
        conn.close()
        assert client.get("/api/battle").status_code == 401
        assert client.get("/api/me").json() == {"voter": None, "csrf": None}
