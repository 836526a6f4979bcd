"""Rubric criteria measured (analysis.rubric_quality) on constructed verdicts whose agreement is computed here from
its definition (or by sklearn / statsmodels); the criterion labels file and its file:line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

import judgebench
from judgebench.analysis.rubric_quality import ALL, rubric_quality
from judgebench.cli import main
from judgebench.errors import DataError
from judgebench.formats.criteria import CRITERIA_COLUMN_NAMES
from judgebench.formats.criterion_labels import read_criterion_labels
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script

ITEMS = [f"q{i}" for i in range(6)]
MODELS = ["m1", "m2", "m3"]


def _frame(verdicts: dict[tuple[str, str, str, str], bool | None]) -> pd.DataFrame:
    """A per-criterion frame from (judge, model, item, criterion) -> met; "on-topic" and "concise" are task-level."""
    rows = []
    for (judge, model, item, criterion), met in verdicts.items():
        rows.append(("bench", "proto", judge, model, item, "general", 1, criterion, criterion, f"text of {criterion}",
                     2.0 if criterion != "rude" else -1.0, "", "task", met, None, False, met is None))
    frame = pd.DataFrame(rows, columns=CRITERIA_COLUMN_NAMES)
    return frame.astype({"met": "boolean", "level": "Int64"})


def _panel_verdicts(judges: tuple[str, ...] = ("j1", "j2")) -> dict[tuple[str, str, str, str], bool | None]:
    rng = np.random.default_rng(7)
    found: dict[tuple[str, str, str, str], bool | None] = {}
    for item in ITEMS:
        for model in MODELS:
            truth = bool(rng.integers(0, 2))
            for n, judge in enumerate(judges):
                found[(judge, model, item, "on-topic")] = True  # never varies
                found[(judge, model, item, "rude")] = False  # never met
                found[(judge, model, item, "concise")] = truth if n == 0 or rng.random() < 0.8 else not truth
                found[(judge, model, item, "cites")] = bool(rng.integers(0, 2))  # judges independent
    return found


def _column(verdicts: dict[tuple[str, str, str, str], bool | None], judge: str, criterion: str) -> list[int]:
    return [int(bool(verdicts[(judge, m, i, criterion)])) for i in ITEMS for m in MODELS]


def test_panel_agreement_per_criterion_matches_the_definition() -> None:
    verdicts = _panel_verdicts()
    quality = rubric_quality(_frame(verdicts), n_bootstrap=0)
    panel = quality.panel.set_index("key")
    for criterion in ("concise", "cites"):
        a, b = _column(verdicts, "j1", criterion), _column(verdicts, "j2", criterion)
        row = panel.loc[criterion]
        assert row["n_units"] == 18 and row["n_items"] == 6 and row["statistic"] == "cohen"
        assert row["agreement"] == pytest.approx(np.mean(np.array(a) == np.array(b)))
        # Cohen's kappa from its definition: (p_o - p_e) / (1 - p_e), p_e from the two raters' marginals.
        p_o = np.mean(np.array(a) == np.array(b))
        p_e = np.mean(a) * np.mean(b) + (1 - np.mean(a)) * (1 - np.mean(b))
        assert row["kappa"] == pytest.approx((p_o - p_e) / (1 - p_e))
        assert row["kappa"] == pytest.approx(cohen_kappa_score(a, b))
    # A criterion every judge gives the same verdict everywhere: full agreement, kappa undefined.
    assert panel.loc["on-topic", "agreement"] == 1.0 and pd.isna(panel.loc["on-topic", "kappa"])
    # Pooled: every (answer, criterion) a unit.
    criteria = sorted({k[3] for k in verdicts})
    a = [v for c in criteria for v in _column(verdicts, "j1", c)]
    b = [v for c in criteria for v in _column(verdicts, "j2", c)]
    assert panel.loc[ALL, "n_units"] == 72
    assert panel.loc[ALL, "kappa"] == pytest.approx(cohen_kappa_score(a, b))


def test_three_judges_use_fleiss() -> None:
    verdicts = _panel_verdicts(("j1", "j2", "j3"))
    row = rubric_quality(_frame(verdicts), n_bootstrap=0).panel.set_index("key").loc["concise"]
    ratings = np.column_stack([_column(verdicts, j, "concise") for j in ("j1", "j2", "j3")])
    assert row["statistic"] == "fleiss"
    assert row["kappa"] == pytest.approx(fleiss_kappa(aggregate_raters(ratings)[0]))


def test_intervals_cover_their_estimates_and_missing_verdicts_are_counted() -> None:
    verdicts = _panel_verdicts()
    verdicts[("j2", "m1", "q0", "concise")] = None  # did not parse: that answer leaves the criterion's units
    del verdicts[("j2", "m2", "q1", "concise")]  # never judged by j2
    panel = rubric_quality(_frame(verdicts), n_bootstrap=200).panel.set_index("key")
    row = panel.loc["concise"]
    assert row["n_units"] == 16 and row["n_incomplete"] == 2
    assert row["agreement_low"] <= row["agreement"] <= row["agreement_high"]
    assert row["kappa_low"] <= row["kappa"] <= row["kappa_high"]


def test_constant_criteria_are_named() -> None:
    verdicts = _panel_verdicts()
    for model in MODELS:  # "only-m1" varies in no way but is judged on one model only: not listed
        for judge in ("j1", "j2"):
            verdicts[(judge, model, "q0", "only-m1")] = True if model == "m1" else None
    constant = rubric_quality(_frame(verdicts), n_bootstrap=0).constant.set_index("key")
    assert sorted(constant.index) == ["on-topic", "rude"]
    assert bool(constant.loc["on-topic", "always"]) and not bool(constant.loc["rude", "always"])
    assert constant.loc["on-topic", "n_answers"] == 18 and constant.loc["on-topic", "n_models"] == 3
    assert constant.loc["on-topic", "n_judges"] == 2


def test_disagreements_rank_the_least_agreed_first() -> None:
    quality = rubric_quality(_frame(_panel_verdicts()), n_bootstrap=0)
    ranked = quality.disagreements
    assert ALL not in set(ranked["key"])
    assert ranked["agreement"].is_monotonic_increasing
    assert ranked["key"].iloc[0] == "cites" and (ranked["agreement"] < 1).all()
    assert not {"on-topic", "rude"} & set(ranked["key"])  # never disagreed on: not listed


def test_one_judge_has_no_panel_rows() -> None:
    verdicts = {k: v for k, v in _panel_verdicts().items() if k[0] == "j1"}
    quality = rubric_quality(_frame(verdicts), n_bootstrap=0)
    assert quality.panel.empty and quality.disagreements.empty and len(quality.constant) == 2


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_agreement_with_human_labels(tmp_path: Path) -> None:
    verdicts = _panel_verdicts()
    rng = np.random.default_rng(1)
    lines = ["item_id,model,criterion,met"]
    human: dict[tuple[str, str], list[int]] = {}
    for item in ITEMS:
        for model in MODELS:
            met = bool(rng.integers(0, 2)) if rng.random() < 0.3 else bool(verdicts[("j1", model, item, "concise")])
            lines.append(f"{item},{model},concise,{'yes' if met else 'no'}")
            human.setdefault(("concise", "j1"), []).append(int(met))
    lines.append("q9,m1,concise,true")  # an item no judge judged
    labels = read_criterion_labels(_write(tmp_path / "labels.csv", "\n".join(lines) + "\n"))
    table = rubric_quality(_frame(verdicts), labels, n_bootstrap=100).labels
    assert table is not None
    for judge in ("j1", "j2"):
        row = table[(table["judge"] == judge) & (table["key"] == "concise")].iloc[0]
        theirs = _column(verdicts, judge, "concise")
        assert row["n_units"] == 18
        assert row["agreement"] == pytest.approx(np.mean(np.array(theirs) == np.array(human[("concise", "j1")])))
        assert row["kappa"] == pytest.approx(cohen_kappa_score(human[("concise", "j1")], theirs))
        pooled = table[(table["judge"] == judge) & (table["key"] == ALL)].iloc[0]
        assert pooled["n_unmatched"] == 1


@pytest.mark.parametrize(("text", "error"), [
    ("item_id,model,met\nq1,m1,yes\n", "missing: criterion"),
    ("item_id,model,criterion,met\nq1,m1,c1,yes\nq1,m2,c1,maybe\n", "labels.csv:3: met 'maybe' is not a yes/no"),
    ("item_id,model,criterion,met\nq1,,c1,yes\n", "labels.csv:2: the label has no model"),
    ("item_id,model,criterion,met,turn\nq1,m1,c1,yes,0\n", "labels.csv:2: turn '0' is not a whole number"),
])
def test_bad_label_files_say_where(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(DataError, match=error):
        read_criterion_labels(_write(tmp_path / "labels.csv", text))


def test_jsonl_labels_and_no_match(tmp_path: Path) -> None:
    path = _write(tmp_path / "labels.jsonl", '{"item": "q1", "model": "m1", "criterion": "c1", "met": true}\n'
                                             '{"item": "q1", "model": "m2", "criterion": "c1", "met": "x"}\n')
    with pytest.raises(DataError, match=r"labels.jsonl:2: met 'x'"):
        read_criterion_labels(path)
    good = read_criterion_labels(_write(tmp_path / "ok.jsonl",
                                        '{"item": "zz", "model": "m1", "criterion": "c1", "met": 1}\n'))
    with pytest.raises(DataError, match="no criterion label matches"):
        rubric_quality(_frame(_panel_verdicts()), good, n_bootstrap=0)


def _panel_reply(body: dict[str, Any]) -> str:
    """Answers: model a's "alpha", b's "beta". Judge j1: on-topic always met, a meets the odd-numbered criteria and
    b the even ones; j2 the same but the opposite on c3 (the criterion they disagree on)."""
    if "response_format" not in body:
        return f"{'alpha' if body['model'] == 'a' else 'beta'} answer"
    prompt = body["messages"][-1]["content"]
    properties = list(body["response_format"]["json_schema"]["schema"]["properties"])

    def met(criterion: str) -> bool:
        if criterion == "on-topic":
            return True
        odd = int(criterion[1:]) % 2 == 1
        verdict = odd if "alpha answer" in prompt else not odd
        return not verdict if body["model"] == "j2" and criterion == "c3" else verdict
    return json.dumps({c: met(c) for c in properties})


@pytest.fixture(scope="module")
def panel_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rubric-panel") / "results"
    task = load_task("sample-rubric")
    with fake_model(Script([("fn", _panel_reply)])) as url:
        judges = tuple(Judge(f"{name}#json", Endpoint(provider="openai", name=name, model=name, base_url=url,
                                                      concurrency=2), constrained=True) for name in ("j1", "j2"))
        for name in ("a", "b"):
            model = Endpoint(provider="openai", name=name, model=name, base_url=url, concurrency=2)
            evaluate(task, RunConfig(model=model, judges=judges, out=out, cache_path=out / "cache.sqlite",
                                     progress=False))
    return out


def _cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_report_on_a_panel_run_is_the_same_on_every_surface(panel_runs: Path, tmp_path: Path) -> None:
    criteria = judgebench.load(panel_runs).criteria
    rows = criteria[criteria["judge"].str.startswith("j1")]
    labels = tmp_path / "labels.csv"  # a person who agrees with j1 on every verdict
    labels.write_text("item_id,model,criterion,met\n" + "".join(
        f"{r.item_id},{r.model},{r.criterion},{bool(r.met)}\n" for r in rows.itertuples()))
    shown = json.loads(_cli("rubric-report", str(panel_runs), "--labels", str(labels), "--json"))
    library = judgebench.load(panel_runs).rubric_quality(labels).to_json()
    assert shown == json.loads(json.dumps(library))
    panel = {row["key"]: row for row in shown["panel"]}
    assert panel["on-topic"]["agreement"] == 1.0 and panel["on-topic"]["kappa"] is None
    assert shown["disagreements"][0]["key"].endswith("/c3") and shown["disagreements"][0]["agreement"] == 0.0
    assert {row["key"] for row in shown["constant"]} >= {"on-topic"}
    by_judge = {(row["judge"], row["key"]): row for row in shown["labels"]}
    assert by_judge[("j1#json", ALL)]["agreement"] == 1.0 and by_judge[("j1#json", ALL)]["n_unmatched"] == 0
    n_c3 = sum(1 for r in rows.itertuples() if r.criterion == "c3")
    pooled = by_judge[("j2#json", ALL)]
    assert pooled["agreement"] == pytest.approx(1 - n_c3 / pooled["n_units"])
    text = _cli("rubric-report", str(panel_runs))
    assert "criteria the judges disagree on most" in text and "never vary" in text
