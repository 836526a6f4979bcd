"""Rubric results are the same on every surface (the run's summary, `judgebench stats`, `judgebench.load()`), their
per-criterion frame has one row per judgment and criterion, and both modes assemble one judgment per answer."""

from __future__ import annotations

import json
import textwrap
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import judgebench
from judgebench.analysis.records import read_judgments
from judgebench.analysis.rubric import rubric_tables
from judgebench.cli import main
from judgebench.formats.criteria import CRITERIA_COLUMN_NAMES, criteria_frame
from judgebench.formats.judgebench import dumps_line, judgment_from_record, judgment_record
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.stats.rubric import rubric_score
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script


def _met(criterion: str, prompt: str) -> bool:
    """The scripted judge: model a's answers ("alpha") meet the odd-numbered criteria and on-topic, model b's the
    even-numbered ones; a stable mix so scores differ between items and models."""
    number = int(criterion[1:]) if criterion[1:].isdigit() else 0
    return (number % 2 == 1 or number == 0) if "alpha" in prompt else number % 2 == 0


def _reply(body: dict[str, Any]) -> str:
    if "response_format" not in body:  # an answer
        return f"{'alpha' if body['model'] == 'a' else 'beta'} answer"
    prompt = body["messages"][-1]["content"]
    properties = list(body["response_format"]["json_schema"]["schema"]["properties"])
    if properties == ["score", "explanation"]:  # a score rubric: a level that differs between items and models
        return json.dumps({"score": zlib.crc32(prompt.encode()) % 5 + 1, "explanation": "scripted"})
    if properties == ["met", "explanation"]:
        criterion = next(line.split(":")[0].split()[-1] for line in prompt.splitlines() if line.startswith("Criterion"))
        return json.dumps({"met": _met(criterion, prompt), "explanation": "scripted"})
    return json.dumps({c: _met(c, prompt) for c in properties})


def _run(task_path: str, out: Path, limit: int | None = None) -> list[Path]:
    task = load_task(task_path)
    runs = []
    with fake_model(Script([("fn", _reply)])) as url:
        judge = Endpoint(provider="openai", name="judge", model="judge", base_url=url, concurrency=2)
        for name in ("a", "b"):
            model = Endpoint(provider="openai", name=name, model=name, base_url=url, concurrency=2)
            config = RunConfig(model=model, judges=(Judge("judge#json", judge, constrained=True),), out=out,
                               cache_path=out / "cache.sqlite", limit=limit, progress=False)
            runs.append(evaluate(task, config).run_dir)
    return runs


@pytest.fixture(scope="module")
def rubric_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rubric") / "results"
    _run("sample-rubric", out)
    return out


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_scores_agree_across_surfaces(rubric_runs: Path) -> None:
    keys = ("model", "score", "ci_low", "ci_high", "n_judged", "n_failed")

    def picked(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(tuple(row[k] for k in keys) for row in rows)

    from_runs = picked([row for summary in rubric_runs.glob("*/summary.json")
                        for row in json.loads(summary.read_text())["rows"]])
    from_stats = picked(json.loads(_cli("stats", str(rubric_runs), "--json")))
    from_load = picked(judgebench.load(rubric_runs).scores.to_dict("records"))
    assert from_stats == from_runs and from_load == from_runs
    assert len(from_runs) == 2 and all(r[2] is not None and r[2] <= r[1] <= r[3] for r in from_runs)


def test_each_item_score_follows_the_rule_from_its_criteria(rubric_runs: Path) -> None:
    results = judgebench.load(rubric_runs)
    task = load_task("sample-rubric")
    judgments = results.judgments
    assert len(judgments) == 2 * len(task.items) and judgments["score"].notna().all()
    for row in judgments.itertuples():
        prompt = "alpha" if row.model == "a" else "beta"
        criteria = task.item(row.item_id).criteria
        expected = rubric_score([(c.points, _met(c.id if c.id != "on-topic" else "c0", prompt)) for c in criteria])
        assert row.score == pytest.approx(expected)


def test_the_rubric_tables_agree_across_surfaces(rubric_runs: Path) -> None:
    results = judgebench.load(rubric_runs)
    tables = results.rubric
    again = rubric_tables(read_judgments([rubric_runs]).frame)
    for name in ("criteria", "tags", "categories", "pairs"):
        pd.testing.assert_frame_equal(getattr(tables, name), getattr(again, name))
    # The pairwise difference is the mean over the items both models were scored on, a - b.
    (pair,) = tables.pairs.itertuples()
    wide = results.judgments.pivot(index="item_id", columns="model", values="score")
    assert (pair.model_a, pair.model_b, pair.n_items) == ("a", "b", len(wide))
    assert pair.difference == pytest.approx(float((wide["a"] - wide["b"]).mean()))
    assert pair.ci_low <= pair.difference <= pair.ci_high
    text = _cli("stats", str(rubric_runs))
    assert f"{pair.difference:.3f}" in text and f"[{pair.ci_low:.2f}, {pair.ci_high:.2f}]" in text
    # The task-level criterion is one criterion across items: a's rate is over every item.
    on_topic = tables.criteria[(tables.criteria["key"] == "on-topic") & (tables.criteria["model"] == "a")]
    assert on_topic["n"].tolist() == [len(wide)] and on_topic["rate_met"].tolist() == [1.0]
    for category in tables.categories.itertuples():
        scores = results.judgments[(results.judgments["model"] == category.model)
                                   & (results.judgments["category"] == category.category)]["score"]
        assert category.score == pytest.approx(float(scores.mean())) and category.n_items == len(scores)


def test_stats_json_text_and_load_show_the_same_rubric_tables(rubric_runs: Path) -> None:
    """`stats --json` carries each rubric score row's share of the tables: put back together they are
    ``load().rubric``'s tables, and `stats` prints those same tables as text."""
    from judgebench.analysis.rubric import table_records
    from judgebench.publish.rubric_tables import format_rubric

    tables = judgebench.load(rubric_runs).rubric
    rows = json.loads(_cli("stats", str(rubric_runs), "--json"))
    assert len(rows) == 2 and all("rubric" in row for row in rows)
    for name in ("criteria", "tags", "categories", "pairs"):
        expected = table_records(getattr(tables, name))
        assert expected, name
        shown = [r for row in rows for r in row["rubric"][name]]
        if name == "pairs":  # a pair is in both its models' rows
            assert all(row["rubric"]["pairs"] == expected for row in rows)
            continue
        key = lambda r: json.dumps(r, sort_keys=True)  # noqa: E731
        assert sorted(shown, key=key) == sorted(expected, key=key)
        assert all(r["model"] == row["model"] for row in rows for r in row["rubric"][name])
    assert format_rubric(tables) in _cli("stats", str(rubric_runs))


def test_the_criteria_frame_has_a_row_per_judgment_and_criterion(rubric_runs: Path) -> None:
    results = judgebench.load(rubric_runs)
    frame = results.criteria
    task = load_task("sample-rubric")
    assert list(frame.columns) == CRITERIA_COLUMN_NAMES
    assert len(frame) == 2 * sum(len(i.criteria) for i in task.items)
    assert str(frame["met"].dtype) == "boolean" and str(frame["level"].dtype) == "Float64"
    assert frame["points"].dtype == np.float64 and frame["turn"].dtype == np.int64
    assert set(frame.loc[frame["scope"] == "task", "key"]) == {"on-topic"}
    assert criteria_frame(results.judgments[results.judgments["kind"] != "rubric"]).empty


def test_a_rubric_judgment_survives_its_record(rubric_runs: Path) -> None:
    from judgebench.formats.judgebench import load_run

    run = next(p for p in rubric_runs.iterdir() if p.is_dir())
    _, _, judgments = load_run(run)
    for judgment in judgments:
        record = json.loads(dumps_line(judgment_record(judgment)))
        assert judgment_from_record(record).verdict == judgment.verdict
    assert judgments[0].rubric is not None and judgments[0].rubric.criteria[0].scope == "task"


PER_CRITERION = """
name: pc
kind: rubric
judge: {prompt: rubric.jinja, mode: per_criterion}
items:
  - id: q1
    category: x
    turns: ["Say something."]
    rubric:
      - {text: "Is friendly", points: 3, tags: [tone]}
      - {text: "Mentions the weather", points: 2}
      - {text: "Insults the reader", points: -5}
"""


def test_per_criterion_asks_once_per_criterion_and_assembles_one_judgment(tmp_path: Path) -> None:
    path = tmp_path / "pc.yaml"
    path.write_text(textwrap.dedent(PER_CRITERION).lstrip())
    (run_a, _) = _run(str(path), tmp_path / "results")
    frame = read_judgments([run_a]).frame
    (row,) = frame.itertuples()
    # a meets c1 and c3 (odd numbers): (3 - 5) / (3 + 2), clipped to 0.
    assert row.score == 0.0 and row.judge_calls == 3
    met = criteria_frame(frame)["met"].tolist()
    assert met == [True, False, True]


def test_each_tag_score_is_the_items_scores_over_the_tags_criteria(rubric_runs: Path) -> None:
    results = judgebench.load(rubric_runs)
    criteria = results.criteria
    tag_lists = criteria["tags"].str.split(",")
    for row in results.rubric.tags.itertuples():
        mine = criteria[(criteria["model"] == row.model) & tag_lists.map({row.tag}.issubset)]
        scores = [rubric_score(list(zip(part["points"], part["met"].astype(bool), strict=True)))
                  for _, part in mine.groupby("item_id") if (part["points"] > 0).any()]
        assert row.n_items == len(scores)
        assert row.score == pytest.approx(float(np.mean(scores)))
        assert row.rate_met == pytest.approx(float(mine["met"].astype(float).mean()))


def test_tag_and_category_met_rates_have_the_shared_intervals(rubric_runs: Path) -> None:
    """A tag's and a category's met rate is the mean of their criteria's verdicts, with the interval the shared
    bootstrap setting (DEFAULT_BOOTSTRAP, as every score) gives those verdicts; the text prints them."""
    from judgebench.analysis.aggregate import interval
    from judgebench.constants import DEFAULT_BOOTSTRAP
    from judgebench.publish.rubric_tables import ci_text

    results = judgebench.load(rubric_runs)
    criteria = results.criteria.sort_values(["benchmark", "protocol", "judge", "model", "item_id", "turn"],
                                            kind="stable")
    tables = rubric_tables(read_judgments([rubric_runs]).frame)
    text = _cli("stats", str(rubric_runs))
    tag_lists = criteria["tags"].str.split(",")
    for row in tables.tags.itertuples():
        mine = criteria[(criteria["model"] == row.model) & tag_lists.map({row.tag}.issubset)]
        verdicts = mine["met"].dropna().astype(float).to_numpy()
        assert row.rate_met == pytest.approx(verdicts.mean())
        assert (row.rate_ci_low, row.rate_ci_high) == interval(verdicts, DEFAULT_BOOTSTRAP)
    for row in tables.categories.itertuples():
        mine = criteria[(criteria["model"] == row.model) & (criteria["category"] == row.category)]
        verdicts = mine["met"].dropna().astype(float).to_numpy()
        assert row.rate_met == pytest.approx(verdicts.mean())
        assert (row.rate_ci_low, row.rate_ci_high) == interval(verdicts, DEFAULT_BOOTSTRAP)
        assert row.rate_ci_low is not None and row.rate_ci_low <= row.rate_met <= row.rate_ci_high
        assert ci_text(row.rate_ci_low, row.rate_ci_high) in text
    assert results.rubric.categories.equals(tables.categories) and results.rubric.tags.equals(tables.tags)
    # A points rubric has no levels: the text shows no level column.
    assert tables.criteria["mean_level"].isna().all() and "; a score rubric's" not in text


SCORE_RUBRIC = """
name: sr
kind: rubric
judge: {prompt: rubric.jinja, style: score}
rubric:
  - {id: clarity, text: "How clear is it?", levels: [Confusing, Unclear, Fair, Clear, Very clear]}
items:
  - {id: q1, category: x, turns: ["Explain rain."]}
  - {id: q2, category: x, turns: ["Explain snow."]}
  - {id: q3, category: y, turns: ["Explain hail."]}
  - {id: q4, category: y, turns: ["Explain fog."]}
"""


def test_a_score_rubrics_criterion_shows_its_mean_level_with_an_interval(tmp_path: Path) -> None:
    from judgebench.analysis.aggregate import interval
    from judgebench.constants import DEFAULT_BOOTSTRAP

    path = tmp_path / "sr.yaml"
    path.write_text(textwrap.dedent(SCORE_RUBRIC).lstrip())
    out = tmp_path / "results"
    _run(str(path), out)
    results = judgebench.load(out)
    levels = results.criteria.sort_values(["model", "item_id"], kind="stable")
    table = results.rubric.criteria
    assert len(table) == 2  # one criterion across items, per model
    for row in table.itertuples():
        picked = levels.loc[levels["model"] == row.model, "level"].astype(float).to_numpy()
        assert len(picked) == 4 and row.mean_level == pytest.approx(picked.mean())
        assert (row.level_ci_low, row.level_ci_high) == interval(picked, DEFAULT_BOOTSTRAP)
        # Each item's score is (level - 1) / 4: the mean level is the mean score on the level scale.
        scores = results.judgments.loc[results.judgments["model"] == row.model, "score"]
        assert row.mean_level == pytest.approx(4 * scores.mean() + 1)
    text = _cli("stats", str(out))
    assert "a score rubric's: the mean level picked" in text
    for row in table.itertuples():
        assert f"{row.mean_level:.2f}" in text and f"[{row.level_ci_low:.2f}, {row.level_ci_high:.2f}]" in text
    rows = json.loads(_cli("stats", str(out), "--json"))
    shown = {r["model"]: r["mean_level"] for row in rows for r in row["rubric"]["criteria"]}
    assert shown == dict(zip(table["model"], table["mean_level"], strict=True))
    # The site's criterion table shows the same cells.
    from judgebench.publish import rubric_page

    (group,) = rubric_page.groups(results.rubric, tmp_path)
    (criteria,) = [t for t in group.tables if t.name == "criteria"]
    headers = [h for h, _ in criteria.headers]
    at = headers.index("level")
    assert headers[at + 1] == "95% CI"
    assert sorted((row[at].text, row[at + 1].text) for row in criteria.rows) == sorted(
        (f"{r.mean_level:.2f}", f"[{r.level_ci_low:.2f}, {r.level_ci_high:.2f}]") for r in table.itertuples())
