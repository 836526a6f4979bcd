"""Data by URL from a local mirror (--data-dir, JUDGEBENCH_DATA_DIR) and `judgebench download`: tasks that read by
URL run with no network, every file checked by its sha256, and no URL or hash can write outside the folders."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.errors import DataError
from judgebench.tasks.fetch import DATA_DIR_ENV, recording, resolve_data, using_data_dirs

PAYLOAD = b'{"question_id": 1, "category": "writing", "turns": ["Write a haiku."]}\n'
SHA = hashlib.sha256(PAYLOAD).hexdigest()
URL = "https://example.org/data/v1/question.jsonl"


def _task(folder: Path, url: str = URL, sha256: str = SHA) -> Path:
    path = folder / "t.yaml"
    path.write_text(f"name: t\nkind: single\njudge:\n  prompt: single.jinja\nsource:\n  format: fastchat\n"
                    f"  url: {url}\n  sha256: \"{sha256}\"\n")
    return path


def test_a_url_is_read_from_the_mirror_by_host_and_path(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    copy = mirror / "example.org" / "data" / "v1" / "question.jsonl"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(PAYLOAD)
    with using_data_dirs([mirror]), recording() as fetched:
        found = resolve_data(path=None, url=URL, sha256=SHA, where="t.yaml:3")
    assert found == copy
    assert [(f.url, f.origin) for f in fetched] == [(URL, "mirror")]


def test_a_gzip_copy_in_the_mirror_is_checked_once_decompressed(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    mirror = tmp_path / "mirror"
    packed = mirror / "example.org" / "data" / "v1" / "question.jsonl.gz"
    packed.parent.mkdir(parents=True)
    packed.write_bytes(gzip.compress(PAYLOAD))
    monkeypatch.setenv(DATA_DIR_ENV, str(mirror))
    found = resolve_data(path=None, url=URL, sha256=SHA, where="t.yaml:3")
    assert found.read_bytes() == PAYLOAD


def test_a_mirror_copy_of_another_version_is_an_error_not_a_silent_fallback(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    copy = mirror / "example.org" / "data" / "v1" / "question.jsonl"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(PAYLOAD + b"\n")
    with using_data_dirs([mirror]), pytest.raises(DataError, match=r"t\.yaml:3: .*does not match sha256"):
        resolve_data(path=None, url=URL, sha256=SHA, where="t.yaml:3")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "https://example.org/../../etc/passwd",
                                 "https://example.org/a/%2e%2e/b", "https://example.org/", "ftp://example.org/x",
                                 "https://example.org/x?y=1"])
def test_urls_that_are_not_plain_https_files_are_refused_before_anything_is_read(tmp_path: Path, url: str) -> None:
    with using_data_dirs([tmp_path]), pytest.raises(DataError, match=r"t\.yaml:3: "):
        resolve_data(path=None, url=url, sha256=SHA, where="t.yaml:3")
    assert list(tmp_path.iterdir()) == []


def test_a_sha256_that_is_not_one_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(DataError, match="64 hexadecimal digits"):
        resolve_data(path=None, url=URL, sha256="../../x", where="t.yaml:3")
    assert not (tmp_path / "cache").exists()


@pytest.fixture()
def file_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server serving PAYLOAD at any path; records the paths asked for."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", asked
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_fills_a_mirror_that_a_machine_without_network_then_runs_from(
        tmp_path: Path, file_server: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch) -> None:
    base, asked = file_server
    url = f"{base}/data/v1/question.jsonl"
    task = _task(tmp_path, url)
    mirror = tmp_path / "mirror"
    first = CliRunner().invoke(main, ["download", str(task), "--data-dir", str(mirror)])
    assert first.exit_code == 0, first.output
    assert "download" in first.output and "1 file(s) checked by sha256" in first.output
    port = base.rsplit(":", 1)[1]
    copy = mirror / f"127.0.0.1_{port}" / "data" / "v1" / "question.jsonl"
    assert copy.read_bytes() == PAYLOAD
    # Again: nothing is downloaded, the copy is checked.
    again = CliRunner().invoke(main, ["download", str(task), "--data-dir", str(mirror)])
    assert again.exit_code == 0 and again.output.startswith("mirror")
    assert len(asked) == 1
    # "No network": a task with the same URL on another port would fail; with the mirror the same task validates
    # without a request, from a fresh download cache.
    monkeypatch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp_path / "fresh-cache"))
    offline = CliRunner().invoke(main, ["validate", str(task), "--data-dir", str(mirror)])
    assert offline.exit_code == 0, offline.output
    assert len(asked) == 1


def test_offline_without_a_mirror_says_how_to_get_one(tmp_path: Path) -> None:
    task = _task(tmp_path, "http://127.0.0.1:9/data/question.jsonl")
    # validate downloads nothing: it skips the task, saying how to check its items.
    result = CliRunner().invoke(main, ["validate", str(task)])
    assert result.exit_code == 0 and result.output.startswith("skip  ")
    assert "t.yaml:" in result.output and "judgebench download" in result.output and "--data-dir" in result.output


def test_built_in_tasks_that_read_by_url_run_from_a_mirror_of_the_public_data(shared_mirror: Path) -> None:
    result = CliRunner().invoke(main, ["validate", "mt-bench-fastchat", "--data-dir", str(shared_mirror)])
    assert result.exit_code == 0, result.output
    assert "ok    mt-bench-fastchat: fastchat-single, benchmark mt-bench, 80 items" in result.output
