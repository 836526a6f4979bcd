"""A judge that asks each prompt K times (``,repeats=K``): K distinct requests, one judgment from their verdicts,
every ask kept in the record, the cache serving a rerun, and the variance numbers, against an in-process judge
whose replies to the same prompt vary."""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from judgebench.analysis.judge_profiles import judge_profiles
from judgebench.analysis.judge_variance import judge_variance
from judgebench.analysis.records import read_judgments
from judgebench.clients.backends.inprocess import serving
from judgebench.clients.endpoints import parse_judge
from judgebench.errors import ConfigError
from judgebench.formats.judgebench import judgment_from_record, judgment_record
from judgebench.judging.kinds import kind_of
from judgebench.judging.repeats import asked, combine, majority
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.stats.repeats import disagreement, flip_rate, grade_sd
from judgebench.tasks import load_task
from judgebench.types import (
    ChatRequest,
    Endpoint,
    Failure,
    Grade,
    Judge,
    Judgment,
    JudgmentId,
    PairVerdict,
    canonical_json,
    sha256_text,
)


class VaryingJudge:
    """An in-process judge that answers the n-th ask of a prompt (by its messages) with the n-th reply of the
    prompt's script: prompts take the scripts in the order they first arrive, round robin. Records every reply it
    gave, by prompt, so a test can compute the variance from what was said."""

    def __init__(self, scripts: list[list[str]]) -> None:
        self.scripts = scripts
        self.given: dict[str, list[str]] = {}
        self.lock = threading.Lock()

    def __call__(self, request: ChatRequest) -> str:
        prompt = json.dumps(request.messages)
        with self.lock:
            replies = self.given.setdefault(prompt, [])
            script = self.scripts[(list(self.given).index(prompt)) % len(self.scripts)]
            replies.append(script[len(replies) % len(script)])
            return replies[-1]

    @property
    def requests(self) -> int:
        return sum(map(len, self.given.values()))


def _run(task_name: str, judge: VaryingJudge, tmp_path: Path, repeats: int) -> tuple[RunConfig, Path]:
    with serving(lambda _request: "A short answer.") as model_url, serving(judge) as judge_url:
        model = Endpoint(provider="openai", name="cand", model="cand", base_url=model_url, concurrency=4)
        config = RunConfig(model=model, judges=(parse_judge(f"j@{judge_url}#text,repeats={repeats}"),),
                           out=tmp_path / "r", cache_path=tmp_path / "c.sqlite", limit=2, progress=False,
                           n_bootstrap=20)
        first = evaluate(load_task(task_name), config)
        again = evaluate(load_task(task_name), config)
    assert again.counters.requests == 0, "a rerun is served from the cache, every ask of every prompt"
    return config, first.run_dir


def _records(run_dir: Path) -> list[Judgment]:
    lines = (run_dir / "judgments.jsonl").read_text().splitlines()
    return [judgment_from_record(json.loads(line)) for line in lines]


GRADES = [["Rating: [[7]]"] * 3, ["Rating: [[6]]", "Rating: [[8]]", "Rating: [[7]]"],
          ["Rating: [[5]]", "Rating: [[9]]", "Rating: [[5]]"]]


def test_a_graded_judge_asks_each_prompt_k_times_and_keeps_every_ask(tmp_path: Path) -> None:
    judge = VaryingJudge(GRADES)
    _, run_dir = _run("sample-mt", judge, tmp_path, repeats=3)
    # 2 items x 2 turns = 4 prompts, each asked 3 times as 3 requests (the same messages: the server sees 3 asks).
    assert len(judge.given) == 4 and judge.requests == 12
    assert all(len(replies) == 3 for replies in judge.given.values())
    records = _records(run_dir)
    assert len(records) == 4, "one judgment per (item, turn), not one per ask"
    said = Counter(tuple(sorted(float(r[10:-2]) for r in replies)) for replies in judge.given.values())
    kept = Counter(tuple(sorted(v.score for v in j.repeats if isinstance(v, Grade))) for j in records)
    assert kept == said
    for j in records:
        assert j.score == pytest.approx(np.mean([v.score for v in j.repeats if isinstance(v, Grade)]))
        assert len(j.raw) == 3 and [c.label for c in j.calls] == ["single:1", "single:2", "single:3"]
        assert len({c.cache_key for c in j.calls}) == 3
    # The variance from the frame, against a direct computation over what the judge said.
    grades = [[float(r[10:-2]) for r in replies] for replies in judge.given.values()]
    row = judge_variance(read_judgments([run_dir]).frame).loc["j#text,repeats=3"]
    direct_sd = np.mean([np.std(g, ddof=1) for g in grades])
    direct_flip = np.mean([len(set(g)) > 1 for g in grades])
    assert row.grade_sd == pytest.approx(direct_sd) and row.flip_rate == pytest.approx(direct_flip)
    assert row.n_repeated == 4 and row.asks == 3 and 0 < row.flip_rate < 1
    # The judges' table shows the same two numbers (`judgebench judges`, the site's judges page, load().judges()).
    (profile,) = judge_profiles(read_judgments([run_dir]).frame).to_dict(orient="records")
    assert profile["flip_rate"] == pytest.approx(direct_flip) and profile["grade_sd"] == pytest.approx(direct_sd)


PAIRS = [["[[A]]", "[[A]]", "[[B]]"], ["[[A]]", "[[B]]", "[[C]]"], ["[[C]]"] * 3]


def test_a_pairwise_judge_takes_each_orders_majority_and_a_split_is_a_tie(tmp_path: Path) -> None:
    judge = VaryingJudge(PAIRS)
    _, run_dir = _run("sample-pairwise", judge, tmp_path, repeats=3)
    assert len(judge.given) == 4 and judge.requests == 12  # 2 items x 2 orders, 3 asks each
    records = _records(run_dir)
    assert len(records) == 2
    for j in records:
        pairs = [v for v in j.repeats if isinstance(v, PairVerdict)]
        assert len(pairs) == 3
        for mine, order in ((j.verdict_ab, "ab"), (j.verdict_ba, "ba")):
            counts = Counter(getattr(p, order) for p in pairs).most_common()
            top = counts[0][0] if len(counts) == 1 or counts[0][1] > counts[1][1] else "tie"
            assert mine == top
    # What the judge said, as outcomes: every ask of every prompt is in some record, and the variance matches.
    said = Counter(tuple(sorted(r[2] for r in replies)) for replies in judge.given.values())
    assert sorted(said.values()) == [1, 1, 2]  # one script twice (4 prompts, 3 scripts)
    letters = [[r[2] for r in replies] for replies in judge.given.values()]
    row = judge_variance(read_judgments([run_dir]).frame).loc["j#text,repeats=3"]
    assert row.flip_rate == pytest.approx(np.mean([len(set(x)) > 1 for x in letters]))
    pairs_differ = [np.mean([a != b for i, a in enumerate(x) for b in x[i + 1:]]) for x in letters]
    assert row.disagreement == pytest.approx(np.mean(pairs_differ))
    assert np.isnan(row.grade_sd) and row.n_repeated == 4


def test_the_verdict_rules() -> None:
    assert majority(["win", "win", "loss"]) == "win" and majority(["win", "loss"]) == "tie"
    assert majority(["win", "loss", "tie"]) == "tie" and majority([]) is None
    ident = JudgmentId("b", "p", "j", "m", "ref", "1", 1)
    asks = [Judgment(ident, "pairwise", "c", PairVerdict("win", "win", 2.0, 2, 2)),
            Judgment(ident, "pairwise", "c", PairVerdict("win", "loss", 1.5, 1, None)),
            Judgment(ident, "pairwise", "c", PairVerdict("win", None), failure=Failure("parse", "BA: no verdict"))]
    one = combine(asks)
    # AB: three wins, margins 2 and 1 (one of two said "much better": not most); BA: a win and a loss split: a tie.
    assert one.pair == PairVerdict("win", "tie", 1.5, 1, None) and one.failure is None
    assert one.repeats == tuple(a.verdict for a in asks)
    failed = combine([Judgment(ident, "single", "c", failure=Failure("parse", "no grade"))] * 2)
    assert failed.verdict is None and failed.failure == Failure("parse", "no grade")
    # One ask still in a provider's batch: the judgment waits for it, unscored, whatever the other asks said.
    waiting = combine([Judgment(ident, "single", "c", Grade(7.0)),
                       Judgment(ident, "single", "c", failure=Failure("pending", "pending: batch b1"))])
    assert waiting.verdict is None and waiting.failure_kind == "pending" and waiting.repeats == (Grade(7.0), None)
    graded = combine([Judgment(ident, "single", "c", Grade(s, e)) for s, e in ((7, 6.5), (8, None), (6, 7.5))])
    assert graded.grade == Grade(7.0, 7.0)
    # AlpacaEval's weighted preference (one order, fractional): the mean, its side the outcome.
    weighted = combine([Judgment(ident, "ae", "c", PairVerdict("win", None, p)) for p in (1.9, 1.2, 1.6)])
    assert weighted.pair == PairVerdict("win", None, pytest.approx(1.9 / 3 + 1.2 / 3 + 1.6 / 3))


def test_the_variance_statistics_by_hand() -> None:
    prompts = [["win"] * 5, ["win"] * 4 + ["loss"], ["win", "tie"], ["loss"]]  # the last cannot vary: left out
    assert flip_rate(prompts) == pytest.approx(2 / 3)
    # 0 of 10 pairs; 4 of 10 pairs; 1 of 1 pair.
    assert disagreement(prompts) == pytest.approx((0 + 0.4 + 1) / 3)
    assert grade_sd([[7, 7, 7], [6, 8], [3]]) == pytest.approx((0 + np.sqrt(2)) / 2)
    assert flip_rate([["win"]]) is None and grade_sd([]) is None


def test_the_setting_is_parsed_named_in_order_and_checked() -> None:
    judge = parse_judge("j@http://host:8000/v1#json,repeats=5,t=0.7")
    assert judge.repeats == 5 and judge.name == "j#json,t=0.7,repeats=5"
    assert parse_judge("j@http://host:8000/v1").repeats == 1
    for bad, said in (("repeats=0", "repeats=K (1 to 20)"), ("repeats=x", "repeats=K"), ("repeat=3", "did you mean"),
                      ("repeats=3,repeats=4", "given twice"), ("repeats=²", "repeats=K")):
        with pytest.raises(ConfigError, match=re.escape(said)):
            parse_judge(f"j@http://host:8000/v1,{bad}")


ENDPOINT = Endpoint(provider="openai", name="j", model="judge-model", base_url="http://host:8000/v1")


def test_the_cache_key_of_a_judge_asked_once_is_unchanged() -> None:
    """The key of every request of a judge without repeats (and of a repeated judge's first ask) is the hash of what
    it was before repeats existed: caches, replay recordings and the published-number runs depend on it."""
    task = load_task("sample-mt")
    item = task.items[0]
    from judgebench.judging.requests import placeholder_candidates

    candidate = placeholder_candidates(task, [item])[0]
    once = kind_of(task.kind).requests(task, candidate, item, parse_judge("j@http://host:8000/v1#json"))
    for request in once:
        chat = request.chat
        before = {"provider": chat.endpoint.provider, "server": chat.endpoint.identity(),
                  "model": chat.endpoint.model, "messages": [list(m) for m in chat.messages],
                  "params": dict(chat.params), "schema": chat.response_schema}
        assert chat.repeat == 0 and chat.cache_key() == sha256_text(canonical_json(before))
    assert asked(once, 1) == once
    three = asked(once, 3)
    assert three[:len(once)] == once and len({r.cache_key() for r in three}) == 3 * len(once)


def test_a_sampled_judge_asks_with_a_seed_per_ask() -> None:
    chat = ChatRequest(ENDPOINT, (("user", "q"),), (("max_tokens", 5), ("temperature", 0.7), ("seed", 0)))
    task = load_task("sample-mt")
    from judgebench.types import JudgeRequest

    request = JudgeRequest(task.benchmark, "1", "c", "m", "j", 1, "single", chat)
    seeds = [dict(r.chat.params)["seed"] for r in asked([request], 3)]
    assert seeds == [0, 1, 2]
    # At temperature 0 nothing is seeded: the asks differ only in their cache keys.
    flat = replace(request, chat=replace(chat, params=(("max_tokens", 5), ("temperature", 0.0))))
    assert {r.chat.params for r in asked([flat], 3)} == {flat.chat.params}


def test_a_repeated_judgment_survives_its_record() -> None:
    ident = JudgmentId("b", "p", "j", "m", None, "1", 1)
    j = combine([Judgment(ident, "single", "c", Grade(s), scale=(1, 10)) for s in (7.0, 9.0)])
    assert judgment_from_record(json.loads(json.dumps(judgment_record(j)))) == j
    plain = Judgment(ident, "single", "c", Grade(7.0), scale=(1, 10))
    assert "repeats" not in judgment_record(plain), "a judge asked once writes the record it always wrote"


def test_a_dry_run_plans_k_asks_of_every_prompt_at_k_times_the_cost() -> None:
    from judgebench.clients.pricing import builtin_prices
    from judgebench.judging.requests import placeholder_candidates
    from judgebench.run.plan import plan_task

    task = load_task("sample-mt")
    items = list(task.items[:3])
    judge = Endpoint(provider="openai", name="gpt-4o", model="gpt-4o-2024-08-06", base_url="https://api.openai.com/v1")
    answers = placeholder_candidates(task, items)
    once, thrice = (plan_task(task, items, None, (Judge("gpt-4o", judge, repeats=k),), answers, lambda _: None,
                              builtin_prices()) for k in (1, 3))
    assert once.endpoints[0].to_send == sum(len(i.turns) for i in items)
    assert thrice.endpoints[0].to_send == 3 * once.endpoints[0].to_send
    assert thrice.endpoints[0].cost_usd == pytest.approx(3 * once.endpoints[0].cost_usd)


def test_judge_variance_of_a_frame_with_a_judge_asked_once_and_one_asked_three_times() -> None:
    from judgebench.formats.table import judgments_frame

    once = [Judgment(JudgmentId("b", "p", "plain", "m", None, str(i), 1), "single", "c", Grade(7.0), scale=(1, 10))
            for i in range(3)]
    ident = JudgmentId("b", "p", "rep", "m", None, "1", 1)
    asks = [[7.0, 7.0, 7.0], [6.0, 8.0, None], [9.0, None, None]]  # the last has one grade: it cannot vary
    repeated = [combine([Judgment(replace(ident, item_id=str(i)), "single", "c",
                                  Grade(s) if s is not None else None,
                                  failure=None if s is not None else Failure("parse", "no grade"), scale=(1, 10))
                         for s in grades]) for i, grades in enumerate(asks)]
    table = judge_variance(judgments_frame([*once, *repeated]))
    assert list(table.index) == ["plain", "rep"]
    plain, rep = table.loc["plain"], table.loc["rep"]
    assert np.isnan(plain.flip_rate) and np.isnan(plain.grade_sd) and plain.n_repeated == 0 and plain.asks == 1
    assert rep.n_repeated == 2 and rep.asks == 3 and rep.flip_rate == 0.5
    assert rep.grade_sd == pytest.approx((0.0 + np.std([6.0, 8.0], ddof=1)) / 2)
    assert repeated[2].score == 9.0 and repeated[2].ok
