"""Task files: loading, include, and the errors a user gets for bad ones."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from judgebench.cli import main
from judgebench.errors import TaskError
from judgebench.judging.kinds import kind_of
from judgebench.tasks import builtin_task_names, load_task
from judgebench.tasks.builtin import prompts_dir
from judgebench.types import Candidate, Endpoint, Judge

ENDPOINT = Endpoint(provider="openai", name="j", model="j", base_url="http://127.0.0.1:9/v1")


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


SINGLE = """
name: t
kind: single
judge:
  prompt: single.jinja
items:
  - id: a
    category: writing
    turns: [Hello there, And again]
  - id: b
    category: math
    turns: ["What is 2+2?"]
"""


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", "name: t\nkind: single\njudge:\n  prompt: [unclosed\n")
    with pytest.raises(TaskError, match=r"bad\.yaml:5: YAML syntax error"):
        load_task(str(path))


def test_unknown_field_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path / "t.yaml", SINGLE.replace("judge:\n  prompt", "judge:\n  promt"))
    with pytest.raises(TaskError, match=r"t\.yaml:4: unknown field 'promt' in judge; did you mean 'prompt'\?"):
        load_task(str(path))
    path = write(tmp_path / "t2.yaml", SINGLE.replace("kind: single", "kind: single\ndescripton: x"))
    with pytest.raises(TaskError, match=r"t2\.yaml:3: unknown field 'descripton'.*did you mean 'description'"):
        load_task(str(path))


def test_a_mistyped_source_format_names_its_line_and_the_closest_format(tmp_path: Path) -> None:
    (tmp_path / "q.json").write_text("[]")
    path = write(tmp_path / "s.yaml", "name: t\nkind: single\njudge:\n  prompt: single.jinja\n"
                                      "source:\n  format: alpaca-eval\n  path: q.json\n")
    with pytest.raises(TaskError, match=r"s\.yaml:6: source format must be one of fastchat, alpaca_eval, "
                                        r"arena_hard, scalerlab_judgebench, healthbench, wildbench; did you mean "
                                        r"'alpaca_eval'\?"):
        load_task(str(path))


def test_duplicate_item_ids_name_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.yaml", SINGLE.replace("- id: b", "- id: a"))
    with pytest.raises(TaskError) as info:
        load_task(str(path))
    message = str(info.value)
    assert "id 'a'" in message and "dup.yaml:9" in message and "dup.yaml:6" in message


def test_duplicate_ids_make_no_request(tmp_path: Path) -> None:
    """The run stops at load time, before any server is contacted or any result written."""
    from click.testing import CliRunner

    path = write(tmp_path / "dup.yaml", SINGLE.replace("- id: b", "- id: a"))
    out = tmp_path / "results"
    result = CliRunner().invoke(main, ["run", "--task", str(path), "--model", "m@http://127.0.0.1:9/v1",
                                       "--judge", "j@http://127.0.0.1:9/v1", "--out", str(out)])
    assert result.exit_code != 0
    assert "duplicate item ids" in result.output
    assert not out.exists()


def test_missing_template_variable_names_template_line(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    write(tmp_path / "prompts" / "mine.jinja",
          "{% block system %}Judge.{% endblock %}\n{% block user %}\n{{ turns[0].question }}\n{{ rubric }}\n"
          "{% endblock %}\n")
    path = write(tmp_path / "t.yaml", SINGLE.replace("single.jinja", "mine.jinja"))
    task = load_task(str(path))
    candidate = Candidate("t", "a", "m", ("x", "y"))
    with pytest.raises(TaskError, match=r"mine\.jinja:4: 'rubric' is undefined"):
        kind_of(task.kind).requests(task, candidate, task.items[0], Judge("j", ENDPOINT))


def test_include_inherits_and_overrides(tmp_path: Path) -> None:
    write(tmp_path / "base.yaml", SINGLE)
    child = write(tmp_path / "child.yaml", """
        include: base.yaml
        name: child
        judge:
          scale: [0, 5]
    """)
    task = load_task(str(child))
    assert task.name == "child"
    assert task.judge.scale == (0, 5)
    assert task.judge.prompt == "single.jinja"  # inherited from the base
    assert [i.id for i in task.items] == ["a", "b"]


def test_pairwise_reference_must_match_items(tmp_path: Path) -> None:
    path = write(tmp_path / "p.yaml", """
        name: p
        kind: pairwise
        judge: {prompt: pairwise.jinja}
        items:
          - {id: q1, turns: [one]}
          - {id: q2, turns: [two]}
        reference:
          model: ref
          answers: {q1: first, q3: third}
    """)
    with pytest.raises(TaskError) as info:
        load_task(str(path))
    assert "no reference answer for item(s) q2" in str(info.value)
    assert "unknown item(s) q3" in str(info.value)


def test_unknown_task_name_suggests() -> None:
    with pytest.raises(TaskError, match="did you mean 'sample-mt'"):
        load_task("sample-mtt")


def _offline_variant(name: str, tmp_path: Path, shared_data: Path) -> str:
    """Built-in tasks that read data by URL are pointed at the same files in ../shared/data."""
    overrides = {
        "mt-bench": f"source:\n  path: {shared_data}/mt_bench/question.jsonl\n  references:\n"
                    f"    path: {shared_data}/mt_bench/reference_answer/gpt-4.jsonl\n",
        # Its template (judge.files) comes from the mirror: a protocol file's path must be in the task's folder.
        "alpaca-eval-2": "reference:\n  source:\n"
                         f"    path: {shared_data}/alpaca_eval/results/gpt4_1106_preview/model_outputs.json\n",
        "alpaca-eval-2-both-orders": "reference:\n  source:\n    path: "
                                     f"{shared_data}/alpaca_eval/results/gpt4_1106_preview/model_outputs.json\n",
        "mt-bench-battles": f"source:\n  path: {shared_data}/mt_bench/question.jsonl\n  references:\n"
                            f"    path: {shared_data}/mt_bench/reference_answer/gpt-4.jsonl\n",
        "mt-bench-fastchat": f"source:\n  path: {shared_data}/mt_bench/question.jsonl\n  references:\n"
                             f"    path: {shared_data}/mt_bench/reference_answer/gpt-4.jsonl\n"
                             f"judge:\n  fastchat_prompts:\n    path: {shared_data}/mt_bench/judge_prompts.jsonl\n",
    }
    if name not in overrides:
        return name
    path = tmp_path / f"{name}-local.yaml"
    path.write_text(f"include: {name}.yaml\n{overrides[name]}")
    return str(path)


# Arena-Hard's judge files are not in the shared data: its tasks are loaded and rendered with stand-ins for them in
# tests/protocols/test_arena_hard.py.
@pytest.mark.parametrize("name", [n for n in builtin_task_names() if not n.startswith("arena-hard-")])
def test_every_builtin_task_loads_and_renders(name: str, tmp_path: Path, shared_data: Path, shared_mirror: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract test: every task file loads, and every prompt renders in both verdict modes."""
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(shared_mirror))  # tasks without a local variant read the mirror
    task = load_task(_offline_variant(name, tmp_path, shared_data))
    assert task.items
    ids = [i.id for i in task.items]
    assert len(ids) == len(set(ids))
    modes = ((Judge("text", ENDPOINT, False),) if kind_of(task.kind).text_verdicts_only  # published protocols
             else (Judge("json", ENDPOINT, True), Judge("text", ENDPOINT, False)))
    for judge in modes:
        for item in task.items[:40]:
            candidate = Candidate(task.benchmark, item.id, "m", tuple("answer" for _ in item.turns))
            # A battles task compares two candidates; the other kinds ignore the opponent.
            opponent = Candidate(task.benchmark, item.id, "o", tuple("other answer" for _ in item.turns))
            requests = kind_of(task.kind).requests(task, candidate, item, judge, opponent)
            assert requests
            for request in requests:
                assert request.chat.messages[-1][0] == "user"
                # A grading kind judges each turn: its first request has not reached the last turn.
                assert item.turns[-1][:40] in request.chat.messages[-1][1] or kind_of(task.kind).has_grades


def test_mt_bench_task_reads_fastchat_files(tmp_path: Path, shared_data: Path) -> None:
    task = load_task(_offline_variant("mt-bench", tmp_path, shared_data))
    assert len(task.items) == 80
    by_category: dict[str, int] = {}
    for item in task.items:
        by_category[item.category] = by_category.get(item.category, 0) + 1
        assert len(item.turns) == 2
    assert by_category == {c: 10 for c in ("writing", "roleplay", "reasoning", "math", "coding", "extraction",
                                            "stem", "humanities")}
    graded_with_reference = [i for i in task.items if i.category in task.judge.reference_categories]
    assert len(graded_with_reference) == 30
    assert all(len(i.reference) == 2 for i in graded_with_reference)  # GPT-4's two-turn reference answers


def test_alpaca_eval_task_reads_model_outputs(tmp_path: Path, shared_data: Path, shared_mirror: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(shared_mirror))  # AlpacaEval's template, by URL
    task = load_task(_offline_variant("alpaca-eval-2", tmp_path, shared_data))
    assert len(task.items) == 805
    assert task.reference_model == "gpt4_1106_preview"
    assert task.reference_for(task.items[0].id)[0]


def test_url_data_offline_gives_clear_error(tmp_path: Path) -> None:
    path = write(tmp_path / "u.yaml", """
        name: u
        kind: single
        judge: {prompt: single.jinja}
        source:
          format: fastchat
          url: http://127.0.0.1:9/question.jsonl
          sha256: "0000000000000000000000000000000000000000000000000000000000000000"
    """)
    with pytest.raises(TaskError, match=r"u\.yaml:6: cannot download .*Offline\?.*path:"):
        load_task(str(path))


def test_builtin_prompts_exist() -> None:
    assert (prompts_dir() / "single.jinja").exists()


def test_template_error_stops_a_run_before_any_request(tmp_path: Path) -> None:
    """A missing variable is reported before generation starts: the server is never contacted, nothing
    is written."""
    from click.testing import CliRunner

    from tests.fakeserver import Script, fake_server

    (tmp_path / "prompts").mkdir()
    write(tmp_path / "prompts" / "mine.jinja", "{% block user %}{{ turns[0].question }} {{ rubric }}{% endblock %}\n")
    path = write(tmp_path / "t.yaml", SINGLE.replace("single.jinja", "mine.jinja"))
    script = Script([("ok", "never")])
    out = tmp_path / "results"
    with fake_server(script) as url:
        result = CliRunner().invoke(main, ["run", "--task", str(path), "--model", f"m@{url}", "--judge", f"j@{url}",
                                           "--out", str(out)])
    assert result.exit_code != 0 and "'rubric' is undefined" in result.output
    assert script.requests == []
    assert not any(p.is_dir() for p in out.iterdir()) if out.exists() else True


def test_no_built_in_task_found_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installation that lost its tasks says so, and exits non-zero, instead of listing nothing."""
    from judgebench.tasks import builtin

    monkeypatch.setattr(builtin, "tasks_dir", lambda: tmp_path)
    result = CliRunner().invoke(main, ["tasks"])
    assert result.exit_code == 1 and "no built-in task found" in result.output
