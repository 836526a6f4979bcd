"""Task files are shared: a hostile one must not run code or read files outside its place, and a broken one is
a one-line error naming file:line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from judgebench.cli import main

TASK = """name: t
kind: single
judge:
  prompt: evil.jinja
items:
  - id: q1
    category: writing
    turns: ["Write a haiku."]
"""


def validate(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", str(path)])
    return result.exit_code, result.output


def test_template_cannot_run_shell_commands(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    (tmp_path / "evil.jinja").write_text(
        "{% block user %}{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}"
        "{{ turns }}{% endblock %}")
    (tmp_path / "t.yaml").write_text(TASK)
    code, output = validate(tmp_path / "t.yaml")
    assert code == 1 and not marker.exists()
    assert "evil.jinja:1: refused by the template sandbox" in output and "Traceback" not in output


def test_template_cannot_reach_python_through_attributes(tmp_path: Path) -> None:
    (tmp_path / "evil.jinja").write_text("{% block user %}{{ ''.__class__.__mro__[1].__subclasses__() }}"
                                         "{{ turns }}{% endblock %}")
    (tmp_path / "t.yaml").write_text(TASK)
    code, output = validate(tmp_path / "t.yaml")
    assert code == 1 and "refused by the template sandbox" in output


def test_missing_include_in_a_template_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "evil.jinja").write_text("{% block user %}{% include 'nowhere.jinja' %}{{ turns }}{% endblock %}")
    (tmp_path / "t.yaml").write_text(TASK)
    code, output = validate(tmp_path / "t.yaml")
    assert code == 1 and "template 'nowhere.jinja' not found" in output and output.count("\n") == 1


def test_template_search_does_not_leave_the_tasks_place(tmp_path: Path) -> None:
    (tmp_path / "secret.jinja").write_text("{% block user %}secret{% endblock %}")
    task_dir = tmp_path / "a" / "b"
    task_dir.mkdir(parents=True)
    (task_dir / "t.yaml").write_text(TASK.replace("evil.jinja", "../../secret.jinja"))
    code, output = validate(task_dir / "t.yaml")
    assert code == 1 and "t.yaml:" in output and "is outside the task's folder" in output


def test_include_cannot_read_files_elsewhere_on_the_machine(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text(TASK)
    task_dir = tmp_path / "tasks"
    task_dir.mkdir()
    for include in ("../outside.yaml", str(outside), "/etc/passwd"):
        (task_dir / "t.yaml").write_text(f"include: {include}\nname: x\n")
        code, output = validate(task_dir / "t.yaml")
        assert code == 1, include
        assert f"{task_dir / 't.yaml'}:1: include" in output and "is refused" in output, output


def test_include_of_a_built_in_task_still_works(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text("include: sample-mt.yaml\nname: mine\n")
    code, output = validate(tmp_path / "t.yaml")
    assert code == 0, output


def test_a_symlinked_template_cannot_send_a_file_from_elsewhere_to_the_judge(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:secret")
    task_dir = tmp_path / "task"
    task_dir.mkdir()
    (task_dir / "link.jinja").symlink_to(secret)
    (task_dir / "evil.jinja").write_text("{% block user %}{% include 'link.jinja' %}{{ turns }}{% endblock %}")
    (task_dir / "t.yaml").write_text(TASK)
    code, output = validate(task_dir / "t.yaml")
    assert code == 1 and "template 'link.jinja' not found" in output and "root:x" not in output


def test_a_template_cannot_hang_or_exhaust_the_process(tmp_path: Path) -> None:
    for body in ("{{ 'a' * 10**10 }}", "{{ [1] * 10**9 }}", "{{ 2 ** 1000000000 }}",
                 "{% for i in range(10**9) %}{% endfor %}",
                 "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"):
        (tmp_path / "evil.jinja").write_text("{% block user %}" + body + "{{ turns }}{% endblock %}")
        (tmp_path / "t.yaml").write_text(TASK)
        code, output = validate(tmp_path / "t.yaml")
        assert code == 1 and "evil.jinja:1:" in output and output.count("\n") == 1, body
