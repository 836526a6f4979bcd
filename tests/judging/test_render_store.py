"""The store of rendered prompts beside the request cache (judging.render_store): a rerun reads each prompt it
rendered before, in another process too, and never a stale one: an edited template, include, parent or input renders
afresh, a refused render is refused again, and an entry that does not read back is rendered again."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judgebench.errors import TaskError
from judgebench.judging import prompts, render_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The variables of every render actually made (not read from a memo)."""
    made: list[dict[str, Any]] = []
    original = prompts._render

    def counting(template, search_path, variables):  # type: ignore[no-untyped-def]
        made.append(variables)
        return original(template, search_path, variables)

    monkeypatch.setattr(prompts, "_render", counting)
    yield made


def _new_process() -> None:
    """What another process starts with: no template loaded, nothing remembered in memory."""
    prompts._environment.cache_clear()
    prompts._RENDERED = prompts._Rendered()


def _edit(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # a new modification time, however coarse the clock


def _render_in_run(cache: Path, name: str, dirs: tuple[str, ...], variables: dict[str, Any]) -> prompts.Messages:
    _new_process()
    with render_store.kept_beside(cache):
        return prompts.render_messages(name, dirs, variables)


def test_a_rerun_reads_its_prompts_from_the_store(tmp_path: Path, renders: list[dict[str, Any]]) -> None:
    (tmp_path / "t.jinja").write_text("{% block system %}S{% endblock %}{% block user %}hello {{ name }}{% endblock %}")
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    first = _render_in_run(cache, "t.jinja", dirs, {"name": "a"})
    assert first == (("system", "S"), ("user", "hello a")) and len(renders) == 1
    assert render_store.path_beside(cache) == tmp_path / "c.renders.sqlite"
    assert len(render_store.RenderStore(render_store.path_beside(cache))) == 1
    assert _render_in_run(cache, "t.jinja", dirs, {"name": "a"}) == first
    assert len(renders) == 1  # read, not rendered
    # Outside a run there is no store: the in-process memo alone.
    _new_process()
    assert prompts.render_messages("t.jinja", dirs, {"name": "a"}) == first and len(renders) == 2


def test_a_changed_input_renders_afresh(tmp_path: Path, renders: list[dict[str, Any]]) -> None:
    (tmp_path / "t.jinja").write_text("{% block user %}{{ x }}|{% for k in d %}{{ k }}{% endfor %}{% endblock %}")
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    seen = [_render_in_run(cache, "t.jinja", dirs, variables) for variables in (
        {"x": "a", "d": {}}, {"x": "b", "d": {}}, {"x": 1, "d": {}}, {"x": 1.0, "d": {}}, {"x": True, "d": {}},
        {"x": None, "d": {}}, {"x": [1], "d": {}}, {"x": "a", "d": {"p": 1, "q": 2}},
        # the same mapping in another order loops in another order: another input, not the first one's render
        {"x": "a", "d": {"q": 2, "p": 1}})]
    assert [text for ((_, text),) in seen] == ["a|", "b|", "1|", "1.0|", "True|", "None|", "[1]|", "a|pq", "a|qp"]
    assert len(renders) == 9
    again = [_render_in_run(cache, "t.jinja", dirs, {"x": "a", "d": {"q": 2, "p": 1}}),
             _render_in_run(cache, "t.jinja", dirs, {"x": 1.0, "d": {}})]
    assert again == [(("user", "a|qp"),), (("user", "1.0|"),)] and len(renders) == 9


@pytest.mark.parametrize("edited", ["t.jinja", "base.jinja", "inc.jinja", "macros.jinja"])
def test_an_edited_template_parent_include_or_import_renders_afresh(tmp_path: Path, edited: str,
                                                                   renders: list[dict[str, Any]]) -> None:
    files = {
        "base.jinja": "{% block system %}base-v1{% endblock %}{% block user %}{% endblock %}",
        "inc.jinja": "inc-v1",
        "macros.jinja": "{% macro m(x) %}macro-v1 {{ x }}{% endmacro %}",
        "t.jinja": '{% extends "base.jinja" %}{% import "macros.jinja" as ms %}'
                   '{% block user %}t-v1 {% include "inc.jinja" %} {{ ms.m(x) }}{% endblock %}',
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    before = _render_in_run(cache, "t.jinja", dirs, {"x": 1})
    assert before == (("system", "base-v1"), ("user", "t-v1 inc-v1 macro-v1 1"))
    assert _render_in_run(cache, "t.jinja", dirs, {"x": 1}) == before and len(renders) == 1
    _edit(tmp_path / edited, files[edited].replace("v1", "v2"))
    after = _render_in_run(cache, "t.jinja", dirs, {"x": 1})
    assert len(renders) == 2 and after != before
    assert sum("v2" in text for _, text in after) == 1
    # In this process too (the templates loaded before the edit are reloaded, and the memo sees new objects).
    _edit(tmp_path / edited, files[edited].replace("v1", "v3"))
    with render_store.kept_beside(cache):
        assert "v3" in "".join(text for _, text in prompts.render_messages("t.jinja", dirs, {"x": 1}))


def test_a_template_of_the_same_text_under_another_name_is_another_key(tmp_path: Path) -> None:
    """The key names every template with its content: ``a`` including ``x`` is not ``a`` including ``y``."""
    (tmp_path / "x.jinja").write_text("X")
    (tmp_path / "y.jinja").write_text("Y")
    (tmp_path / "a.jinja").write_text('{% block user %}{% include name %}{% endblock %}')
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    # A computed include name cannot be known before the render: such a render is never stored.
    assert _render_in_run(cache, "a.jinja", dirs, {"name": "x.jinja"}) == (("user", "X"),)
    assert _render_in_run(cache, "a.jinja", dirs, {"name": "y.jinja"}) == (("user", "Y"),)
    assert len(render_store.RenderStore(render_store.path_beside(cache))) == 0


def test_a_refused_render_is_never_stored(tmp_path: Path, renders: list[dict[str, Any]]) -> None:
    (tmp_path / "t.jinja").write_text("{% block user %}{{ name * 100000000 }}{% endblock %}")
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    for _ in range(2):
        with pytest.raises(TaskError, match="sandbox"):
            _render_in_run(cache, "t.jinja", dirs, {"name": "xxxxxxxxxx"})
    assert len(renders) == 2
    assert len(render_store.RenderStore(render_store.path_beside(cache))) == 0
    # An undefined variable, a template with no user block: refused each time, nothing stored.
    (tmp_path / "u.jinja").write_text("{% block user %}{{ missing }}{% endblock %}")
    (tmp_path / "s.jinja").write_text("{% block system %}only a system{% endblock %}")
    for name in ("u.jinja", "s.jinja", "u.jinja", "s.jinja"):
        with pytest.raises(TaskError):
            _render_in_run(cache, name, dirs, {})
    assert len(render_store.RenderStore(render_store.path_beside(cache))) == 0


def test_a_damaged_or_foreign_entry_is_rendered_again(tmp_path: Path, renders: list[dict[str, Any]]) -> None:
    (tmp_path / "t.jinja").write_text("{% block user %}hello {{ name }}{% endblock %}")
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    assert _render_in_run(cache, "t.jinja", dirs, {"name": "a"}) == (("user", "hello a"),)
    path = render_store.path_beside(cache)
    for payload in (b"not json", b"[]", b'[["system", "no user"]]', b'[["tool", "x"]]', b'[["user", 3]]',
                    b'{"user": "x"}'):
        with sqlite3.connect(path) as db:
            db.execute("UPDATE prompts2 SET messages = ?", (payload,))
        assert _render_in_run(cache, "t.jinja", dirs, {"name": "a"}) == (("user", "hello a"),)
    assert len(renders) == 7
    assert _render_in_run(cache, "t.jinja", dirs, {"name": "a"}) == (("user", "hello a"),)
    assert len(renders) == 7  # the last render replaced the damaged entry


def test_values_json_cannot_hold_exactly_are_rendered_and_not_stored(tmp_path: Path,
                                                                    renders: list[dict[str, Any]]) -> None:
    (tmp_path / "t.jinja").write_text("{% block user %}{{ x }}{% endblock %}")
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    for value, shown in ((2 ** 70, str(2 ** 70)), ((1, 2), "(1, 2)"), (float("nan"), "nan")):
        for _ in range(2):
            assert _render_in_run(cache, "t.jinja", dirs, {"x": value}) == (("user", shown),)
    assert len(renders) == 6
    assert len(render_store.RenderStore(render_store.path_beside(cache))) == 0


def test_an_entry_longer_than_any_render_is_not_read(tmp_path: Path, renders: list[dict[str, Any]]) -> None:
    """A forged prompt for a known key, longer than the sandbox lets any render of these inputs be, is never read
    (nor sent): the prompt is rendered again and replaces it."""
    from judgebench.judging import budget

    (tmp_path / "t.jinja").write_text("{% block user %}hello {{ name }}{% endblock %}")
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    assert _render_in_run(cache, "t.jinja", dirs, {"name": "a"}) == (("user", "hello a"),)
    forged = json.dumps([["user", "x" * (13 * budget.OUTPUT_LIMIT)]]).encode()
    with sqlite3.connect(render_store.path_beside(cache)) as db:
        db.execute("UPDATE prompts2 SET messages = ?", (forged,))
    assert _render_in_run(cache, "t.jinja", dirs, {"name": "a"}) == (("user", "hello a"),)
    assert len(renders) == 2
    with sqlite3.connect(render_store.path_beside(cache)) as db:
        ((length,),) = db.execute("SELECT length(messages) FROM prompts2").fetchall()
    assert length < 100  # replaced by the real render


def test_a_store_that_cannot_be_opened_leaves_the_render_as_it_was(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.jinja").write_text("{% block user %}hello{% endblock %}")
    render_store.path_beside(tmp_path / "c.sqlite").write_bytes(b"this is not a database" * 100)
    with render_store.kept_beside(tmp_path / "c.sqlite") as store:
        assert store is None
        assert prompts.render_messages("t.jinja", (str(tmp_path),), {}) == (("user", "hello"),)
    (said,) = capsys.readouterr().err.splitlines()  # one line, saying which file and what to do
    assert said.startswith("warning: the render store ") and "c.renders.sqlite" in said and "delete" in said


def test_another_process_reads_what_one_stored(tmp_path: Path, renders: list[dict[str, Any]]) -> None:
    (tmp_path / "t.jinja").write_text("{% block user %}hello {{ name }}{% endblock %}")
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    script = ("import json, sys; from pathlib import Path; from judgebench.judging import prompts, render_store\n"
              "with render_store.kept_beside(Path(sys.argv[1])):\n"
              "    print(json.dumps(prompts.render_messages('t.jinja', (sys.argv[2],), {'name': 'b'})))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script, str(cache), dirs[0]], capture_output=True, text=True,
                          env=env, check=True)
    assert json.loads(done.stdout) == [["user", "hello b"]]
    assert _render_in_run(cache, "t.jinja", dirs, {"name": "b"}) == (("user", "hello b"),)
    assert renders == []


def test_a_cached_rerun_renders_nothing_and_sends_the_same_requests(tmp_path: Path,
                                                                     renders: list[dict[str, Any]]) -> None:
    from judgebench.formats import judgebench as store
    from judgebench.run.evaluate import RunConfig, evaluate
    from judgebench.tasks import load_task
    from judgebench.types import Endpoint, Judge

    from ..fakemodel import fake_model
    from ..fakeserver import Script

    task = load_task("sample-mt")

    def run(url: str) -> tuple[Any, list[dict[str, Any]]]:
        _new_process()
        live = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=2)
        config = RunConfig(model=live, judges=(Judge("fake-judge", live),), out=tmp_path / "r",
                           cache_path=tmp_path / "c.sqlite", limit=3, progress=False, n_bootstrap=50)
        result = evaluate(task, config)
        return result, [json.loads(line) for line in (result.run_dir / store.JUDGMENTS).read_text().splitlines()]

    with fake_model(Script([("ok", "A fine answer. Rating: [[7]]")])) as url:
        first, first_records = run(url)
        rendered = len(renders)
        assert rendered > 0 and first.n_judgments == 6
        second, second_records = run(url)
    assert len(renders) == rendered  # every prompt read from the store
    assert second.counters.requests == 0  # and every request, the same key, found in the cache
    assert [r["calls"][0]["cache_key"] for r in second_records] == [r["calls"][0]["cache_key"] for r in first_records]
    assert second.rows == first.rows


def test_templates_still_see_the_environments_globals(tmp_path: Path) -> None:
    """The loader that keeps each template's source hands jinja2's globals (range, namespace, ...) on as before."""
    (tmp_path / "t.jinja").write_text("{% block user %}{% set ns = namespace(n=0) %}{% for i in range(3) %}"
                                      "{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}{% endblock %}")
    assert _render_in_run(tmp_path / "c.sqlite", "t.jinja", (str(tmp_path),), {}) == (("user", "3"),)


def test_a_render_that_holds_a_secret_is_never_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       renders: list[dict[str, Any]]) -> None:
    """An answer can echo a key (a server that repeats its Authorization header): the answers file and the request
    cache redact it, and the store of renders must not keep it either."""
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("JUDGEBENCH_TEST_API_KEY", secret)
    (tmp_path / "t.jinja").write_text("{% block user %}answer: {{ answer }}{% endblock %}")
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    echoed = {"answer": f"my key is {secret}"}
    assert _render_in_run(cache, "t.jinja", dirs, echoed) == (("user", f"answer: my key is {secret}"),)
    assert _render_in_run(cache, "t.jinja", dirs, {"answer": "plain"}) == (("user", "answer: plain"),)
    store = render_store.path_beside(cache)
    assert secret.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob(f"{store.name}*"))
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM prompts2").fetchone()[0] == 1  # the plain render only
    assert _render_in_run(cache, "t.jinja", dirs, echoed) == (("user", f"answer: my key is {secret}"),)
    assert len(renders) == 3  # rendered again, not read: the same prompt as rendering gives


@pytest.mark.parametrize("expression", ['{{ xs|random }}', '{% filter random %}{{ xs|join }}{% endfilter %}',
                                        '{{ xs|map("random")|join }}', '{{ xs|map(name)|join }}'])
def test_a_template_that_draws_at_random_is_rendered_every_time(tmp_path: Path, expression: str,
                                                                 renders: list[dict[str, Any]]) -> None:
    """jinja2's ``random`` filter makes a render no function of its input: neither the store nor the memo keeps it
    (a rerun draws again, as it did before renders were stored), whether the template or one it includes draws."""
    (tmp_path / "draw.jinja").write_text(expression)
    (tmp_path / "t.jinja").write_text('{% block user %}{% include "draw.jinja" %}{% endblock %}')
    dirs, cache = (str(tmp_path),), tmp_path / "c.sqlite"
    variables = {"xs": ["ab", "cd"], "name": "random"}
    for _ in range(2):
        _render_in_run(cache, "t.jinja", dirs, variables)
        with render_store.kept_beside(cache):
            prompts.render_messages("t.jinja", dirs, variables)  # the same process: the memo
    assert len(renders) == 4
    with sqlite3.connect(render_store.path_beside(cache)) as db:
        assert db.execute("SELECT COUNT(*) FROM prompts2").fetchone()[0] == 0


def test_keys_that_share_a_row_never_read_each_others_prompt(tmp_path: Path) -> None:
    """The store finds a prompt by its key's first 8 bytes and checks the whole key: of two keys that share them,
    the later replaces the earlier, and the earlier is then a miss (rendered again), never the other's prompt."""
    store = render_store.RenderStore(tmp_path / "r.sqlite")
    first, second = bytes(8) + b"a" * 24, bytes(8) + b"b" * 24
    store.put(first, (("user", "first"),))
    store.flush()
    assert store.get(first, 10_000) == (("user", "first"),) and store.get(second, 10_000) is None
    store.put(second, (("user", "second"),))
    store.flush()
    assert store.get(second, 10_000) == (("user", "second"),) and store.get(first, 10_000) is None
    store.close()
    reopened = render_store.RenderStore(tmp_path / "r.sqlite")
    assert reopened.get(first, 10_000) is None and reopened.get(second, 10_000) == (("user", "second"),)
    reopened.close()


def test_batches_are_written_by_the_writer_and_read_back_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                   ) -> None:
    """Full batches go to the store's writer thread: a render waiting for it, or being written, reads back at once;
    at most two batches are in memory only; every render is on disk once the store closes, none that holds a
    secret."""
    secret = "sk-test-writer-0123456789"
    monkeypatch.setenv("JUDGEBENCH_TEST_API_KEY", secret)
    store = render_store.RenderStore(tmp_path / "r.sqlite")
    keys = [i.to_bytes(8, "big") + bytes(24) for i in range(3 * render_store.WRITE_BATCH + 5)]
    for i, key in enumerate(keys):
        store.put(key, (("user", f"prompt {i}" if i != 7 else f"prompt with {secret}"),))
        assert len(store._pending) + len(store._in_flight) <= 2 * render_store.WRITE_BATCH
        assert store.get(keys[i // 2], 10_000) == (("user", f"prompt {i // 2}" if i // 2 != 7 else
                                                    f"prompt with {secret}"),)
    assert store._writer is not None  # batches went to the writer
    store.close()
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM prompts2").fetchone()[0] == len(keys) - 1
    assert secret.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("r.sqlite*"))
    reopened = render_store.RenderStore(tmp_path / "r.sqlite")
    assert reopened.get(keys[-1], 10_000) == (("user", f"prompt {len(keys) - 1}"),) and reopened.get(keys[7], 10_000) \
        is None
    reopened.close()


def test_renders_stored_while_a_window_reads_are_written_when_it_ends(tmp_path: Path) -> None:
    # The pipeline reads a window's stored prompts in one read transaction (render_store.reading): a render stored
    # meanwhile, more than a write batch of them, waits for its end instead of failing the store, and is written.
    cache = tmp_path / "c.sqlite"
    n = render_store.WRITE_BATCH + 3
    keys = [i.to_bytes(8, "big") + bytes(24) for i in range(1, n + 1)]
    with render_store.kept_beside(cache) as store:
        assert store is not None
        with render_store.reading():
            for i, key in enumerate(keys):
                assert render_store.get(key, 1 << 20) is None
                render_store.put(key, (("user", f"prompt {i}"),))
            assert render_store.current() is store  # still in use
            assert render_store.get(keys[0], 1 << 20) == (("user", "prompt 0"),)
        with render_store.reading():
            assert render_store.get(keys[-1], 1 << 20) == (("user", f"prompt {n - 1}"),)
    with render_store.kept_beside(cache) as again:
        assert again is not None and len(again) == n
        with render_store.reading():
            assert [render_store.get(key, 1 << 20) for key in keys] == [(("user", f"prompt {i}"),) for i in range(n)]


def _statements(store: render_store.RenderStore) -> list[str]:
    """The SQL the store's reading connection runs from now on."""
    said: list[str] = []
    store._db.set_trace_callback(said.append)
    return said


def test_a_file_of_an_older_layout_is_read_safely(tmp_path: Path, renders: list[dict[str, Any]]) -> None:
    """A store file made by an older version (its ``prompts`` and ``renders`` tables) is not read: an entry there,
    even one for the very key of a render and forged to say something else, is a miss, and the render is made and
    stored in the current table; the old tables are left as they were."""
    (tmp_path / "t.jinja").write_text("{% block user %}hello {{ name }}{% endblock %}")
    dirs = (str(tmp_path),)
    assert _render_in_run(tmp_path / "new.sqlite", "t.jinja", dirs, {"name": "a"}) == (("user", "hello a"),)
    with sqlite3.connect(render_store.path_beside(tmp_path / "new.sqlite")) as db:
        ((row_id, key),) = db.execute("SELECT id, key FROM prompts2").fetchall()
    cache = tmp_path / "old.sqlite"
    forged = json.dumps([["user", "a stale prompt"]]).encode()
    with sqlite3.connect(render_store.path_beside(cache)) as db:
        db.execute("CREATE TABLE prompts (id INTEGER PRIMARY KEY, key BLOB NOT NULL, messages BLOB NOT NULL)")
        db.execute("CREATE TABLE renders (key BLOB PRIMARY KEY, messages BLOB NOT NULL) WITHOUT ROWID")
        db.execute("INSERT INTO prompts VALUES (?, ?, ?)", (row_id, key, forged))
        db.execute("INSERT INTO renders VALUES (?, ?)", (key, forged))
    assert _render_in_run(cache, "t.jinja", dirs, {"name": "a"}) == (("user", "hello a"),)
    assert len(renders) == 2  # rendered, not read from the old tables
    assert _render_in_run(cache, "t.jinja", dirs, {"name": "a"}) == (("user", "hello a"),)
    assert len(renders) == 2  # read from the current table
    with sqlite3.connect(render_store.path_beside(cache)) as db:
        assert db.execute("SELECT messages FROM prompts").fetchall() == [(forged,)]
        assert db.execute("SELECT messages FROM renders").fetchall() == [(forged,)]


def test_a_store_opened_empty_looks_up_only_what_it_put(tmp_path: Path) -> None:
    """In a run's first pass every look-up misses: a store that held nothing when it opened does not ask the file
    for a key it never put, and asks it, as ever, for one it did (once written, it is read back from the file)."""
    store = render_store.RenderStore(tmp_path / "r.sqlite")
    said = _statements(store)
    keys = [os.urandom(32) for _ in range(render_store.WRITE_BATCH + 1)]
    for key in keys:
        assert store.get(key, 10_000) is None
        store.put(key, (("user", key.hex()),))
    assert not [s for s in said if s.startswith("SELECT")]  # nothing asked
    store.flush()
    assert [store.get(key, 10_000) for key in keys] == [(("user", key.hex()),) for key in keys]
    assert len([s for s in said if s.startswith("SELECT")]) == len(keys)  # each read back from the file
    store.close()
    reopened = render_store.RenderStore(tmp_path / "r.sqlite")  # not empty: every key is looked up
    said = _statements(reopened)
    assert reopened.get(os.urandom(32), 10_000) is None and len(said) == 1
    reopened.close()


_OTHER_PROCESS = ("import sys; from pathlib import Path; from judgebench.judging import render_store\n"
                  "store = render_store.RenderStore(Path(sys.argv[1]))\n"
                  "store.put(bytes.fromhex(sys.argv[2]), (('user', sys.argv[3]),))\n"
                  "store.close()\n")


def test_a_store_shared_with_another_process_reads_what_it_wrote_and_nothing_stale(tmp_path: Path) -> None:
    """Two processes share one store. One that opened it empty skips look-ups only while the file holds nothing
    but its own prompts: once the other has written (seen when this one next writes), every key is looked up
    again, and the other's prompt is read. A skipped look-up is a render made again, never another prompt."""
    path = tmp_path / "r.sqlite"
    store = render_store.RenderStore(path)
    theirs, ours = os.urandom(32), os.urandom(32)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(path), theirs.hex(), "theirs"], env=env, check=True)
    assert store.get(theirs, 10_000) is None  # not looked up yet: rendered again, as before the other wrote
    store.put(ours, (("user", "ours"),))
    store.flush()  # this store's next write finds a row it did not write
    assert store.get(theirs, 10_000) == (("user", "theirs"),) and store.get(ours, 10_000) == (("user", "ours"),)
    # The other process writes the same key again with another prompt (as a render of edited code would have
    # another key, this is a forged entry): the entry in the file is what is read, whoever wrote it last.
    subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(path), ours.hex(), "replaced"], env=env, check=True)
    assert store.get(ours, 10_000) == (("user", "replaced"),)
    store.close()


def test_a_write_by_another_between_two_batches_is_seen_at_the_next(tmp_path: Path) -> None:
    """Another writer (a connection of its own, as another process's) writes after this store's first batch: the
    next batch sees it, and from then on every key is looked up, the other's and this store's."""
    path = tmp_path / "r.sqlite"
    store = render_store.RenderStore(path)
    mine = [os.urandom(32) for _ in range(3)]
    for key in mine:
        store.put(key, (("user", key.hex()),))
    store.flush()
    theirs = os.urandom(32)
    other = render_store.RenderStore(path)
    other.put(theirs, (("user", "theirs"),))
    other.close()
    said = _statements(store)
    assert store.get(theirs, 10_000) is None and not said  # not seen yet: rendered again
    store.put(os.urandom(32), (("user", "more"),))
    store.flush()
    assert store.get(theirs, 10_000) == (("user", "theirs"),)
    assert [store.get(key, 10_000) for key in mine] == [(("user", key.hex()),) for key in mine]
    store.close()


def _system_prompt(i: int) -> prompts.Messages:
    return (("system", "You are a careful judge. " * 20), ("user", f"grade answer {i}"))


def test_a_system_message_prompts_share_is_kept_once_and_read_back_whole(tmp_path: Path) -> None:
    """The system message of a task's prompts is kept once (after the first prompt that shows it, kept whole), each
    prompt naming its sha256: every prompt reads back exactly as it was put, in another store too."""
    store = render_store.RenderStore(tmp_path / "r.sqlite")
    keys = [os.urandom(32) for _ in range(render_store.WRITE_BATCH + 10)]
    for i, key in enumerate(keys):
        store.put(key, _system_prompt(i))
    store.close()
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM texts2").fetchone()[0] == 1
        shared = db.execute("SELECT COUNT(*) FROM prompts2 WHERE shared IS NOT NULL").fetchone()[0]
        assert shared == len(keys) - 1
        ((longest,),) = db.execute("SELECT max(length(messages)) FROM prompts2 WHERE shared IS NOT NULL")
    assert longest < 60  # the system message is not in the row
    reopened = render_store.RenderStore(tmp_path / "r.sqlite")
    assert [reopened.get(key, 10_000) for key in keys] == [_system_prompt(i) for i in range(len(keys))]
    reopened.close()


@pytest.mark.parametrize("damage", [
    "UPDATE texts2 SET text = CAST('You are a forged judge.' AS BLOB)",  # not the text named: its sha256 differs
    "DELETE FROM texts2",  # the text is gone
    "UPDATE prompts2 SET shared = zeroblob(32) WHERE shared IS NOT NULL",  # names a text that is not there
    "UPDATE prompts2 SET shared = CAST('short' AS BLOB) WHERE shared IS NOT NULL",
    "UPDATE prompts2 SET messages = CAST('[[\"system\", \"whole\"], [\"user\", \"x\"]]' AS BLOB) WHERE shared IS NOT "
    "NULL",  # the row holds a text where the shared one goes
    "UPDATE prompts2 SET messages = CAST('[[\"user\", null], [\"user\", \"x\"]]' AS BLOB) WHERE shared IS NOT NULL",
])
def test_a_damaged_or_forged_shared_text_is_a_miss(tmp_path: Path, damage: str) -> None:
    store = render_store.RenderStore(tmp_path / "r.sqlite")
    keys = [os.urandom(32) for _ in range(3)]
    for i, key in enumerate(keys):
        store.put(key, _system_prompt(i))
    store.close()
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        db.execute(damage)
    reopened = render_store.RenderStore(tmp_path / "r.sqlite")
    assert reopened.get(keys[0], 10_000) == _system_prompt(0)  # kept whole: no shared text named
    assert [reopened.get(key, 10_000) for key in keys[1:]] == [None, None]
    reopened.close()


def test_a_shared_text_is_read_within_the_limit_of_its_prompt(tmp_path: Path) -> None:
    """The limit of a look-up counts the shared text with the row: a prompt longer than it is not read."""
    store = render_store.RenderStore(tmp_path / "r.sqlite")
    keys = [os.urandom(32) for _ in range(2)]
    for i, key in enumerate(keys):
        store.put(key, _system_prompt(i))
    store.close()
    length = len(render_store.encode(_system_prompt(1)) or b"")
    for fresh in (True, False):  # the text read from the file, then remembered
        reopened = render_store.RenderStore(tmp_path / "r.sqlite")
        if not fresh:
            assert reopened.get(keys[1], 10_000) == _system_prompt(1)
        assert reopened.get(keys[1], length // 2) is None
        reopened.close()


def test_a_shared_system_message_that_holds_a_secret_is_never_stored(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-shared-0123456789"
    monkeypatch.setenv("JUDGEBENCH_TEST_API_KEY", secret)
    store = render_store.RenderStore(tmp_path / "r.sqlite")
    for i in range(5):
        store.put(os.urandom(32), (("system", f"keep {secret} safe"), ("user", f"grade {i}")))
    store.put(os.urandom(32), (("system", "plain"), ("user", "grade")))
    store.close()
    assert secret.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("r.sqlite*"))
    with sqlite3.connect(tmp_path / "r.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM prompts2").fetchone()[0] == 1
        assert db.execute("SELECT COUNT(*) FROM texts2").fetchone()[0] == 0


@pytest.mark.parametrize("seq", ["abc", None, 1.5, b"\x00"])
def test_a_hand_edited_sequence_is_no_traceback_and_every_key_is_looked_up(tmp_path: Path, seq: object) -> None:
    """sqlite_sequence is a table anyone may edit: a largest ``seq`` that is not an integer once raised ValueError
    (or TypeError) out of the store's opening or its writer, a traceback where the store should only not be used.
    Such a file says nothing of who wrote: every key is looked up, and what was stored is read."""
    path = tmp_path / "r.sqlite"
    ours, theirs = os.urandom(32), os.urandom(32)
    store = render_store.RenderStore(path)
    store.put(theirs, (("user", "theirs"),))
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE sqlite_sequence SET seq = ?", (seq,))
        db.execute("DELETE FROM prompts2")  # empty, as a first pass finds it
    opened_empty = render_store.RenderStore(path)
    assert opened_empty._ours is None
    opened_empty.put(ours, (("user", "ours"),))
    opened_empty.close()
    again = render_store.RenderStore(path)
    assert again.get(ours, 10_000) == (("user", "ours"),)
    again.close()
    # Edited while a store that opened empty runs: at its next write, it looks every key up from then on.
    other = tmp_path / "s.sqlite"
    running = render_store.RenderStore(other)
    running.put(ours, (("user", "ours"),))
    running.flush()
    assert running._ours is not None
    with sqlite3.connect(other) as db:
        db.execute("UPDATE sqlite_sequence SET seq = ?", (seq,))
        db.execute("INSERT INTO prompts2 (id, key, messages) VALUES (?, ?, ?)",
                   (render_store._row_id(theirs), theirs, b'[["user", "theirs"]]'))
        db.execute("UPDATE sqlite_sequence SET seq = ?", (seq,))
    running.put(os.urandom(32), (("user", "more"),))
    running.flush()
    assert running._ours is None and running.get(theirs, 10_000) == (("user", "theirs"),)
    running.close()


def test_a_store_another_process_holds_while_it_is_made_is_waited_for(tmp_path: Path) -> None:
    """Switching a new file to WAL needs it alone, and does not wait as statements do: a run starting beside another
    on a new cache folder lost its store (a warning to delete the file) where it should wait a moment."""
    import threading

    path = tmp_path / "r.sqlite"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # (the lock another process making the file holds a moment)
    threading.Timer(0.3, lambda: holder.execute("COMMIT")).start()
    store = render_store.RenderStore(path)
    store.put(b"k" * 32, (("user", "u"),))
    store.close()
    holder.close()
    again = render_store.RenderStore(path)
    assert again.get(b"k" * 32, 10_000) == (("user", "u"),)
    again.close()
