"""The per-judgment work of a run done once (issue 23): each judge reply parsed once, each distinct prompt input
rendered once, records written in groups, waiting requests handed room in order. The numbers are the guard's
(tests/protocols, tests/replay); these check that the work is not done twice and that nothing is lost."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from judgebench.clients.replicas import ReplicaPool
from judgebench.formats import judgebench as store
from judgebench.judging import prompts
from judgebench.judging.kinds import kind_of
from judgebench.judging.strategies import JudgingKind, Parsed
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Candidate, ChatReply, Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script


def _config(url: str, tmp_path: Path, judges: int = 1) -> RunConfig:
    endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=2)
    panel = tuple(Judge(f"fake-judge-{k}", endpoint) for k in range(judges))
    return RunConfig(model=endpoint, judges=panel, out=tmp_path / "r", cache_path=tmp_path / "c.sqlite", limit=3,
                     progress=False, n_bootstrap=50)


def test_each_reply_is_parsed_once_live_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The executor's accept step and the kind's assemble read one verdict: before, every reply was parsed twice."""
    calls: list[str] = []
    original = JudgingKind.parse

    def counting(self: JudgingKind, task, request, reply):  # type: ignore[no-untyped-def]
        calls.append(reply.text)
        return original(self, task, request, reply)

    monkeypatch.setattr(JudgingKind, "parse", counting)
    task = load_task("sample-mt")
    with fake_model(Script([("ok", "A fine answer. Rating: [[7]]")])) as url:
        live = evaluate(task, _config(url, tmp_path))
        assert len(calls) == live.n_judgments == 6 and live.n_failed == 0
        calls.clear()
        cached = evaluate(task, _config(url, tmp_path))
    assert cached.counters.requests == 0 and len(calls) == cached.n_judgments == 6
    assert [r.score for r in cached.rows] == [r.score for r in live.rows] == [7.0]


def test_a_reply_that_does_not_parse_is_recorded_failed_once(tmp_path: Path) -> None:
    """The verdict kept from the accept step is the one recorded: a reply without a verdict is a parse failure."""
    task = load_task("sample-mt")
    with fake_model(Script([("ok", "no verdict here")])) as url:
        result = evaluate(task, _config(url, tmp_path))
    assert result.n_failed == result.n_judgments == 6
    assert {cause for cause, _, _ in result.failure_causes} == {"parse"}


def test_parsed_keys_on_the_objects_not_their_text() -> None:
    """Two replies with the same text are two readings; the same reply object is read once."""
    task = load_task("sample-mt")
    kind = kind_of(task.kind)
    item = task.items[0]
    judge = Judge("j", Endpoint("openai", "j", "j", base_url="http://127.0.0.1:9/v1"))
    (request, _) = kind.requests(task, Candidate(task.benchmark, item.id, "m", ("a", "b")), item, judge)
    parsed, reads = Parsed(), []

    class Counting(type(kind)):  # type: ignore[misc]
        def parse(self, task, request, reply):  # type: ignore[no-untyped-def]
            reads.append(reply)
            return super().parse(task, request, reply)

    counting = Counting()
    first, second = ChatReply("Rating: [[3]]"), ChatReply("Rating: [[3]]")
    assert parsed.verdict(counting, task, request, first).score == 3.0
    assert parsed.verdict(counting, task, request, first).score == 3.0
    assert parsed.verdict(counting, task, request, second).score == 3.0
    assert reads == [first, second]


def test_a_panel_sharing_a_prompt_renders_it_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two judges asked the same prompt: one render per distinct input, and both judges get the same messages."""
    renders: list[object] = []
    original = prompts._render

    def counting(template, search_path, variables):  # type: ignore[no-untyped-def]
        renders.append(variables["item_id"])
        return original(template, search_path, variables)

    monkeypatch.setattr(prompts, "_render", counting)
    monkeypatch.setattr(prompts, "_RENDERED", prompts._Rendered())
    task = load_task("sample-mt")
    with fake_model(Script([("ok", "A fine answer. Rating: [[7]]")])) as url:
        result = evaluate(task, _config(url, tmp_path, judges=2))
    assert result.n_judgments == 12 and result.n_failed == 0
    # 3 items x 2 turns, each rendered once for both judges, and once with placeholder answers for the check before
    # the run (also once for both judges): 12 renders, where each judge rendering its own made 24.
    assert len(renders) == 12
    records = [json.loads(line) for line in (result.run_dir / store.JUDGMENTS).read_text().splitlines()]
    keys = {}
    for record in records:
        keys.setdefault((record["item_id"], record["turn"]), set()).add(record["calls"][0]["cache_key"])
    assert all(len(found) == 1 for found in keys.values())  # the same prompt: the same request for both judges


def test_the_render_memo_never_serves_another_input_or_an_edited_template(tmp_path: Path) -> None:
    template = tmp_path / "t.jinja"
    template.write_text("{% block user %}hello {{ name }}{% endblock %}")
    dirs = (str(tmp_path),)
    assert prompts.render_messages("t.jinja", dirs, {"name": "a"}) == (("user", "hello a"),)
    assert prompts.render_messages("t.jinja", dirs, {"name": "b"}) == (("user", "hello b"),)
    assert prompts.render_messages("t.jinja", dirs, {"name": "a"}) == (("user", "hello a"),)
    # True and 1 render differently ("True", "1"): they are different inputs.
    assert prompts.render_messages("t.jinja", dirs, {"name": True}) == (("user", "hello True"),)
    assert prompts.render_messages("t.jinja", dirs, {"name": 1}) == (("user", "hello 1"),)
    time.sleep(0.01)
    template.write_text("{% block user %}goodbye {{ name }}{% endblock %}")
    stat = template.stat()
    import os

    os.utime(template, (stat.st_atime, stat.st_mtime + 5))  # a new modification time, however coarse the clock
    assert prompts.render_messages("t.jinja", dirs, {"name": "a"}) == (("user", "goodbye a"),)


def _touch_edited(path: Path, text: str) -> None:
    import os

    path.write_text(text)
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))  # a new modification time, however coarse the clock


def test_the_render_memo_sees_an_edited_parent_or_included_template(tmp_path: Path) -> None:
    """A render is keyed by every template it reaches: editing what a template extends or includes (the file
    itself unchanged) renders afresh."""
    (tmp_path / "base.jinja").write_text("{% block system %}SYS-v1{% endblock %}{% block user %}{% endblock %}")
    (tmp_path / "child.jinja").write_text('{% extends "base.jinja" %}{% block user %}hi {{ x }}{% endblock %}')
    (tmp_path / "inc.jinja").write_text("INC-v1")
    (tmp_path / "t.jinja").write_text('{% block user %}{% include "inc.jinja" %} {{ x }}{% endblock %}')
    dirs = (str(tmp_path),)
    assert prompts.render_messages("child.jinja", dirs, {"x": 1}) == (("system", "SYS-v1"), ("user", "hi 1"))
    assert prompts.render_messages("t.jinja", dirs, {"x": 1}) == (("user", "INC-v1 1"),)
    _touch_edited(tmp_path / "base.jinja", "{% block system %}SYS-v2{% endblock %}{% block user %}{% endblock %}")
    _touch_edited(tmp_path / "inc.jinja", "INC-v2")
    assert prompts.render_messages("child.jinja", dirs, {"x": 1}) == (("system", "SYS-v2"), ("user", "hi 1"))
    assert prompts.render_messages("t.jinja", dirs, {"x": 1}) == (("user", "INC-v2 1"),)


@pytest.mark.parametrize(("first", "second", "shown"), [
    ([1, 2], (1, 2), "(1, 2)"),  # a tuple renders as a tuple, though its JSON is a list's
    (float("nan"), None, "None"),  # JSON writes NaN as null
    (float("inf"), None, "None"),
    ({"a": 1}, type("Named", (), {"__str__": lambda self: "NAMED"})(), "NAMED"),
    ("plain", type("Loud", (str,), {"__str__": lambda self: "LOUD"})("plain"), "LOUD"),
])
def test_the_render_memo_keys_only_values_whose_json_says_how_they_render(tmp_path: Path, first: object,
                                                                         second: object, shown: str) -> None:
    (tmp_path / "t.jinja").write_text("{% block user %}{{ x }}{% endblock %}")
    dirs = (str(tmp_path),)
    prompts.render_messages("t.jinja", dirs, {"x": first})
    assert prompts.render_messages("t.jinja", dirs, {"x": second}) == (("user", shown),)


def test_a_run_leaves_a_callers_own_garbage_collector_freeze_alone(tmp_path: Path) -> None:
    import gc

    from judgebench.run.evaluate import _older_objects_frozen

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        # An unfreeze would leave no object frozen. (Not an exact count: a frozen object that another thread
        # releases meanwhile leaves the permanent generation, which made an equality flaky in CI.)
        with _older_objects_frozen():
            with _older_objects_frozen():  # two runs at once in one process
                pass
            assert gc.get_freeze_count() > frozen // 2
        assert gc.get_freeze_count() > frozen // 2  # the caller's freeze is still there
    finally:
        gc.unfreeze()
    with _older_objects_frozen():
        assert gc.get_freeze_count() > 0
        with _older_objects_frozen():
            pass
        assert gc.get_freeze_count() > 0  # the inner run's end does not unfreeze the outer run's
    assert gc.get_freeze_count() == 0


def test_the_memo_keeps_the_sandbox_checks_for_every_new_input(tmp_path: Path) -> None:
    """A refused render is never remembered: the same hostile input is refused every time."""
    from judgebench.errors import TaskError

    template = tmp_path / "t.jinja"
    template.write_text("{% block user %}{{ name * 100000000 }}{% endblock %}")
    for _ in range(2):
        with pytest.raises(TaskError, match="sandbox"):
            prompts.render_messages("t.jinja", (str(tmp_path),), {"name": "xxxxxxxxxx"})


def test_records_are_written_in_groups_and_all_on_close(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    writer = store.JsonlWriter(path, batch=3, write_every_s=3600)
    writer.append({"a": 1})
    writer.append({"a": 2})
    assert path.read_text() == ""  # waiting for company
    writer.append({"a": 3})
    assert store.read_jsonl(path) == [{"a": 1}, {"a": 2}, {"a": 3}]
    writer.append({"a": 4})
    writer.close()
    assert store.read_jsonl(path) == [{"a": 1}, {"a": 2}, {"a": 3}, {"a": 4}]


def test_a_slow_run_still_writes_its_records_as_they_come(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    writer = store.JsonlWriter(path, batch=100, write_every_s=0.0)
    writer.append({"a": 1})
    assert store.read_jsonl(path) == [{"a": 1}]
    writer.close()


def test_an_interrupted_run_keeps_the_records_it_made(tmp_path: Path) -> None:
    """Records waiting for their group are written when the run ends, however it ends."""
    path = tmp_path / "j.jsonl"
    writer = store.JsonlWriter(path, batch=100, write_every_s=3600)
    try:
        writer.append({"a": 1})
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        writer.close()
    assert store.read_jsonl(path) == [{"a": 1}]


def test_waiting_requests_get_room_oldest_first() -> None:
    """One replica without slots: freed room goes to the waiting requests in the order they came."""
    class Idle:
        async def aclose(self) -> None:
            return None

    async def scenario() -> list[int]:
        endpoint = Endpoint("openai", "e", "m", base_url="http://127.0.0.1:9/v1", concurrency=2)
        pool = ReplicaPool(endpoint, lambda _e: Idle(), adaptive=False)  # type: ignore[arg-type, return-value]
        order: list[int] = []
        held = [await pool.acquire(), await pool.acquire()]

        async def wait(k: int) -> None:
            replica = await pool.acquire()
            order.append(k)
            await asyncio.sleep(0)
            pool.release(replica, 0.01, None)

        waiting = [asyncio.create_task(wait(k)) for k in range(50)]
        await asyncio.sleep(0)
        waiting[7].cancel()  # a request given up while it waits is skipped, not handed a slot
        await asyncio.sleep(0)
        for replica in held:
            pool.release(replica, 0.01, None)
        await asyncio.gather(*waiting, return_exceptions=True)
        assert pool.replicas[0].in_flight == 0
        return order

    assert asyncio.run(scenario()) == [k for k in range(50) if k != 7]


def test_stored_replies_read_back_as_they_were_written() -> None:
    """The cache reads its entries with orjson where it can and the json module where orjson refuses: a reply with
    a lone surrogate a server sent, or log-probabilities, reads back whole either way."""
    from judgebench.run.cache import decode_reply, encode_reply

    for reply in (ChatReply("fine [[7]]", "stop", 10, 2, 0.25),
                  ChatReply("odd \ud800 text", "length", None, None, 0.0, reasoning="thought"),
                  ChatReply("x", "stop", logprobs=(("7", (("7", -0.1), ("8", -2.5))),))):
        assert decode_reply(encode_reply(reply)) == ChatReply(**{**reply.__dict__, "from_cache": True})
    assert decode_reply('{"text": "a", "latency_s": NaN}') is not None  # json's NaN, which orjson refuses
    assert decode_reply("{broken") is None
