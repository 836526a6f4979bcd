"""The cache key, the SQLite cache, and results on disk."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import replace
from pathlib import Path

import pytest

from judgebench.errors import ResultsError
from judgebench.formats import judgebench as store
from judgebench.run.cache import Cache
from judgebench.types import ChatReply, ChatRequest, Endpoint

ENDPOINT = Endpoint(provider="openai", name="m", model="m", base_url="http://127.0.0.1:8000/v1",
                    api_key_env="OPENAI_API_KEY", concurrency=4)
REQUEST = ChatRequest(ENDPOINT, (("system", "s"), ("user", "u")), (("max_tokens", 10), ("temperature", 0.0)))


def test_cache_key_covers_what_changes_the_answer() -> None:
    key = REQUEST.cache_key()
    assert replace(REQUEST, messages=(("user", "other"),)).cache_key() != key
    assert replace(REQUEST, params=(("max_tokens", 10), ("temperature", 0.7))).cache_key() != key
    assert replace(REQUEST, response_schema='{"type": "object"}').cache_key() != key
    assert replace(REQUEST, endpoint=replace(ENDPOINT, model="other")).cache_key() != key
    assert replace(REQUEST, endpoint=replace(ENDPOINT, base_url="http://other:1/v1")).cache_key() != key
    assert replace(REQUEST, endpoint=replace(ENDPOINT, provider="anthropic")).cache_key() != key


def test_cache_key_ignores_what_cannot() -> None:
    key = REQUEST.cache_key()
    assert replace(REQUEST, endpoint=replace(ENDPOINT, concurrency=64)).cache_key() == key
    assert replace(REQUEST, endpoint=replace(ENDPOINT, api_key_env="OTHER_KEY")).cache_key() == key
    assert replace(REQUEST, endpoint=replace(ENDPOINT, name="label")).cache_key() == key
    reordered = replace(REQUEST, params=(("temperature", 0.0), ("max_tokens", 10)))
    assert reordered.cache_key() == key


def test_embedded_server_key_survives_a_new_port() -> None:
    a = Endpoint("local", "s", "s", "http://127.0.0.1:1111/v1", cache_identity="llama.cpp:model.gguf")
    b = replace(a, base_url="http://127.0.0.1:2222/v1")
    assert replace(REQUEST, endpoint=a).cache_key() == replace(REQUEST, endpoint=b).cache_key()


def test_cache_round_trip_in_wal_mode(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c.sqlite")
    reply = ChatReply("text", "stop", 5, 2, 0.1)
    assert cache.get(REQUEST) is None
    cache.put(REQUEST, reply)
    got = cache.get(REQUEST)
    assert got == replace(reply, from_cache=True)
    cache.close()
    mode = sqlite3.connect(tmp_path / "c.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_run_directories_are_never_overwritten(tmp_path: Path) -> None:
    first = store.new_run_dir(tmp_path, "task-model")
    second = store.new_run_dir(tmp_path, "task-model")
    assert first != second and first.exists() and second.exists()
    store.new_run_dir(tmp_path, "x", run_id="mine")
    with pytest.raises(ResultsError, match="never overwritten"):
        store.new_run_dir(tmp_path, "x", run_id="mine")


def test_torn_last_line_is_tolerated_but_corruption_elsewhere_is_not(tmp_path: Path) -> None:
    path = tmp_path / "judgments.jsonl"
    writer = store.JsonlWriter(path)
    writer.append({"a": 1})
    writer.append({"a": 2})
    writer.close()
    with path.open("a") as fh:
        fh.write('{"a": 3, "trunc')
    assert store.read_jsonl(path) == [{"a": 1}, {"a": 2}]
    path.write_text('{"a": 1}\n{broken\n{"a": 3}\n')
    with pytest.raises(ResultsError, match=r"judgments\.jsonl:2"):
        store.read_jsonl(path)


def test_atomic_json_write_replaces_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    store.write_json_atomic(path, {"v": 1})
    store.write_json_atomic(path, {"v": 2})
    assert json.loads(path.read_text()) == {"v": 2}
    assert list(tmp_path.iterdir()) == [path]


def test_claims_of_an_ended_process_are_taken_at_once_and_a_live_ones_are_not(tmp_path: Path) -> None:
    """A run killed mid-way leaves its claims; the rerun takes them at once instead of waiting them out (its
    --max-elapsed and a margin, minutes). A live process's claims, or another host's, are still waited for."""
    import subprocess
    import sys

    from judgebench.run import cache as cache_module

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)
    dead_pid = int(ended.stdout)
    cache = Cache(tmp_path / "c.sqlite")
    try:
        rows = [("k-dead", f"{cache_module._HOST}/{dead_pid}/x", time.time() + 3600),
                ("k-alive", f"{cache_module._HOST}/{os.getppid()}/y", time.time() + 3600),
                ("k-elsewhere", f"another-host/{dead_pid}/z", time.time() + 3600),
                ("k-old-format", "0123456789abcdef", time.time() + 3600)]
        cache._db.executemany("INSERT INTO claims (key, owner, expires) VALUES (?, ?, ?)", rows)
        assert cache.claim_many(["k-dead", "k-alive", "k-elsewhere", "k-old-format", "k-new"], 60) == {
            "k-dead", "k-new"}
        found, mine = cache.exchange((), (), ["k-dead", "k-alive"], 60)
        assert found == {} and mine == {"k-dead"}  # ours now, still
    finally:
        cache.close()


@pytest.mark.parametrize("pages", [4, 10**9])
def test_the_wal_is_checkpointed_off_the_committing_thread_and_only_past_its_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pages: int) -> None:
    """The connection that commits does not copy the WAL into the database itself (SQLite's automatic checkpoint
    would, with two fsyncs, inside the event loop's transaction; it does only when the thread has fallen behind, the
    next test); the cache's checkpointer thread does, once the WAL has grown past CHECKPOINT_PAGES. Every reply reads
    back either way, and after the cache is closed."""
    from judgebench.run import cache as cache_module

    monkeypatch.setattr(cache_module, "CHECKPOINT_PAGES", pages)
    path = tmp_path / "c.sqlite"
    cache = Cache(path)
    page_size = int(cache._db.execute("PRAGMA page_size").fetchone()[0])
    assert cache._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    empty = path.stat().st_size
    for batch in range(60):
        cache.write_many([(f"k{batch}-{i}", "m", ChatReply("x" * 500)) for i in range(40)], ())
    cache._checkpointer.close()  # (waits for a checkpoint under way)
    wal = path.with_name(path.name + "-wal").stat().st_size
    assert wal > 4 * page_size
    if pages == 4:
        assert path.stat().st_size > empty + 100 * page_size  # the rows were copied into the database
    else:
        assert path.stat().st_size == empty  # nothing copied: the WAL holds them all
    assert len(cache) == 60 * 40
    cache.close()
    reopened = Cache(path)
    assert len(reopened) == 60 * 40 and reopened.get_many(["k59-39"])["k59-39"].text == "x" * 500
    reopened.close()


def test_the_wal_stays_bounded_when_the_checkpointers_thread_does_not_keep_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The WAL starts again only when a transaction begins with all of it copied: commits that follow each other
    faster than the thread's checkpoints add frames while it copies, and the WAL grew by every commit (1.4 GB in 20 s
    of back-to-back commits). Here the thread never gets anything done (the worst lag): past OVERDUE times the limit,
    the committing connection checkpoints, and the WAL starts again."""
    from judgebench.run import cache as cache_module

    class Idle:  # a checkpointer's thread that never catches up
        def __init__(self, **_: object) -> None:
            pass

        def start(self) -> None:
            pass

        def is_alive(self) -> bool:
            return False

        def join(self) -> None:
            pass

    monkeypatch.setattr(cache_module, "CHECKPOINT_PAGES", 4)
    monkeypatch.setattr(cache_module.threading, "Thread", Idle)
    path = tmp_path / "c.sqlite"
    cache = Cache(path)
    limit = 4 * int(cache._db.execute("PRAGMA page_size").fetchone()[0])
    wal = path.with_name(path.name + "-wal")
    peak = 0
    for batch in range(200):
        cache.write_many([(f"k{batch}-{i}", "m", ChatReply("x" * 500)) for i in range(10)], ())
        peak = max(peak, wal.stat().st_size)
    assert peak < 2 * cache_module._Checkpointer.OVERDUE * limit, (peak, limit)  # (else some 300 limits)
    assert len(cache) == 200 * 10
    cache.close()
