"""The arena's fixtures: an MT-Bench task over the real questions, real answers of a few models on a few questions
(copied into tmp_path, never into the repository), and the arena served by a real uvicorn on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="pip install 'judgebench[arena]'")
import uvicorn

from judgebench.arena import store
from judgebench.arena.app import ArenaConfig, create_app
from judgebench.arena.pool import Pool, load_pool
from judgebench.tasks import load_task

# Four MT-Bench models (file stem -> the model name the file gives) and a few questions on which no answer names a
# model (checked by ``clean_questions``), so a model name on the page before a vote can only be a leak of ours.
MODELS = {"gpt-4": "gpt-4", "claude-v1": "claude-v1", "vicuna-13b-v1.3": "vicuna-13b-hao-0515",
          "alpaca-13b": "alpaca-13b"}
QUESTIONS = ["81", "82", "83", "84", "85", "86", "87", "88", "89", "90", "91", "92"]


@pytest.fixture(scope="session")
def mt_task_file(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("arena-task") / "mt.yaml"
    data = shared_data / "mt_bench"
    path.write_text(f"include: mt-bench.yaml\nsource:\n  path: {data}/question.jsonl\n"
                    f"  references: {{path: {data}/reference_answer/gpt-4.jsonl}}\n")
    return path


def subset_answers(shared_data: Path, out: Path, stems: list[str], questions: list[str]) -> list[Path]:
    """The real answer files of ``stems``, cut down to ``questions``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem in stems:
        lines = (shared_data / "mt_bench" / "model_answer" / f"{stem}.jsonl").read_text().splitlines()
        kept = [line for line in lines if str(json.loads(line)["question_id"]) in questions]
        target = out / f"{stem}.jsonl"
        target.write_text("\n".join(kept) + "\n")
        paths.append(target)
    return paths


@pytest.fixture(scope="session")
def answer_files(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return subset_answers(shared_data, tmp_path_factory.mktemp("arena-answers"), list(MODELS), QUESTIONS)


@pytest.fixture(scope="session")
def pool(mt_task_file: Path, answer_files: list[Path]) -> Pool:
    return load_pool(load_task(str(mt_task_file)), answer_files)


def invite(db: Path, name: str) -> str:
    conn = store.open_db(db)
    try:
        return store.add_voter(conn, name)
    finally:
        conn.close()


@dataclass
class Served:
    base: str
    db: Path
    pool: Pool


@contextmanager
def serve_arena(db: Path, pool: Pool, cap: int | None = None) -> Iterator[str]:
    """The arena app on a real uvicorn, on a free loopback port, in a background thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(ArenaConfig(db, pool, cap)), log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the arena server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@pytest.fixture
def served(tmp_path: Path, pool: Pool) -> Iterator[Served]:
    db = tmp_path / "arena.sqlite"
    with serve_arena(db, pool, cap=50) as base:
        yield Served(base, db, pool)
