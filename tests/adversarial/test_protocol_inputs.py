"""Hostile inputs to the published-protocol machinery: task files naming devices, paths outside their folder or
tampered gzip copies, protocol names that are not names, a judge sending NaN log-probabilities, a replay server
sent malformed requests, and AlpacaEval files whose recorded completions are built to break a parser."""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.clients.backends.openai_wire import parse_reply
from judgebench.errors import BackendError, DataError, TaskError
from judgebench.replay import ReaderOptions, ReplayTable, read_recordings, replaying
from judgebench.tasks import load_task
from judgebench.tasks.fetch import resolve_data
from judgebench.types import Endpoint

CONFIG = b"system_prompt: be fair\nprompt_template: '{question_1}'\n"


def _arena_bench_task(folder: Path, path: str, sha256: str = "") -> Path:
    task = folder / "t.yaml"
    sha = f"\n      sha256: \"{sha256}\"" if sha256 else ""
    task.write_text("name: t\nkind: arena-bench-single\njudge:\n  prompt: single.jinja\n  files:\n    config:\n"
                    f"      path: {path}{sha}\nitems:\n  - {{id: '1', turns: [hi], reference: [ho]}}\n")
    return task


@pytest.mark.parametrize("path", ["/etc/passwd", "../outside.yaml", "sub/../../outside.yaml"])
def test_a_protocol_file_outside_the_task_folder_is_refused_before_it_is_read(tmp_path: Path, path: str) -> None:
    folder = tmp_path / "task"
    folder.mkdir()
    (tmp_path / "outside.yaml").write_bytes(CONFIG)
    with pytest.raises(TaskError, match=r"t\.yaml:7: judge\.files\.config\.path must be a file in the task's folder"):
        load_task(str(_arena_bench_task(folder, path)))


def test_a_device_is_not_a_data_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a regular data file"):
        resolve_data(path=Path("/dev/zero"), url=None, sha256="ab" * 32, where="t.yaml:7")


def test_a_gzip_copy_is_checked_by_the_sha256_of_what_it_holds(tmp_path: Path) -> None:
    packed = tmp_path / "config.yaml.gz"
    packed.write_bytes(gzip.compress(b"system_prompt: EVIL\n"))
    with pytest.raises(DataError, match="does not match sha256"):
        resolve_data(path=packed, url=None, sha256=hashlib.sha256(CONFIG).hexdigest(), where="t.yaml:7")
    packed.write_bytes(gzip.compress(CONFIG))
    assert resolve_data(path=packed, url=None, sha256=hashlib.sha256(CONFIG).hexdigest(), where="t.yaml:7") == packed


@pytest.mark.parametrize("protocol", ["'a\\nb'", "' padded '", "[x]", "7", "'../x'"])
def test_a_protocol_must_be_a_plain_name(tmp_path: Path, protocol: str) -> None:
    task = tmp_path / "t.yaml"
    task.write_text(f"name: t\nprotocol: {protocol}\nkind: single\njudge:\n  prompt: single.jinja\n"
                    "items:\n  - {id: '1', turns: [hi]}\n")
    with pytest.raises(TaskError, match=r"t\.yaml:2: protocol must be a name"):
        load_task(str(task))


@pytest.mark.parametrize("logprob", ["nan", "NaN", "inf", 0.5])
def test_a_log_probability_that_is_nan_or_positive_is_a_malformed_reply(logprob: object) -> None:
    body = {"choices": [{"message": {"content": "m"}, "finish_reason": "length", "logprobs": {"content": [
        {"token": "m", "logprob": -0.1, "top_logprobs": [{"token": "m", "logprob": logprob}]}]}}]}
    endpoint = Endpoint(provider="openai", name="j", model="j", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(BackendError, match=r"NaN or above 0|without token or logprob"):
        parse_reply(body, endpoint, 0.0)


def _raw_request(base_url: str, head: str, body: bytes = b"") -> bytes:
    host, port = base_url.removeprefix("http://").removesuffix("/v1").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(head.encode() + b"\r\n\r\n" + body)
        conn.shutdown(socket.SHUT_WR)
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < _length(reply):
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply


def _length(reply: bytes) -> int:
    for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


@pytest.mark.parametrize(("length", "body"), [("abc", b"{}"), ("-1", b"{}"), ("99999999999", b"")])
def test_the_replay_server_refuses_a_bad_content_length_without_hanging(length: str, body: bytes) -> None:
    with replaying(ReplayTable()) as server:
        reply = _raw_request(server.base_url, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                              f"Content-Length: {length}", body)
    assert reply.split(b" ", 2)[1] in (b"400", b"413")


def test_the_replay_server_answers_messages_that_are_not_objects_with_a_400() -> None:
    body = json.dumps({"messages": [1, 2]}).encode()
    with replaying(ReplayTable()) as server:
        reply = _raw_request(server.base_url, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                                              f"Content-Length: {len(body)}", body)
    assert reply.split(b" ", 2)[1] == b"400" and b"list of objects" in reply


@pytest.mark.parametrize("raw", ["{'logprobs': {'content': [{'token': 'm', 'top_logprobs': [{'token': 'm', "
                                 "'logprob': 1" + "0" * 400 + "}]}]}}",
                                 "[" * 100_000 + "]" * 100_000, "1" * 5000])
def test_hostile_recorded_completions_are_one_line_errors(tmp_path: Path, shared_data: Path, raw: str) -> None:
    annotations = tmp_path / "annotations.json"
    annotations.write_text(json.dumps([{"instruction": "hi", "output_1": "a", "output_2": "b", "generator_1": "x",
                                        "generator_2": "y", "preference": 1.5, "raw_completion": raw}]))
    template = shared_data / "alpaca_eval/evaluators_configs/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt"
    with pytest.raises(DataError, match=r"annotations\.json"):
        list(read_recordings(annotations, "alpaca-eval", ReaderOptions(template=template)))
    result = CliRunner().invoke(main, ["replay", str(annotations), "--format", "alpaca-eval", "--template",
                                       str(template)])
    assert result.exit_code == 1 and "internal error" not in result.output
