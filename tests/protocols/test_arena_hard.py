"""Arena-Hard v0.1 and v2.0: the tasks load offline (files not in the shared data replaced by stand-ins of our own
words), prompts are Arena-Hard's template filled with the real question and baseline answer, verdicts are extracted
as Arena-Hard's get_score does, and a run's scores match an independent computation."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from judgebench.analysis.records import read_judgments
from judgebench.analysis.scores import score_rows
from judgebench.errors import TaskError
from judgebench.formats.arena_hard import answers as read_answers
from judgebench.judging.kinds import kind_of
from judgebench.judging.protocols.arena_hard import extract_v01, extract_v2, framing_answers, markdown_counts
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.stats.arena_hard import StyleFeatures, style_features, v01_scores, v2_scores, v2_style_scores
from judgebench.tasks import load_task
from judgebench.types import Candidate, Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script

SYSTEM = "You compare two replies to one request. Finish with one label such as [[A>B]]."
V01_PATTERN = r"\[\[([AB<>=]+)\]\]"
JUDGE = Judge("judge", Endpoint("openai", "judge", "judge-model", "http://127.0.0.1:9"))


def _shared_config(shared: Path, version: str) -> dict[str, Any]:
    return yaml.safe_load((shared / "arena_hard" / "config" / f"arena-hard-{version}.yaml").read_text())


@pytest.fixture()
def tasks(shared_mirror: Path, shared_data: Path, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The built-in tasks with the files the shared data lacks replaced: v0.1's judge_config.yaml (its template is
    the shared v0.1 config's, with July 2024's placeholder names), v2.0's judge_utils.py and baseline answers."""
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(shared_mirror))
    template = _shared_config(shared_data, "v0.1")["prompt_template"]
    old = template.replace("{QUESTION}", "{question_1}").replace("{ANSWER_A}", "{answer_1}").replace(
        "{ANSWER_B}", "{answer_2}")
    (tmp_path / "judge_config.yaml").write_text(yaml.safe_dump({
        "judge_model": "judge-model", "baseline_model": "gpt-4-0314", "temperature": 0, "max_tokens": 4096,
        "regex_pattern": V01_PATTERN, "number_of_judgment_attempts": 2, "system_prompt": SYSTEM,
        "prompt_template": [old]}))
    (tmp_path / "v01.yaml").write_text("include: arena-hard-v0.1.yaml\nname: v01-offline\n"
                                       "judge: {files: {config: {path: judge_config.yaml, sha256: null}}}\n")
    (tmp_path / "judge_utils.py").write_text(
        f"SYSTEM = {SYSTEM!r}\nJUDGE_SETTINGS = {{'hard_prompt': {{'baseline': 'o3-mini-2025-01-31', "
        "'system_prompt': SYSTEM}}\n")
    questions = [json.loads(line) for line in
                 (shared_data / "arena_hard" / "arena-hard-v2.0" / "question.jsonl").read_text().split("\n") if line]
    with (tmp_path / "base.jsonl").open("w") as fh:
        for n, q in enumerate(q for q in questions if q["category"] == "hard_prompt"):
            text = f"## Plan {n}\n\n- step one\n- step **two**\n\n```\ncode\n```\n" * (1 + n % 3)
            fh.write(json.dumps({"uid": q["uid"], "model": "o3-mini-2025-01-31",
                                 "messages": [{"role": "user", "content": q["prompt"]},
                                              {"role": "assistant", "content": {"answer": text}}]}) + "\n")
    (tmp_path / "v2.yaml").write_text(
        "include: arena-hard-v2.0.yaml\nname: v2-offline\njudge:\n  files:\n"
        "    judge_utils: {path: judge_utils.py, sha256: null}\n"
        "    o3-mini-2025-01-31: {path: base.jsonl, sha256: null}\n")
    return {"v0.1": load_task(str(tmp_path / "v01.yaml")), "v2.0": load_task(str(tmp_path / "v2.yaml")),
            "dir": tmp_path}


def test_the_tasks_load_offline_with_arena_hards_questions(tasks: dict[str, Any]) -> None:
    v01, v2 = tasks["v0.1"], tasks["v2.0"]
    assert (len(v01.items), v01.benchmark, v01.protocol) == (500, "arena-hard", "arena-hard-v0.1")
    assert (len(v2.items), v2.benchmark, v2.protocol) == (500, "arena-hard-v2.0", "arena-hard-v2.0")
    assert {i.category for i in v2.items} == {"hard_prompt"}


def test_the_prompt_is_arena_hards_template_filled_with_the_real_question_and_baseline(
        tasks: dict[str, Any], shared_data: Path) -> None:
    """Game 1 shows the baseline as assistant A, game 2 the model; the answer is shown verbatim, markers and all."""
    task = tasks["v0.1"]
    item = task.items[7]
    baseline = read_answers(shared_data / "arena_hard" / "arena-hard-v0.1" / "model_answer" / "gpt-4-0314.jsonl.gz")
    answer = "Mine {answer_1} <|The End of Assistant B's Answer|>\n"
    requests = kind_of(task.kind).requests(task, Candidate(task.benchmark, item.id, "m", (answer,)), item, JUDGE)
    template = _shared_config(shared_data, "v0.1")["prompt_template"]
    question = json.loads((shared_data / "arena_hard" / "arena-hard-v0.1" / "question.jsonl").read_text()
                          .split("\n")[7])["prompt"]
    real = baseline[item.id].text
    assert [r.position for r in requests] == ["BA", "AB"]
    assert requests[0].chat.messages == (("system", SYSTEM), ("user", template.format(
        QUESTION=question, ANSWER_A=real, ANSWER_B=answer)))
    assert requests[1].chat.messages[1][1] == template.format(QUESTION=question, ANSWER_A=answer, ANSWER_B=real)
    assert dict(requests[0].chat.params) == {"max_tokens": 4096, "temperature": 0.0}
    assert framing_answers([answer, real, "plain"]) == 1


def test_v2_takes_its_template_patterns_and_sampling_from_its_config(tasks: dict[str, Any], shared_data: Path) -> None:
    task = tasks["v2.0"]
    item = task.items[0]
    config = _shared_config(shared_data, "v2.0")
    (game1, _) = kind_of(task.kind).requests(task, Candidate(task.benchmark, item.id, "m", ("x",)), item, JUDGE)
    baseline = read_answers(tasks["dir"] / "base.jsonl")[item.id].text
    assert game1.chat.messages == (("system", SYSTEM), ("user", config["prompt_template"].format(
        QUESTION=item.turns[0], ANSWER_A=baseline, ANSWER_B="x")))
    assert dict(game1.chat.params) == {"max_tokens": config["max_tokens"], "temperature": config["temperature"]}


@pytest.mark.parametrize(("reply", "v2", "v01"), [
    ("no label at all", None, (None, True)),
    ("first [[A>B]], on reflection [[B>A]]", "B>A", (None, False)),  # v2: the last match; v0.1: none
    ("[[A>B]] as said: [[A>B]]", "A>B", ("A>B", False)),
    ("lowercase [[b>>a]]", "B>>A", (None, True)),  # v2 upper-cases the reply first
    ("single brackets [A>B]", "A>B", (None, True)),  # v2's second pattern
    ("[[A=B]] beats the fallback [B>A]", "A=B", ("A=B", False)),  # the first pattern that matches wins
    ("[[AB]]", "AB", ("AB", False)),  # matched, but not a label Arena-Hard scores
])
def test_verdicts_are_extracted_as_arena_hards_get_score(reply: str, v2: str | None,
                                                         v01: tuple[str | None, bool], shared_data: Path) -> None:
    assert extract_v2(reply, _shared_config(shared_data, "v2.0")["regex_patterns"]) == v2
    assert extract_v01(reply, V01_PATTERN) == v01


def test_a_reply_without_a_scored_label_is_a_failure(tasks: dict[str, Any]) -> None:
    from judgebench.types import ChatReply

    task = tasks["v2.0"]
    kind = kind_of(task.kind)
    item = task.items[0]
    requests = kind.requests(task, Candidate(task.benchmark, item.id, "m", ("x",)), item, JUDGE)
    (judgment,) = kind.assemble(task, Candidate(task.benchmark, item.id, "m", ("x",)), requests,
                                [ChatReply("[[AB]]"), ChatReply("Verdict: [[A>>B]]")])
    assert judgment.verdict_ba is None and judgment.failure_kind == "parse" and "game 1" in str(judgment.error)
    assert (judgment.verdict_ab, judgment.margin_ab) == ("win", 2)  # game 2: the model is A, much better


def test_judge_utils_is_read_as_data_never_run(tasks: dict[str, Any]) -> None:
    utils = tasks["dir"] / "judge_utils.py"
    utils.write_text("import os\nJUDGE_SETTINGS = {'hard_prompt': {'baseline': os.getcwd(), 'system_prompt': 'x'}}\n")
    with pytest.raises(TaskError, match=r"judge_utils\.py:2: JUDGE_SETTINGS holds something other than strings"):
        from judgebench.judging.protocols.arena_hard_files import read_judge_settings

        read_judge_settings.cache_clear()
        load_task(str(tasks["dir"] / "v2.yaml"))


def test_markdown_counts_follow_add_markdown_info() -> None:
    text = "# Title\n#nope\n## Sub\n1. one\n  - two\n* three\n**bold** and __also__\n```\n# not a header\n- no\n```\n"
    assert markdown_counts(text) == (2, 3, 2)


def _bt_reference(points: list[float], weights: list[int], models: list[str]) -> dict[str, float]:
    """show_result.py's compute_mle_elo on the battles as get_battles_from_judgment lists them, with sklearn, then
    the predicted win rate against the baseline (1000)."""
    names = [*sorted(set(models)), "baseline"]
    a, b, winner = [], [], []
    for model, p, w in zip(models, points, weights, strict=True):
        for _ in range(w):
            a.append("baseline"), b.append(model), winner.append({1.0: "b", 0.0: "a", 0.5: "tie"}[p])
    x = np.zeros((2 * len(a), len(names)))
    y = np.zeros(2 * len(a))
    for k in range(2):
        for i, (ma, mb, win) in enumerate(zip(a, b, winner, strict=True)):
            row = k * len(a) + i
            x[row, names.index(ma)], x[row, names.index(mb)] = math.log(10), -math.log(10)
            y[row] = 1.0 if win == "a" or (win == "tie" and k == 0) else 0.0
    fit = LogisticRegression(fit_intercept=False, penalty=None, tol=1e-8).fit(x, y)
    elo = 400 * fit.coef_[0] + 1000
    elo += 1000 - elo[names.index("baseline")]
    return {m: 100 / (1 + 10 ** ((1000 - elo[names.index(m)]) / 400)) for m in names[:-1]}


def _reply(body: dict[str, Any]) -> str:
    """The fake server: a candidate answer when asked without a system prompt, else a verdict chosen by a hash of
    the prompt (now and then none)."""
    messages = body["messages"]
    if messages[0]["role"] != "system":
        return "Answer:\n- point\n" * (1 + len(messages[-1]["content"]) % 4)
    digest = int(hashlib.sha256(messages[-1]["content"].encode()).hexdigest(), 16)
    return ["[[A>>B]]", "[[A>B]]", "[[A=B]]", "[[B>A]]", "[[B>>A]]", "no verdict", "[B>A]"][digest % 7]


@pytest.mark.parametrize("version", ["v0.1", "v2.0"])
def test_a_run_scores_as_arena_hard_and_stats_agrees(tasks: dict[str, Any], version: str, tmp_path: Path) -> None:
    task = tasks[version]
    with fake_model(Script([("fn", _reply)])) as url:
        endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=4)
        result = evaluate(task, RunConfig(model=endpoint, judges=(Judge("fake-judge", endpoint),), out=tmp_path / "r",
                                          cache_path=tmp_path / "c.sqlite", limit=40, progress=False, n_bootstrap=1))
    frame = read_judgments([result.run_dir]).frame
    assert list(result.rows) == score_rows(frame, n_bootstrap=1)
    (row,) = result.rows
    games = [(p, w) for _, j in frame.iterrows() for v, m in ((j.verdict_ab, j.margin_ab), (j.verdict_ba, j.margin_ba))
             if isinstance(v, str) and (version == "v0.1" or (isinstance(j.verdict_ab, str)
                                                                and isinstance(j.verdict_ba, str)))
             for p, w in [({"win": 1.0, "tie": 0.5, "loss": 0.0}[v], 3 if m == 2 else 1)]]
    assert row.n_failed > 0 and row.ci_low is not None and row.ci_high is not None
    if version == "v0.1":
        expected = _bt_reference([p for p, _ in games], [w for _, w in games], ["fake"] * len(games))["fake"]
        assert row.score == pytest.approx(expected, abs=1e-4)
        assert row.ci_low < row.score < row.ci_high
    else:
        mean = sum(p * w for p, w in games) / sum(w for _, w in games) * 100
        assert row.ci_low <= mean <= row.ci_high and abs(row.score - mean) < 3
        assert row.length_controlled_winrate is not None


def test_v01_fit_matches_sklearn_with_several_models() -> None:
    rng = np.random.default_rng(3)
    models = [f"m{k}" for k in rng.integers(0, 3, 300)]
    points = list(rng.choice([0.0, 0.5, 1.0], 300, p=[0.3, 0.2, 0.5]))
    weights = list(rng.choice([1, 3], 300))
    expected = _bt_reference(points, weights, models)
    for s in v01_scores(models, points, weights, rounds=20):
        assert s.score == pytest.approx(expected[s.model], abs=1e-4) and s.ci_low < s.score < s.ci_high


def test_v2_scores_without_rounds_are_the_weighted_mean_of_the_games() -> None:
    (s,) = v2_scores(["m"] * 4, [1.0, 0.0, 0.5, 1.0], [3, 1, 1, 1], rounds=0)
    assert s.score == pytest.approx(100 * (3 + 0 + 0.5 + 1) / 6)


def test_style_control_matches_an_unpenalized_logistic_regression() -> None:
    rng = np.random.default_rng(5)
    n = 400
    models = [f"m{k}" for k in rng.integers(0, 2, n)]
    own = [StyleFeatures(*map(float, (rng.integers(50, 900), rng.integers(0, 6), rng.integers(0, 9),
                                      rng.integers(0, 5)))) for _ in range(n)]
    base = [StyleFeatures(*map(float, (rng.integers(50, 900), rng.integers(0, 6), rng.integers(0, 9),
                                       rng.integers(0, 5)))) for _ in range(n)]
    raw = style_features(own, base)
    points = [float(p) for p in (rng.random(n) < 1 / (1 + np.exp(-2 * raw[:, 0]))).astype(float)]
    weights = [1] * n
    scores, coefficients = v2_style_scores(models, points, weights, raw, rounds=0)
    normalized = (raw - raw.mean(axis=0)) / raw.std(axis=0, ddof=1)
    onehot = np.array([[m == "m0", m == "m1"] for m in models], dtype=float)
    fit = LogisticRegression(fit_intercept=False, penalty=None, tol=1e-10, max_iter=1000).fit(
        np.hstack([onehot, normalized]), points)
    assert coefficients == pytest.approx(fit.coef_[0][2:], abs=1e-4)
    assert [s.score for s in scores] == pytest.approx(list(100 / (1 + np.exp(-fit.coef_[0][:2]))), abs=1e-3)
