"""One identity per protocol: judgments of the same benchmark, item, model and judge made by two protocols (two
tasks, a sample and the full benchmark, AlpacaEval's annotator and our both-orders judge) never supersede each
other and are never scored together."""

from __future__ import annotations

from pathlib import Path

from judgebench.analysis.records import collect
from judgebench.analysis.scores import score_rows
from judgebench.errors import TaskError
from judgebench.formats import Source
from judgebench.publish.tables import format_scores
from judgebench.tasks import builtin_task_names, load_task
from judgebench.types import Judgment
from tests.judgments import flat


def grade(item: str, score: float, protocol: str) -> Judgment:
    return flat(benchmark="mt-bench", item_id=item, category="writing", model="m", judge="j", turn=1,
                    kind="single", score=score, scale=(1, 10), protocol=protocol)


def test_two_protocols_keep_their_own_judgments_of_the_same_item() -> None:
    full = Source("full", (grade("81", 9, "mt-bench"), grade("82", 7, "mt-bench")), created="2026-01-01")
    sample = Source("sample", (grade("81", 2, "sample"),), created="2026-01-02")  # newer, same item/model/judge
    result = collect([full, sample])
    assert result.n_superseded == 0 and len(result.frame) == 3
    rows = {row.protocol: row for row in score_rows(result.frame, n_bootstrap=0)}
    assert rows["mt-bench"].score == 8.0 and rows["mt-bench"].n_judged == 2
    assert rows["sample"].score == 2.0 and rows["sample"].n_judged == 1
    table = format_scores(list(rows.values()))
    assert "mt-bench · sample" in table  # the protocol is named beside the benchmark wherever it is not the same


def test_the_same_protocol_read_twice_still_counts_once() -> None:
    run = Source("run", (grade("81", 9, "mt-bench"),), created="2026-01-01")
    assert collect([run, run]).n_superseded == 1


def test_a_task_names_its_protocol_and_defaults_to_its_name(tmp_path: Path) -> None:
    body = "kind: single\nbenchmark: mt-bench\njudge:\n  prompt: single.jinja\nitems:\n  - {id: '1', turns: [hi]}\n"
    (tmp_path / "a.yaml").write_text("name: a\n" + body)
    (tmp_path / "b.yaml").write_text("name: b\nprotocol: fastchat-single\n" + body)
    assert load_task(str(tmp_path / "a.yaml")).protocol == "a"
    assert load_task(str(tmp_path / "b.yaml")).protocol == "fastchat-single"


def test_built_in_tasks_that_read_no_url_each_have_their_own_protocol() -> None:
    protocols = {}
    for name in builtin_task_names():
        try:
            protocols[name] = load_task(name).protocol
        except TaskError:  # tasks that read data by URL need a mirror here (tests/tasks/test_data_mirror.py)
            continue
    assert len(set(protocols.values())) == len(protocols) >= 3
