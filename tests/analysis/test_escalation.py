"""Escalation on real recorded judgments, checked against a direct computation from the raw files written apart from
the library (json + gzip + a plain loop), and against JudgeBench's published accuracy for claude-3-haiku.

Two real examples: AlpacaEval's weighted GPT-4-turbo annotator (a probability per item, $4.32 per 1,000) escalating
to its chain-of-thought annotator ($6.31), whose verdicts are the labels; JudgeBench's claude-3-haiku (both orders)
escalating to the objective labels (people)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from judgebench.analysis.escalation import escalated_items, escalation, read_inputs
from judgebench.cli import main
from judgebench.errors import ConfigError
from judgebench.formats.table import judgments_frame
from tests.judgments import flat

CHEAP, STRONG = "weighted_alpaca_eval_gpt4_turbo", "alpaca_eval_cot_gpt4_turbo_fn"
HAIKU = "claude-pairs.arena_hard.claude-3-haiku-20240307.jsonl.gz"


def _annotations(path: Path) -> list[dict]:
    return json.loads(gzip.decompress(path.read_bytes()))


def _evaluator_prices(shared: Path) -> dict[str, float]:
    table = pd.read_csv(shared / "alpaca_eval/leaderboards/evaluators/evaluators_leaderboard.csv", index_col=0)
    return {name: float(table.loc[name, "Price [$/1000 examples]"]) for name in (CHEAP, STRONG)}


def _smallest_escalation(conf: list[float], cheap_ok: list[bool], target: float) -> tuple[float | None, float]:
    """Escalate (to the labels themselves) the least confident items, one confidence level at a time."""
    for threshold in [None, *sorted(set(conf))]:
        correct = [True if threshold is not None and c <= threshold else ok
                   for c, ok in zip(conf, cheap_ok, strict=True)]
        if np.mean(correct) >= target:
            return threshold, float(np.mean(correct))
    raise AssertionError("escalating everything always reaches the target")


@pytest.fixture(scope="module")
def alpaca_files(shared_data: Path) -> tuple[list[Path], list[Path]]:
    results = shared_data / "alpaca_eval/results"
    return (sorted(results.glob(f"*/{CHEAP}/annotations.json.gz")),
            sorted(results.glob(f"*/{STRONG}/annotations.json.gz")))


def test_alpaca_eval_escalation_equals_a_direct_computation(shared_data: Path, alpaca_files: tuple) -> None:
    cheap_files, strong_files = alpaca_files
    prices = _evaluator_prices(shared_data)
    inputs = read_inputs([*cheap_files, *strong_files], [CHEAP], [STRONG])
    report = escalation(inputs.cheap, inputs.strong, inputs.labels, 0.95, (prices[CHEAP], prices[STRONG]),
                        n_bootstrap=200)
    # Directly: the items both annotators judged (a model against the baseline, not the baseline against itself).
    strong = {(r["instruction"], r["generator_2"]): r["preference"] for f in strong_files for r in _annotations(f)
              if r["generator_1"] != r["generator_2"] and r["preference"] is not None}
    cheap_all = [(r["instruction"], r["generator_2"], r["preference"]) for f in cheap_files for r in _annotations(f)
                 if r["generator_1"] != r["generator_2"]]
    both = [(p, strong[(i, g)]) for i, g, p in cheap_all if (i, g) in strong]
    conf = [abs(p - 1.5) * 2 for p, _ in both]
    cheap_ok = [np.sign(p - 1.5) == np.sign(s - 1.5) for p, s in both]
    threshold, agreement = _smallest_escalation(conf, cheap_ok, 0.95)
    assert report.choice.n == len(both) == 3 * 805  # alpaca-7b, claude-2.1, gpt-3.5-turbo-0301
    assert report.choice.threshold == pytest.approx(threshold)
    assert report.choice.agreement == pytest.approx(agreement)
    assert report.cheap_agreement == pytest.approx(np.mean(cheap_ok))
    assert report.strong_agreement == 1.0
    # Applied to every item the cheap annotator judged (42 models), and priced as AlpacaEval publishes.
    escalated = sum(abs(p - 1.5) * 2 <= threshold for _, _, p in cheap_all)
    assert (report.n_items, report.n_escalated) == (len(cheap_all), escalated)
    assert report.costs is not None
    share = escalated / len(cheap_all)
    assert report.costs.escalated == pytest.approx(prices[CHEAP] + share * prices[STRONG])
    assert report.costs.saving == pytest.approx(1 - (prices[CHEAP] + share * prices[STRONG]) / prices[STRONG])
    assert report.interval[0] <= report.choice.agreement <= report.interval[1]


def _haiku_direct(path: Path) -> tuple[list[float], list[bool]]:
    """Per pair, the confidence of claude-3-haiku's two orders (|votes| / 2, JudgeBench flips the second order) and
    whether they favour the labelled response."""
    flip = {"A>B": "B>A", "B>A": "A>B"}
    conf, correct = [], []
    for line in gzip.decompress(path.read_bytes()).splitlines():
        row = json.loads(line)
        first, second = row["judgments"][0]["decision"], row["judgments"][1]["decision"]
        votes = sum((d == "A>B") - (d == "B>A") for d in (first, flip.get(second, second)))
        conf.append(abs(votes) / 2)
        correct.append(votes * (1 if row["label"] == "A>B" else -1) > 0)
    return conf, correct


@pytest.mark.parametrize("target", [0.6, 0.8])
def test_judgebench_escalation_to_the_labels_equals_a_direct_computation(shared_data: Path, target: float) -> None:
    path = shared_data / "judgebench/outputs" / HAIKU
    inputs = read_inputs([path], labels=path)
    report = escalation(inputs.cheap, inputs.strong, inputs.labels, target, (0.5, 300.0), n_bootstrap=200)
    conf, correct = _haiku_direct(path)
    threshold, agreement = _smallest_escalation(conf, correct, target)
    # The cheap judge alone is JudgeBench's own metric: published_numbers.md gives claude-3-haiku 32.22.
    assert round(100 * report.cheap_agreement, 2) == 32.22
    assert report.strong == "labels" and report.strong_agreement == 1.0
    assert report.choice.threshold == pytest.approx(threshold)
    assert report.choice.agreement == pytest.approx(agreement)
    assert report.n_escalated == sum(c <= threshold for c in conf)
    assert report.costs is not None
    assert report.costs.saving == pytest.approx(1 - (0.5 + report.n_escalated / 270 * 300.0) / 300.0)


def test_the_command_prints_json_and_writes_the_escalated_items(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "judgebench/outputs" / HAIKU
    items = tmp_path / "escalated.jsonl"
    result = CliRunner().invoke(main, ["escalate", str(path), "--labels", str(path), "--target", "0.8", "--json",
                                       "--cost-per-1000", "arena_hard:claude-3-haiku-20240307=0.5",
                                       "--cost-per-1000", "labels=300", "--write-items", str(items)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    written = [json.loads(line) for line in items.read_text().splitlines()]
    assert len(written) == report["n_escalated"] > 0
    assert {w["item_id"] for w in written} <= {json.loads(line)["pair_id"]
                                                for line in gzip.decompress(path.read_bytes()).splitlines()}
    assert all(w["confidence"] <= report["choice"]["threshold"] for w in written)
    assert report["coverage_all"] == pytest.approx(1 - len(written) / 270)
    text = CliRunner().invoke(main, ["escalate", str(path), "--labels", str(path), "--target", "0.8"])
    assert "threshold:" in text.output and "no prices" in text.output


@pytest.mark.parametrize(("args", "message"), [
    (["--cost-per-1000", "haiku"], "expected NAME=USD"),
    (["--strong-as-labels"], "or --strong JUDGE whose verdicts are the labels"),
    (["--cheap", "arena_hard:claude-3-haiku"], "did you mean 'arena_hard:claude-3-haiku-20240307'"),
])
def test_bad_options_are_one_line(shared_data: Path, args: list[str], message: str) -> None:
    path = shared_data / "judgebench/outputs" / HAIKU
    extra = [] if "--strong-as-labels" in args else ["--labels", str(path)]
    result = CliRunner().invoke(main, ["escalate", str(path), *extra, *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def _pairwise(judge: str, item: str, preference: float) -> object:
    return flat("b", item, "c", "m1", judge, 1, "pairwise", opponent="m2", preference=preference)


def test_a_split_panel_is_escalated_before_an_agreeing_one() -> None:
    cheap = judgments_frame([_pairwise("j1", "agree", 2.0), _pairwise("j2", "agree", 2.0),
                             _pairwise("j1", "split", 2.0), _pairwise("j2", "split", 1.0)])
    items = escalated_items(cheap, 0.0)
    assert items["item_id"].tolist() == ["split"]
    assert items["confidence"].tolist() == [0.0]
    labels = pd.DataFrame({"item_id": ["agree", "split"], "model_a": ["m1", "m1"], "model_b": ["m2", "m2"],
                           "turn": [1, 1], "label": [1, 1]})
    report = escalation(cheap, None, labels, 1.0, n_bootstrap=0)
    assert (report.cheap, report.choice.threshold, report.choice.escalated) == ("j1+j2", 0.0, 1)


def test_a_frame_of_several_judges_needs_the_cheap_one_named(shared_data: Path, alpaca_files: tuple) -> None:
    cheap_files, strong_files = alpaca_files
    with pytest.raises(ConfigError, match="name the cheap one"):
        read_inputs([cheap_files[0], strong_files[0]], labels=shared_data / "judgebench/outputs" / HAIKU)


def test_judges_of_a_run_are_priced_by_their_tokens(tmp_path: Path) -> None:
    """The cost per 1,000 judgments from each judgment's recorded tokens equals the run's own cost report
    (summary.json: tokens times prices per endpoint) divided by its judgments."""
    from judgebench.clients.pricing import load_prices
    from judgebench.run.evaluate import RunConfig, evaluate
    from judgebench.run.runner import RetryPolicy
    from judgebench.tasks import load_task
    from judgebench.types import Endpoint, Judge

    from ..fakemodel import fake_model
    from ..fakeserver import Script

    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  judge-mini: {input: 0.1, output: 0.4}\n  judge-70b: {input: 0.9, output: 2.7}\n")
    with fake_model(Script([("ok", "A is better. [[A]]")])) as url:
        judges = tuple(Judge(name, Endpoint(provider="openai", name=name, model=model, base_url=url))
                       for name, model in (("cheap", "judge-mini"), ("strong", "judge-70b")))
        config = RunConfig(model=Endpoint(provider="openai", name="cand", model="cand", base_url=url), judges=judges,
                           out=tmp_path / "r", cache_path=tmp_path / "c.sqlite", limit=3,
                           retry=RetryPolicy(max_attempts=1), progress=False, n_bootstrap=0,
                           prices=load_prices(prices))
        result = evaluate(load_task("sample-pairwise"), config)
    usage = json.loads((result.run_dir / "summary.json").read_text())["usage"]
    cli = CliRunner().invoke(main, ["escalate", str(result.run_dir), "--cheap", "cheap", "--strong", "strong",
                                    "--strong-as-labels", "--prices", str(prices), "--json", "--bootstrap", "0"])
    assert cli.exit_code == 0, cli.output
    costs = json.loads(cli.stdout)["costs"]
    assert costs["cheap"] == pytest.approx(1000 * usage["cheap"]["cost_usd"] / 3) and costs["cheap"] > 0
    assert costs["strong"] == pytest.approx(1000 * usage["strong"]["cost_usd"] / 3)


def test_labels_in_a_csv_give_what_the_pair_file_gives(shared_data: Path, tmp_path: Path) -> None:
    """The same objective labels written as a CSV of pairwise labels (`judgebench agree`'s layout) give the same
    escalation as the JudgeBench file they came from."""
    path = shared_data / "judgebench/outputs" / HAIKU
    rows = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    csv = tmp_path / "labels.csv"
    pd.DataFrame({"item_id": [r["pair_id"] for r in rows],
                  "model_a": [f"{r['response_model']}/A" for r in rows],
                  "model_b": [f"{r['response_model']}/B" for r in rows],
                  "winner": ["model_a" if r["label"] == "A>B" else "model_b" for r in rows]}).to_csv(csv, index=False)
    reports = [escalation(i.cheap, i.strong, i.labels, 0.8, n_bootstrap=50)
               for i in (read_inputs([path], labels=path), read_inputs([path], labels=csv))]
    assert reports[0] == reports[1]


def test_a_panel_of_two_reward_models_escalates_where_they_disagree(shared_data: Path) -> None:
    """JudgeBench's two reward models on the GPT-4o pairs as one cheap panel: the pairs they split on go to people."""
    files = sorted((shared_data / "judgebench/outputs").glob("gpt-pairs.reward_model.*.jsonl.gz"))
    inputs = read_inputs(files, ["reward_model:Ray2333/GRM-Gemma-2B-rewardmodel-ft",
                                 "reward_model:internlm/internlm2-7b-reward"], labels=files[0])
    report = escalation(inputs.cheap, inputs.strong, inputs.labels, 0.7, n_bootstrap=50)
    decisions = [{json.loads(line)["pair_id"]: (json.loads(line)["judgments"][0]["decision"], json.loads(line)["label"])
                  for line in gzip.decompress(f.read_bytes()).splitlines()} for f in files]
    first, second = decisions
    conf = [1.0 if first[p][0] == second[p][0] else 0.0 for p in first]
    correct = [first[p][0] == second[p][0] == first[p][1] for p in first]
    threshold, agreement = _smallest_escalation(conf, correct, 0.7)
    assert report.cheap == "reward_model:Ray2333/GRM-Gemma-2B-rewardmodel-ft+reward_model:internlm/internlm2-7b-reward"
    assert (report.choice.threshold, report.n_escalated) == (threshold, conf.count(0.0))
    assert report.choice.agreement == pytest.approx(agreement)
    assert report.cheap_agreement == pytest.approx(np.mean(correct))


def test_escalated_items_take_the_strong_judges_verdict() -> None:
    # i1: the cheap judge is sure and right; i2: unsure (orders split), the strong judge right; i3: judged as m2
    # against m1 (turned to the pair's order: m2 better is model_b better), sure and right; i4: one order decided
    # and one a tie (half sure), the strong judge wrong.
    cheap = judgments_frame([
        flat("b", "i1", "c", "m1", "cheap", 1, "pairwise", opponent="m2", verdict_ab="win", verdict_ba="win"),
        flat("b", "i2", "c", "m1", "cheap", 1, "pairwise", opponent="m2", verdict_ab="win", verdict_ba="loss"),
        flat("b", "i3", "c", "m2", "cheap", 1, "pairwise", opponent="m1", verdict_ab="win", verdict_ba="win"),
        flat("b", "i4", "c", "m1", "cheap", 1, "pairwise", opponent="m2", verdict_ab="tie", verdict_ba="loss")])
    strong = judgments_frame([_pairwise("strong", item, pref) for item, pref in
                              (("i1", 2.0), ("i2", 1.0), ("i3", 2.0), ("i4", 2.0))])
    labels = pd.DataFrame({"item_id": ["i1", "i2", "i3", "i4"], "model_a": "m1", "model_b": "m2", "turn": 1,
                           "label": [1, -1, -1, -1]})
    at_least = escalation(cheap, strong, labels, 1.0, (1.0, 10.0), n_bootstrap=0)
    # The cheap judge alone is wrong on i2 only; escalating i2 (confidence 0) gives 4/4, and i4 (0.5) stays.
    assert (at_least.choice.threshold, at_least.choice.escalated, at_least.choice.agreement) == (0.0, 1, 1.0)
    assert (at_least.cheap_agreement, at_least.strong_agreement) == (0.75, 0.5)
    assert at_least.costs is not None and at_least.costs.escalated == pytest.approx(1.0 + 1 / 4 * 10.0)
    everything = escalated_items(cheap, 0.5)
    assert everything["item_id"].tolist() == ["i2", "i4"]
    assert everything["confidence"].tolist() == [0.0, 0.5]


def test_single_grades_are_refused_in_one_line() -> None:
    from judgebench.errors import DataError

    grades = judgments_frame([flat("b", "i1", "c", "m1", "cheap", 1, "single", score=7.0)])
    labels = pd.DataFrame({"item_id": ["i1"], "model_a": "m1", "model_b": "m2", "turn": 1, "label": [1]})
    with pytest.raises(DataError, match="escalation compares pairwise verdicts"):
        escalation(grades, None, labels, 0.9)
