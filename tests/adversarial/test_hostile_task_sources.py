"""A shared task file must not hang the loader (YAML aliases, nesting), read files outside its folder, or fetch
anything at `validate`; every refusal is one line naming file:line and what to do."""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.errors import JudgebenchError, TaskError
from judgebench.tasks import load_task

HEAD = "name: t\nkind: single\njudge: {prompt: single.jinja}\n"
ITEMS = "items:\n  - id: q1\n    category: writing\n    turns: [\"Write a haiku.\"]\n"
QUESTION = {"question_id": 1, "category": "writing", "turns": ["Write a haiku."]}


def validate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    return result.exit_code, result.output


def one_line_failure(task: Path) -> str:
    code, output = validate(str(task))
    assert code == 1 and output.count("\n") == 1 and output.startswith("FAIL  "), output
    assert "Traceback" not in output and "internal error" not in output
    return output


def bomb() -> str:
    """A billion-laughs in 1 KB: each anchor is nine aliases of the one before."""
    lines = ["  - &l0 [" + ", ".join(['"lol"'] * 9) + "]"]
    lines += [f"  - &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, 9)]
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_in_the_description_is_refused_in_one_line(tmp_path: Path) -> None:
    task = tmp_path / "t.yaml"
    task.write_text(HEAD + ITEMS + "description:\n" + bomb())
    assert len(task.read_bytes()) < 1024
    output = one_line_failure(task)
    assert "t.yaml:" in output and "aliases (*name) stand for more than" in output


def test_an_alias_bomb_in_an_items_category_is_refused(tmp_path: Path) -> None:
    items = ["items:", "  - id: q0", "    turns: [hi]", "    category: &l0 [" + ", ".join(['"lol"'] * 9) + "]"]
    for level in range(1, 9):
        items += [f"  - id: q{level}", "    turns: [hi]",
                  f"    category: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]"]
    (tmp_path / "t.yaml").write_text(HEAD + "\n".join(items) + "\n")
    with pytest.raises(TaskError, match=r"t\.yaml:\d+: the task file's aliases"):
        load_task(str(tmp_path / "t.yaml"))


def test_a_few_plain_aliases_are_still_read(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + "items:\n  - {id: q1, category: &c writing, turns: [hi]}\n"
                                            "  - {id: q2, category: *c, turns: [ho]}\n")
    assert [item.category for item in load_task(str(tmp_path / "t.yaml")).items] == ["writing", "writing"]


def test_deeply_nested_yaml_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + "description: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "t.yaml:4: the task file nests too deeply" in one_line_failure(tmp_path / "t.yaml")


def test_yaml_nested_past_the_limit_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + "description: " + "[" * 150 + "]" * 150 + "\n")
    with pytest.raises(TaskError, match=r"t\.yaml:4: the task file nests more than 100 levels"):
        load_task(str(tmp_path / "t.yaml"))


def test_a_recursive_alias_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + "description: &a [*a]\n" + ITEMS)
    with pytest.raises(TaskError, match=r"t\.yaml:4: YAML syntax error: found unconstructable recursive node"):
        load_task(str(tmp_path / "t.yaml"))


def test_a_nul_byte_in_a_task_file_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + ITEMS.replace("haiku", "hai\x00ku"))
    output = one_line_failure(tmp_path / "t.yaml")
    assert f"{tmp_path / 't.yaml'}:7: the task file holds a NUL byte" in output


def test_a_control_character_in_a_task_file_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + ITEMS.replace("haiku", "hai\x07ku"))
    with pytest.raises(TaskError, match=r"t\.yaml:7: the character U\+0007 is not allowed in YAML"):
        load_task(str(tmp_path / "t.yaml"))


def test_a_list_as_a_mapping_key_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + "? [a, b]\n: 1\n")
    with pytest.raises(TaskError, match=r"t\.yaml:4: a key must be a name"):
        load_task(str(tmp_path / "t.yaml"))


def test_a_device_as_a_task_file_is_not_read() -> None:
    code, output = validate("/dev/zero")
    assert code == 1 and "/dev/zero: a task file must be a regular file" in output


def _source_task(folder: Path, path: str, extra: str = "") -> Path:
    task = folder / "t.yaml"
    task.write_text(HEAD + f"source:\n  format: fastchat\n  path: {json.dumps(path)}\n" + extra)
    return task


def _questions(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(QUESTION) + "\n")
    return path


def test_an_absolute_source_path_is_refused_with_its_line(tmp_path: Path) -> None:
    outside = _questions(tmp_path / "elsewhere" / "question.jsonl")
    folder = tmp_path / "task"
    folder.mkdir()
    output = one_line_failure(_source_task(folder, str(outside)))
    assert "t.yaml:6: the path" in output and "leads outside the task's folder" in output
    assert "--allow-path" in output


def test_a_dot_dot_source_path_is_refused(tmp_path: Path) -> None:
    _questions(tmp_path / "question.jsonl")
    folder = tmp_path / "task"
    folder.mkdir()
    with pytest.raises(TaskError, match=r"t\.yaml:6: the path '\.\./question\.jsonl' leads outside"):
        load_task(str(_source_task(folder, "../question.jsonl")))


def test_a_symlink_in_the_task_folder_to_a_file_elsewhere_is_refused(tmp_path: Path) -> None:
    outside = _questions(tmp_path / "elsewhere" / "question.jsonl")
    folder = tmp_path / "task"
    folder.mkdir()
    (folder / "question.jsonl").symlink_to(outside)
    with pytest.raises(TaskError, match=r"t\.yaml:6: the path 'question\.jsonl' leads outside"):
        load_task(str(_source_task(folder, "question.jsonl")))


def test_a_references_path_outside_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "task"
    _questions(folder / "question.jsonl")
    extra = "  references: {path: /etc/passwd}\n"
    with pytest.raises(TaskError, match=r"t\.yaml:7: the path '/etc/passwd' leads outside"):
        load_task(str(_source_task(folder, "question.jsonl", extra)))


def test_a_reference_source_path_outside_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("name: t\nkind: pairwise\njudge: {prompt: pairwise.jinja}\n" + ITEMS
                                     + "reference:\n  model: r\n  source: {format: fastchat, path: /etc/passwd}\n")
    with pytest.raises(TaskError, match=r"t\.yaml:\d+: the path '/etc/passwd' leads outside"):
        load_task(str(tmp_path / "t.yaml"))


def test_a_fastchat_prompts_path_outside_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("name: t\nkind: fastchat-single\njudge:\n  prompt: single-v1\n"
                                     "  fastchat_prompts: {path: /etc/passwd}\n" + ITEMS)
    with pytest.raises(TaskError, match=r"t\.yaml:5: the path '/etc/passwd' leads outside"):
        load_task(str(tmp_path / "t.yaml"))


def test_a_path_that_is_not_a_string_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + "source:\n  format: fastchat\n  path: [a, b]\n")
    with pytest.raises(TaskError, match=r"t\.yaml:6: path must be the name of a file"):
        load_task(str(tmp_path / "t.yaml"))


def test_allow_path_on_the_command_line_lets_a_task_read_that_folder(tmp_path: Path) -> None:
    outside = _questions(tmp_path / "elsewhere" / "question.jsonl")
    folder = tmp_path / "task"
    folder.mkdir()
    code, output = validate(str(_source_task(folder, str(outside))), "--allow-path", str(outside.parent))
    assert code == 0 and "ok    " in output and "1 items" in output, output


def test_allow_paths_in_the_library_lets_a_task_read_that_folder_only(tmp_path: Path) -> None:
    outside = _questions(tmp_path / "elsewhere" / "question.jsonl")
    other = _questions(tmp_path / "other" / "question.jsonl")
    folder = tmp_path / "task"
    folder.mkdir()
    assert len(load_task(str(_source_task(folder, str(outside))), allow_paths=[outside.parent]).items) == 1
    with pytest.raises(TaskError, match="leads outside the task's folder"):
        load_task(str(_source_task(folder, str(other))), allow_paths=[outside.parent])


def test_a_file_url_is_refused(tmp_path: Path) -> None:
    _questions(tmp_path / "question.jsonl")
    (tmp_path / "t.yaml").write_text(HEAD + "source:\n  format: fastchat\n"
                                     f"  url: file://{tmp_path / 'question.jsonl'}\n  sha256: \"{'0' * 64}\"\n")
    with pytest.raises(JudgebenchError, match=r"t\.yaml:6: only https:// \(or http://\) URLs can be read"):
        load_task(str(tmp_path / "t.yaml"))


@pytest.mark.parametrize("sha256", ["../../x", "abc", "g" * 64])
def test_a_malformed_sha256_is_refused_before_anything_is_written(tmp_path: Path, sha256: str) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + "source:\n  format: fastchat\n  url: https://127.0.0.1:9/q.jsonl\n"
                                     f"  sha256: \"{sha256}\"\n")
    cache = tmp_path / "jb-cache"
    with pytest.raises(JudgebenchError, match=r"t\.yaml:\d+: sha256 must be 64 hexadecimal digits"):
        load_task(str(tmp_path / "t.yaml"))
    assert not cache.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["t.yaml"]


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[str]]]:
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = (json.dumps(QUESTION) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def test_validate_fetches_nothing_and_says_the_data_is_not_local(tmp_path: Path,
                                                                 counting_server: tuple[str, list[str]]) -> None:
    base, asked = counting_server
    digest = hashlib.sha256((json.dumps(QUESTION) + "\n").encode()).hexdigest()
    (tmp_path / "t.yaml").write_text(HEAD + f"source:\n  format: fastchat\n  url: {base}/q.jsonl\n"
                                            f"  sha256: \"{digest}\"\n")
    code, output = validate(str(tmp_path / "t.yaml"))
    assert code == 0 and output.startswith("skip  ") and "validate downloads nothing" in output, output
    assert asked == []
    # `download` is what fetches it; validate then checks the items from the mirror it filled.
    mirror = tmp_path / "mirror"
    assert CliRunner().invoke(main, ["download", str(tmp_path / "t.yaml"), "--data-dir", str(mirror)]).exit_code == 0
    code, output = validate(str(tmp_path / "t.yaml"), "--data-dir", str(mirror))
    assert code == 0 and output.startswith("ok    ") and asked == ["/q.jsonl"], output


def test_turns_given_as_a_string_are_refused_with_what_to_write(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + "items:\n  - id: q1\n    turns: \"hi\"\n")
    output = one_line_failure(tmp_path / "t.yaml")
    assert "t.yaml:6: turns must be a list" in output and 'turns: ["Write a haiku."]' in output


def test_empty_turns_are_refused(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + "items:\n  - id: q1\n    turns: []\n")
    with pytest.raises(TaskError, match=r"t\.yaml:6: turns must be a list"):
        load_task(str(tmp_path / "t.yaml"))


def test_a_missing_prompt_template_names_the_task_line_and_the_folders_searched(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("name: t\nkind: single\njudge:\n  prompt: nowhere.jinja\n" + ITEMS)
    output = one_line_failure(tmp_path / "t.yaml")
    assert f"{tmp_path / 't.yaml'}:4: prompt template 'nowhere.jinja' not found in {tmp_path}" in output


def test_a_missing_reference_template_is_refused_by_run_in_one_line_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("name: t\nkind: single\njudge:\n  prompt: single.jinja\n"
                                     "  reference_prompt: gone.jinja\n" + ITEMS)
    result = CliRunner().invoke(main, ["run", "--task", str(tmp_path / "t.yaml"), "--dry-run", "--out",
                                       str(tmp_path / "out"), "--model", "m@http://127.0.0.1:9/v1",
                                       "--judge", "j@http://127.0.0.1:9/v1"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "t.yaml:5: prompt template 'gone.jinja' not found" in result.stderr


def _run(task: Path, out: Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["run", "--task", str(task), "--dry-run", "--out", str(out), "--model",
                                       "m@http://127.0.0.1:9/v1", "--judge", "j@http://127.0.0.1:9/v1"])
    return result.exit_code, result.stdout, result.stderr


def test_an_alias_bomb_given_to_run_is_one_line_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(HEAD + ITEMS + "description:\n" + bomb())
    code, stdout, stderr = _run(tmp_path / "t.yaml", tmp_path / "out")
    assert code == 1 and stdout == "" and stderr.count("\n") == 1 and "aliases (*name) stand for more" in stderr


def test_a_hostile_template_given_to_run_is_one_line_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "evil.jinja").write_text("{% block user %}{{ '%2000000000d' % 1 }}{% endblock %}")
    (tmp_path / "t.yaml").write_text("name: t\nkind: single\njudge: {prompt: evil.jinja}\n" + ITEMS)
    code, _stdout, stderr = _run(tmp_path / "t.yaml", tmp_path / "out")
    assert code == 1 and stderr.count("\n") == 1, stderr
    assert "evil.jinja:1: refused by the template sandbox" in stderr


def test_download_refuses_a_path_outside_the_task_in_one_line_on_stderr(tmp_path: Path) -> None:
    folder = tmp_path / "task"
    folder.mkdir()
    result = CliRunner().invoke(main, ["download", str(_source_task(folder, "/etc/passwd")), "--data-dir",
                                       str(tmp_path / "mirror")])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "t.yaml:6: the path '/etc/passwd' leads outside the task's folder" in result.stderr


@pytest.mark.parametrize("name", ["/etc/passwd", "../../etc/hostname"])
def test_a_template_named_outside_the_task_folder_is_refused_with_its_line(tmp_path: Path, name: str) -> None:
    task = tmp_path / "t.yaml"
    task.write_text(f"name: t\nkind: single\njudge:\n  prompt: {name}\n  scale: [1, 10]\nitems:\n"
                    "  - id: a\n    turns: [hi]\n")
    with pytest.raises(TaskError, match=rf"^{re.escape(str(task))}:4: the template .* is outside the task's folder"):
        load_task(str(task))
