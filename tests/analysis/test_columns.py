"""A run's summary from its columns (analysis.run_summary, no frame) against the frame's (score_rows, diagnose), on
many random stores; the array statistics against pandas' own; and which runs take the columns path."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from judgebench.analysis.columns import IDENTITY, identity_key, identity_positions
from judgebench.analysis.diagnostics import diagnose
from judgebench.analysis.records import canonical_frame
from judgebench.analysis.run_summary import summarized_by_columns, table_summary
from judgebench.analysis.scores import score_rows
from judgebench.formats.table import ColumnStore, judgment_row
from judgebench.stats.grouped import group_means, sorted_codes
from judgebench.stats.saturation import saturation_of
from judgebench.types import AnswerTraits, Failure, Grade, Judgment, JudgmentId, RubricVerdict

CAUSES = ("parse", "truncated", "request", "filtered", "no_answer", "empty", "pending", "split")
MODELS = ("gpt-4o", "gpt-3.5-turbo", "Qwen/Qwen2.5-7B", "claude-3", "モデル-α", "llama#q4", "Ω-model", "mistral")
CATEGORIES = ("writing", "math", "coding", "réasoning", "数学", "", "Z", "a b")
JUDGES = ("gpt-judge#json", "qwen-judge", "claude-3-judge,t=0.7")


def _score(rng: np.random.Generator, kind: str, scale: tuple[int, int]) -> float:
    if kind == "rubric":
        return float(rng.choice([0.0, 1.0, 1 / 3, 2 / 3, 0.25, float(rng.random())]))
    low, high = scale
    shape = rng.integers(0, 4)
    if shape == 0:  # a whole grade (as an int, as the parsers may give it)
        return int(rng.integers(low, high + 1))  # type: ignore[return-value]
    if shape == 1:
        return float(rng.integers(low, high + 1))
    if shape == 2:
        return float(rng.integers(2 * low, 2 * high + 1)) / 2
    return float(low + (high - low) * rng.random())  # any float: sums that round


def _judgment(rng: np.random.Generator, benchmark: str, protocol: str, judge: str, kind: str, model: str,
              item: str, category: str, turn: int, scale: tuple[int, int], float_scores: bool) -> Judgment:
    identity = JudgmentId(benchmark, protocol, judge, model, None, item, turn)
    length = AnswerTraits(int(rng.integers(0, 3000)))
    draw = rng.random()
    if draw < 0.12:
        cause = str(rng.choice(CAUSES))
        return Judgment(identity, kind, category, failure=Failure(cause, f"{cause}: näh"), scale=scale,  # type: ignore[arg-type]
                        answer=length, empty=cause == "empty")
    if draw < 0.17:  # an empty answer graded the lowest grade (on_empty: lowest)
        return Judgment(identity, kind, category, Grade(float(scale[0])), scale=scale, answer=AnswerTraits(0),
                        empty=True)
    if draw < 0.19:
        score = float("nan")
    else:
        score = _score(rng, kind, scale) if float_scores or kind == "rubric" else float(rng.integers(scale[0],
                                                                                                     scale[1] + 1))
    if kind == "rubric":
        return Judgment(identity, kind, category, RubricVerdict((), score), scale=(0, 1), answer=length)
    expected = float(rng.random() * scale[1]) if rng.random() < 0.3 else None
    return Judgment(identity, kind, category, Grade(score, expected), scale=scale, answer=length)


def random_store(seed: int) -> ColumnStore:
    """A run's judgments of one judge: random models, categories, turns, failures of every cause, empty answers,
    pending judgments, NaN and whole or fractional grades, unicode ids, in a random order."""
    rng = np.random.default_rng(seed)
    kind = str(rng.choice(["single", "fastchat-single", "arena-bench-single", "rubric"]))
    judge = str(rng.choice(JUDGES))
    scale = ((1, 10), (1, 5), (0, 3))[int(rng.integers(0, 3))]
    models = list(rng.choice(MODELS, size=int(rng.integers(1, 6)), replace=False))
    categories = list(rng.choice(CATEGORIES, size=int(rng.integers(1, 5)), replace=False))
    benchmarks = ["mt-bench"] if rng.random() < 0.8 else ["mt-bench", "bänch"]
    float_scores = bool(rng.random() < 0.5)
    n_items = int(rng.integers(1, 40))
    items = [str(i) if rng.random() < 0.5 else f"q-{i}-ü" for i in rng.permutation(n_items * 3)[:n_items]]
    judgments = []
    for benchmark in benchmarks:
        for item in items:
            category = str(rng.choice(categories))
            n_turns = int(rng.integers(1, 4))
            for model in models:
                if rng.random() < 0.1:
                    continue  # a model without this item
                for turn in range(1, n_turns + 1):
                    judgments.append(_judgment(rng, benchmark, "" if benchmark == "mt-bench" else benchmark, judge,
                                               kind, str(model), item, category, turn, scale, float_scores))
    store = ColumnStore()
    for position in rng.permutation(len(judgments)):
        store.append(judgment_row(judgments[position]))
    return store


def _as_json(rows: Any, diagnostics: Any) -> str:
    return json.dumps({"rows": [asdict(row) for row in rows], "diagnostics": diagnostics.to_json()},
                      ensure_ascii=False, allow_nan=False)


@pytest.mark.parametrize("seed", range(60))
def test_the_columns_summary_is_the_frames_on_random_runs(seed: int) -> None:
    store = random_store(seed)
    assert summarized_by_columns(store)
    frame = canonical_frame(store, "run")
    expected = _as_json(score_rows(frame, 40), diagnose(frame, n_bootstrap=60))
    rows, diagnostics = table_summary(store, 40, n_diagnostic_bootstrap=60)
    assert _as_json(rows, diagnostics) == expected


def test_a_run_of_several_judges_or_of_pairs_needs_the_frame() -> None:
    def store(*judgments: Judgment) -> ColumnStore:
        found = ColumnStore()
        for judgment in judgments:
            found.append(judgment_row(judgment))
        return found

    def graded(judge: str, kind: str = "single") -> Judgment:
        return Judgment(JudgmentId("b", "", judge, "m", None, "1", 1), kind, "c", Grade(7.0), scale=(1, 10))

    assert summarized_by_columns(store(graded("a-judge"), graded("a-judge", "rubric")))
    assert not summarized_by_columns(store(graded("a-judge"), graded("b-judge")))
    assert not summarized_by_columns(ColumnStore())
    assert not summarized_by_columns(store(Judgment(JudgmentId("b", "", "j", "m", "ref", "1", 1), "pairwise", "c")))


def test_judgments_without_a_category_have_no_category_section_on_either_path() -> None:
    """A judgment without a category (a judgments file that names none) is in no category's group, as pandas'
    groupby drops a missing key: when none has one there is no group at all, not a crash of the summary."""
    store = ColumnStore()
    for i, score in enumerate([3.0, 5.0, 9.0]):
        store.append(judgment_row(Judgment(JudgmentId("b", "", "j", "m", None, str(i), 1), "single", None,  # type: ignore[arg-type]
                                           Grade(score), scale=(1, 10), answer=AnswerTraits(5))))
    frame = canonical_frame(store, "run")
    expected = _as_json(score_rows(frame, 40), diagnose(frame, n_bootstrap=60))
    rows, diagnostics = table_summary(store, 40, n_diagnostic_bootstrap=60)
    assert _as_json(rows, diagnostics) == expected
    (saturation,) = diagnostics.saturation
    assert saturation.per_category == () and saturation.overall.per_model[0].n == 3
    assert rows[0].per_category == () and rows[0].score == 17 / 3


@pytest.mark.parametrize("seed", range(40))
def test_group_means_are_pandas_groupby_means(seed: int) -> None:
    """Bit for bit: sorted and unsorted keys, NaN values, missing keys, whole and fractional values."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    keys = rng.integers(0, int(rng.integers(1, 6)), size=n)
    if rng.random() < 0.4:
        keys = np.sort(keys)
    values = rng.random(n) * 10 if rng.random() < 0.6 else rng.integers(0, 11, size=n).astype(float)
    if rng.random() < 0.5:
        values[rng.random(n) < 0.1] = np.nan
    text = np.array([f"k{k}" for k in keys], dtype=object)
    if rng.random() < 0.3:
        text[rng.random(n) < 0.1] = None
    for key_values in (keys, text):
        expected = pd.Series(values).groupby(pd.Series(key_values), sort=True).mean()
        codes, uniques = sorted_codes(key_values)
        found = group_means(codes, values, len(uniques))
        assert uniques == list(expected.index)
        assert found.tobytes() == expected.to_numpy(dtype=float).tobytes()


def test_saturation_ranks_tied_models_as_pandas_sorts_them() -> None:
    rng = np.random.default_rng(3)
    models = np.array([f"m{i % 20:02d}" for i in range(400)], dtype=object)
    scores = rng.integers(8, 11, size=400).astype(float) // 2 * 2  # few distinct means: many ties
    section = saturation_of(models, scores, 10, top_k=20, n_bootstrap=10)
    means = pd.DataFrame({"model": models, "score": scores}).groupby("model")["score"].mean().dropna()
    assert section.top_models == tuple(means.sort_values(ascending=False).index)


@pytest.mark.parametrize("seed", range(10))
def test_the_canonical_order_sorts_identities_as_text(seed: int) -> None:
    store = random_store(seed)
    columns = store.columns()
    arrays = [np.asarray(columns[name], dtype=np.int64 if name == "turn" else object) for name in IDENTITY]
    order = identity_positions(arrays)
    found = list(range(len(store))) if order is None else order.tolist()
    texts = [a if a.dtype.kind == "i" else [identity_key(v) for v in a] for a in arrays]
    assert found == sorted(range(len(store)), key=lambda i: tuple(t[i] for t in texts))


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from judgebench.run import evaluate

    calls: list[int] = []
    built = evaluate.canonical_frame

    def spy(store: ColumnStore, run_id: str | None = None) -> pd.DataFrame:
        calls.append(len(store))
        return built(store, run_id)

    monkeypatch.setattr(evaluate, "canonical_frame", spy)
    return calls


def test_a_one_judge_graded_run_builds_no_frame_and_a_panel_does(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from judgebench.analysis.records import read_judgments
    from judgebench.run.evaluate import RunConfig, evaluate
    from judgebench.tasks import load_task
    from judgebench.types import Endpoint, Judge

    from ..fakemodel import fake_model
    from ..fakeserver import Script

    calls = _counting(monkeypatch)
    task = load_task("sample-mt")
    with fake_model(Script([("ok", "Fine. Rating: [[7]]")])) as url:
        endpoint = Endpoint(provider="openai", name="fake", model="fake", base_url=url, concurrency=2)

        def run(*judges: str) -> Any:
            return evaluate(task, RunConfig(model=endpoint, judges=tuple(Judge(j, endpoint) for j in judges),
                                            out=tmp_path / "r", cache_path=tmp_path / "c.sqlite", limit=3,
                                            progress=False, n_bootstrap=50))

        single = run("gpt-judge")
        assert calls == []
        assert list(single.rows) == score_rows(read_judgments([single.run_dir]).frame, n_bootstrap=50)
        assert single.diagnostics.to_json() == diagnose(read_judgments([single.run_dir]).frame).to_json()
        panel = run("gpt-judge", "other-judge")
    assert calls == [panel.n_judgments] and panel.n_judgments == 2 * single.n_judgments


def test_the_columns_summary_calls_no_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    """What lets a run's summary go without importing pandas: no frame, series, index or factorization is made."""
    store = random_store(7)
    expected = table_summary(store, 40, n_diagnostic_bootstrap=60)

    def refused(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("pandas was called")

    for owner, name in ((pd.DataFrame, "__init__"), (pd.Series, "__init__"), (pd.Index, "__new__"),
                        (pd, "factorize"), (pd, "concat")):
        monkeypatch.setattr(owner, name, refused)
    assert table_summary(store, 40, n_diagnostic_bootstrap=60) == expected
