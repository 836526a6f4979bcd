"""One record per judgment: reading the same judgments again never changes a count."""

from __future__ import annotations

from judgebench.analysis.records import COLUMNS, collect, order_sources
from judgebench.formats import Source
from judgebench.types import Judgment
from tests.judgments import flat


def grade(item: str, score: float | None, judge: str = "j", turn: int = 1, error: str | None = None) -> Judgment:
    return flat(benchmark="b", item_id=item, category="c", model="m", judge=judge, turn=turn, kind="single",
                    score=score, error=error, failure="request" if error else None, scale=(1, 10))


def run(created: str, *judgments: Judgment) -> Source:
    return Source(f"run-{created}", tuple(judgments), created=created, run_id=f"run-{created}")


def test_the_same_run_read_twice_counts_once() -> None:
    first = run("2026-01-01", grade("1", 7), grade("2", 5))
    result = collect([first, first])
    assert len(result.frame) == 2 and result.n_read == 4 and result.n_superseded == 2
    assert list(result.frame.columns) == COLUMNS


def test_a_killed_run_then_its_resumption_counts_each_judgment_once_and_forgets_old_failures() -> None:
    killed = run("2026-01-01T10", grade("1", 7), grade("2", None, error="request failed"))
    resumed = run("2026-01-01T11", grade("1", 7), grade("2", 4))
    result = collect(order_sources([resumed, killed]))  # given in any order: runs go by creation time
    frame = result.frame.set_index("item_id")
    assert frame.loc["2", "score"] == 4 and frame["error"].isna().all()
    assert result.n_superseded == 2
    # The killed run alone counts exactly what it finished.
    alone = collect([killed]).frame
    assert alone["score"].notna().sum() == 1 and alone["error"].notna().sum() == 1


def test_a_newer_failure_does_not_replace_an_older_success() -> None:
    good = run("2026-01-01", grade("1", 7))
    failed = run("2026-01-02", grade("1", None, error="request failed"))
    frame = collect([good, failed]).frame
    assert list(frame["score"]) == [7] and frame["error"].isna().all()


def test_the_newest_success_wins_over_an_older_one() -> None:
    old = run("2026-01-01", grade("1", 3))
    new = run("2026-01-02", grade("1", 9))
    assert list(collect([old, new]).frame["score"]) == [9]


def test_judges_turns_and_opponents_are_different_judgments() -> None:
    source = run("2026-01-01", grade("1", 7, judge="a"), grade("1", 6, judge="b"), grade("1", 5, turn=2))
    assert len(collect([source, source]).frame) == 3


def test_one_files_own_repeated_records_are_kept_as_that_harness_counts_them() -> None:
    """FastChat's files sometimes grade a model twice; within one source both records count."""
    twice = Source("fastchat.jsonl", (grade("1", 6), grade("1", 8)))
    result = collect([twice])
    assert sorted(result.frame["score"]) == [6, 8] and result.n_superseded == 0
    # The same file passed twice still counts once.
    assert len(collect([twice, twice]).frame) == 2


def test_other_harnesses_files_come_before_judgebench_runs() -> None:
    ours = run("2026-01-01", grade("1", 9))
    theirs = Source("other.jsonl", (grade("1", 2),))
    assert [s.label for s in order_sources([ours, theirs])] == ["other.jsonl", "run-2026-01-01"]
