"""The replay judge: each request gets the reply an anchor recorded for that exact prompt and those sampling
parameters; anything else is refused with where it differs, so a replayed protocol run fails on any difference."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.formats.common import iter_jsonl
from judgebench.replay import ReplayTable, read_recordings, replaying


def _post(base_url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{base_url}/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def fastchat_file(shared_data: Path) -> Path:
    return shared_data / "mt_bench_extras" / "third_party_alvarobartt" / "model_judgment" / "gpt-4_single.jsonl.gz"


def test_every_recorded_fastchat_prompt_is_found_and_answered_with_its_judgment(fastchat_file: Path) -> None:
    table = ReplayTable.of(read_recordings(fastchat_file))
    rows = [row for _, row in iter_jsonl(fastchat_file)]
    assert len(table) == len(rows) == 800
    first = rows[0]
    with replaying(table) as server:
        status, body = _post(server.base_url, {"model": "gpt-4", "temperature": 0, "max_tokens": 2048,
                                               "messages": [{"role": "system", "content": "(FastChat's)"},
                                                            {"role": "user", "content": first["user_prompt"]}]})
    assert status == 200
    assert body["choices"][0]["message"]["content"] == first["judgment"]
    assert server.served == 1 and not server.refused


def test_a_prompt_one_character_off_is_refused_with_where_it_differs(fastchat_file: Path) -> None:
    table = ReplayTable.of(read_recordings(fastchat_file))
    prompt = next(iter_jsonl(fastchat_file))[1]["user_prompt"]
    changed = prompt[:100] + ("X" if prompt[100] != "X" else "Y") + prompt[101:]
    with replaying(table) as server:
        status, body = _post(server.base_url, {"temperature": 0, "max_tokens": 2048,
                                               "messages": [{"role": "user", "content": changed}]})
    assert status == 400
    assert "no recorded reply" in body["error"]["message"] and "differs at character 100" in body["error"]["message"]
    assert server.served == 0 and len(server.refused) == 1


def test_the_anchors_sampling_parameters_are_checked(fastchat_file: Path) -> None:
    table = ReplayTable.of(read_recordings(fastchat_file))
    prompt = next(iter_jsonl(fastchat_file))[1]["user_prompt"]
    with replaying(table) as server:
        status, body = _post(server.base_url, {"temperature": 0, "max_tokens": 512,
                                               "messages": [{"role": "user", "content": prompt}]})
    assert status == 400 and "max_tokens=2048" in body["error"]["message"]


def test_a_recorded_system_message_must_match(shared_data: Path) -> None:
    folder = shared_data / "arena_hard" / "arena-bench-v1_pr1" / "model_judgment"
    table = ReplayTable.of(read_recordings(folder / "claude-1.jsonl.gz"))
    recording = next(iter(table.by_user.values()))[0]
    assert recording.system and recording.system.startswith("Please act as an impartial judge")
    assert dict(recording.params) == {"temperature": 0, "max_tokens": 1024}  # from the config beside the files
    message = {"role": "user", "content": recording.user}
    with replaying(table) as server:
        wrong = _post(server.base_url, {"temperature": 0, "max_tokens": 1024,
                                        "messages": [{"role": "system", "content": "Be a judge."}, message]})
        right = _post(server.base_url, {"temperature": 0, "max_tokens": 1024,
                                        "messages": [{"role": "system", "content": recording.system}, message]})
    assert wrong[0] == 400 and "another system message" in wrong[1]["error"]["message"]
    assert right[0] == 200 and right[1]["choices"][0]["message"]["content"] == recording.reply


def test_the_cli_refuses_files_without_recordings_in_one_line(tmp_path: Path) -> None:
    empty = tmp_path / "x.jsonl"
    empty.write_text('{"question_id": 1, "user_prompt": "hi"}\n')
    result = CliRunner().invoke(main, ["replay", str(empty)])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith("Error: no recorded judge replies in")
