"""`judgebench export-preferences` and analysis.preferences: real judgebench runs (the in-process fake model), real
AlpacaEval annotations and FastChat judgments from ../shared/data, each pair checked against an independent reading
of the input (the script's rules, the files' own fields); JSONL and Parquet read back equal; TRL's layout."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from judgebench.analysis.preferences import COLUMNS
from judgebench.cli import main
from judgebench.formats.preference_file import read_preferences
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script
from ..publish.runs import synthetic_run
from ..run.test_battles import config as battles_config
from ..run.test_battles import shown, three_files

AE2 = "alpaca_eval/results/alpaca-7b/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
FASTCHAT = "mt_bench_extras/lmsys_skycamp_branch"
# The scripted judge of sample-pairwise, by item: which answer it prefers whichever order shows it.
RULES = {"p1": "candidate", "p2": "candidate", "p3": "first shown", "p4": "reference", "p5": "tie"}


def _pairwise_reply(body: dict[str, Any]) -> str:
    messages = body["messages"]
    if messages[0]["role"] != "system" or "impartial judge" not in messages[0]["content"]:
        return f"CANDIDATE answers: {messages[-1]['content']}"  # the candidate model's answer
    prompt = messages[-1]["content"]
    item = next(i for i, q in QUESTIONS.items() if q in prompt)
    candidate_first = prompt.index("CANDIDATE answers") < prompt.index("Assistant B's Answer")
    rule = RULES[item]
    if rule == "tie":
        return "Equal. [[C]]"
    if rule == "first shown":
        return "[[A]]"
    wants_first = candidate_first == (rule == "candidate")
    return "[[A]]" if wants_first else "[[B]]"


QUESTIONS = {item.id: item.turns[0] for item in load_task("sample-pairwise").items}


@pytest.fixture(scope="module")
def pairwise_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real sample-pairwise results directory: answers and verdicts from the scripted fake model."""
    tmp = tmp_path_factory.mktemp("pairwise")
    endpoint = Endpoint(provider="openai", name="cand", model="cand", base_url="http://unused/v1", concurrency=2)
    with fake_model(Script([("fn", _pairwise_reply)])) as url:
        served = Endpoint(**{**endpoint.__dict__, "base_url": url})
        run = RunConfig(model=served, judges=(Judge("fake-judge", served),), out=tmp / "results",
                        cache_path=tmp / "cache.sqlite", progress=False, n_bootstrap=0)
        evaluate(load_task("sample-pairwise"), run)
    return tmp / "results"


def export(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["export-preferences", *map(str, args)])
    return result.exit_code, result.output


def _trl_conversational(rows: list[dict[str, Any]]) -> None:
    """TRL's conversational preference layout with an explicit prompt: the prompt alternates user/assistant
    messages and ends with the user's; chosen and rejected are one assistant message each."""
    for row in rows:
        assert list(row) == list(COLUMNS)
        roles = [m["role"] for m in row["prompt"]]
        assert roles == ["user", "assistant"] * (len(roles) // 2) + ["user"]
        assert all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in row["prompt"])
        for side in ("chosen", "rejected"):
            (message,) = row[side]
            assert message["role"] == "assistant" and message["content"]


def test_a_pairwise_run_exports_its_decisive_verdicts_with_the_answers(pairwise_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "prefs.jsonl"
    code, output = export(pairwise_run, "--out", out)
    assert code == 0, output
    rows = read_preferences(out)
    _trl_conversational(rows)
    task = load_task("sample-pairwise")
    answers = {json.loads(line)["item_id"]: json.loads(line)["turns"][0]
               for run in pairwise_run.iterdir() for line in (run / "answers.jsonl").read_text().splitlines()}
    # The script's rules: candidate wins p1, p2; the reference p4; p3's orders disagree; p5 is a tie.
    by_item = {r["item_id"]: r for r in rows}
    assert sorted(by_item) == sorted(i for i, rule in RULES.items() if rule in ("candidate", "reference"))
    for item, row in by_item.items():
        candidate, reference = answers[item], task.reference_for(item)[0]
        won = RULES[item] == "candidate"
        assert row["prompt"] == [{"role": "user", "content": QUESTIONS[item]}]
        assert row["chosen"][0]["content"] == (candidate if won else reference)
        assert row["rejected"][0]["content"] == (reference if won else candidate)
        assert (row["chosen_model"], row["rejected_model"]) == (("cand", task.reference_model) if won
                                                                 else (task.reference_model, "cand"))
        assert row["margin"] == 1.0 and row["orders"] == 2 and row["source"] == "fake-judge"
        assert row["benchmark"] == task.benchmark and row["category"] == task.items[int(item[1]) - 1].category
    assert "wrote 3 preference pairs" in output and "of 5 judgments, left out: 1 orders disagreeing, 1 ties" in output


def test_jsonl_and_parquet_read_back_equal_and_the_string_format(pairwise_run: Path, tmp_path: Path) -> None:
    for suffix in ("jsonl", "parquet"):
        for flag in ((), ("--text",)):
            code, output = export(pairwise_run, "--out", tmp_path / f"p{len(flag)}.{suffix}", *flag)
            assert code == 0, output
    assert read_preferences(tmp_path / "p0.jsonl") == read_preferences(tmp_path / "p0.parquet")
    import pyarrow.parquet as pq

    # The types datasets.load_dataset gives TRL's conversational columns: lists of {role, content} structs.
    schemas = {n: pq.read_schema(tmp_path / f"p{n}.parquet") for n in (0, 1)}
    assert schemas[0].names == list(COLUMNS) == schemas[1].names
    for column in ("prompt", "chosen", "rejected"):
        assert str(schemas[0].field(column).type) == "list<element: struct<role: string, content: string>>"
        assert str(schemas[1].field(column).type) == "string"
    text = read_preferences(tmp_path / "p1.jsonl")
    assert text == read_preferences(tmp_path / "p1.parquet")
    conversational = read_preferences(tmp_path / "p0.jsonl")
    for plain, chat in zip(text, conversational, strict=True):
        assert isinstance(plain["prompt"], str) and plain["prompt"] == chat["prompt"][0]["content"]
        assert plain["chosen"] == chat["chosen"][0]["content"] and plain["rejected"] == chat["rejected"][0]["content"]


def test_an_existing_file_is_never_replaced_unasked(pairwise_run: Path, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "prefs.jsonl"
    out.write_text("keep me\n")
    code, output = export(pairwise_run, "--out", out)
    assert code != 0 and output.strip() == f"Error: {out} exists: pass --force to replace it"
    assert out.read_text() == "keep me\n"
    code, output = export(pairwise_run, "--out", out, "--force")
    assert code == 0, output
    assert len(read_preferences(out)) == 3
    first = out.read_bytes()
    code, output = export(pairwise_run, "--out", out, "--force")
    assert code == 0 and out.read_bytes() == first  # exporting again writes the same file
    assert sorted(p.name for p in out.parent.iterdir()) == ["prefs.jsonl"]  # no temporary file left behind
    code, output = export(pairwise_run, "--out", tmp_path / "prefs.csv")
    assert code != 0 and "must end in .jsonl or .parquet" in output


def test_parquet_without_pyarrow_says_what_to_install(pairwise_run: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    code, output = export(pairwise_run, "--out", tmp_path / "p.parquet")
    assert code != 0 and output.strip() == "Error: Parquet needs pyarrow: pip install 'judgebench[parquet]'"
    assert not (tmp_path / "p.parquet").exists()


def test_human_confirmed_keeps_only_pairs_a_label_agrees_with(pairwise_run: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    # p1: two labels agree with the judge, one does not (most agree); p4: the label says the candidate won (the judge
    # chose the reference); p2: no label.
    labels.write_text("item_id,model_a,model_b,winner\np1,cand,judgebench-reference,model_a\n"
                      "p1,judgebench-reference,cand,model_b\np1,cand,judgebench-reference,model_b\n"
                      "p4,cand,judgebench-reference,cand\n")
    out = tmp_path / "confirmed.jsonl"
    code, output = export(pairwise_run, "--out", out, "--human-confirmed", labels)
    assert code == 0, output
    assert [r["item_id"] for r in read_preferences(out)] == ["p1"]
    assert "2 without a human label that agrees" in output
    scores = tmp_path / "scores.csv"
    scores.write_text("item_id,model,score\np1,cand,7\n")
    code, output = export(pairwise_run, "--out", tmp_path / "x.jsonl", "--human-confirmed", scores)
    assert code != 0 and len(output.strip().splitlines()) == 1
    assert f"{scores}: --human-confirmed needs pairwise" in output


def test_battles_of_two_turns_keep_the_first_turn_in_the_prompt(tmp_path: Path) -> None:
    task = load_task("sample-battles")
    files = three_files(tmp_path, task)

    def judge(body: dict[str, Any]) -> str:
        # alpha wins every battle: much better than beta, better than gamma; beta and gamma split by order.
        first, second = shown(body)
        if "alpha" in (first, second):
            strength = ">>" if "beta" in (first, second) else ">"
            return f"[[A{strength}B]]" if first == "alpha" else f"[[B{strength}A]]"
        return "[[B>A]]"

    with fake_model(Script([("fn", judge)])) as url:
        result = evaluate(task, battles_config(url, tmp_path, files))
    out = tmp_path / "battles.jsonl"
    code, output = export(result.run_dir, "--out", out)
    assert code == 0, output
    rows = read_preferences(out)
    _trl_conversational(rows)
    questions = {item.id: item.turns for item in task.items}
    # alpha against beta and gamma on each of the five items; beta against gamma: the orders disagree.
    assert len(rows) == 2 * len(task.items) and "of 15 judgments, left out: 5 orders disagreeing" in output
    for row in rows:
        item, loser = row["item_id"], row["rejected_model"]
        assert row["chosen_model"] == "alpha" and loser in ("beta", "gamma") and row["turn"] == 2
        assert row["prompt"] == [{"role": "user", "content": questions[item][0]},
                                 {"role": "assistant", "content": f"alpha answers turn 1 of {item}"},
                                 {"role": "user", "content": questions[item][1]}]
        assert row["chosen"][0]["content"] == f"alpha answers turn 2 of {item}"
        assert row["rejected"][0]["content"] == f"{loser} answers turn 2 of {item}"
        assert row["margin"] == (1.0 if loser == "beta" else 0.5)  # both orders "much better", or "better"
    # TRL's implicit prompt: no prompt column, each side the whole conversation (as Parquet too).
    code, output = export(result.run_dir, "--out", tmp_path / "implicit.parquet", "--implicit-prompt")
    assert code == 0, output
    implicit = read_preferences(tmp_path / "implicit.parquet")
    assert [list(r) for r in implicit] == [list(COLUMNS[1:])] * len(rows)
    for explicit, whole in zip(rows, implicit, strict=True):
        assert whole["chosen"] == explicit["prompt"] + explicit["chosen"]
        assert whole["rejected"] == explicit["prompt"] + explicit["rejected"]
    code, output = export(result.run_dir, "--out", tmp_path / "x.jsonl", "--implicit-prompt", "--text")
    assert code != 0 and "--implicit-prompt needs the conversational format" in output
    # Only the much-better verdicts are strong enough; every one kept rests on both orders agreeing.
    code, output = export(result.run_dir, "--out", tmp_path / "strong.jsonl", "--min-margin", "0.75",
                          "--both-orders-agree")
    assert code == 0 and "5 below margin 0.75" in output
    assert {r["rejected_model"] for r in read_preferences(tmp_path / "strong.jsonl")} == {"beta"}
    code, output = export(result.run_dir, "--out", tmp_path / "t.jsonl", "--text")
    assert code != 0 and "10 later turns (the string format has none" in output


def test_alpaca_eval_annotations_against_the_file(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / AE2
    annotations = json.loads(gzip.decompress(path.read_bytes()))
    out = tmp_path / "ae.jsonl"
    code, output = export(path, "--out", out)
    assert code == 0, output
    rows = read_preferences(out)
    _trl_conversational(rows)
    # Independently: output_2 (the model's) wins where preference > 1.5, the baseline's where below; 0 and 1.5 tie.
    decisive = [a for a in annotations if a["preference"] not in (None, 0, 1.5)]
    assert len(rows) == len(decisive)
    n_model_wins = sum(a["preference"] > 1.5 for a in decisive)
    assert sum(r["chosen_model"] == "alpaca-7b" for r in rows) == n_model_wins
    assert sum(r["chosen_model"] == "gpt4_1106_preview" for r in rows) == len(decisive) - n_model_wins
    expected = {(a["instruction"], a["output_2"] if a["preference"] > 1.5 else a["output_1"]):
                abs(2 * (a["preference"] - 1) - 1) for a in decisive}
    got = {(r["prompt"][0]["content"], r["chosen"][0]["content"]): r["margin"] for r in rows}
    assert got.keys() == expected.keys()
    assert all(got[k] == pytest.approx(v) for k, v in expected.items())
    n_ties = len(annotations) - len(decisive)
    assert f"of {len(annotations)} judgments, left out: {n_ties} ties" in output
    # The margin filter keeps the verdicts whose probability is at least 0.75 (or at most 0.25).
    strong = sum(abs(2 * (a["preference"] - 1) - 1) >= 0.5 for a in decisive)
    code, output = export(path, "--out", tmp_path / "strong.jsonl", "--min-margin", "0.5")
    assert code == 0 and len(read_preferences(tmp_path / "strong.jsonl")) == strong
    # One order only: nothing survives --both-orders-agree, and nothing is written.
    code, output = export(path, "--out", tmp_path / "none.jsonl", "--both-orders-agree")
    assert code != 0 and f"{len(decisive)} asked in one order only" in output and "nothing written" in output
    assert not (tmp_path / "none.jsonl").exists()


def test_fastchat_pair_judgments_with_their_answers(shared_data: Path, tmp_path: Path) -> None:
    folder = shared_data / FASTCHAT
    out = tmp_path / "fc.jsonl"
    code, output = export(folder / "model_judgment" / "gpt-4_pair.jsonl", "--out", out)
    assert code == 0, output
    records = [json.loads(line) for line in (folder / "model_judgment" / "gpt-4_pair.jsonl").read_text().splitlines()]
    answers = {model: {str(json.loads(line)["question_id"]): json.loads(line)["choices"][0]["turns"]
                       for line in (folder / "model_answer" / f"{model}.jsonl").read_text().splitlines()}
               for model in ("gpt-4", "gpt-3.5-turbo")}
    # Independently: both games name the same model (FastChat's g1/g2 winners); a repeated ask counts again.
    expected = sorted((str(r["question_id"]), r[r["g1_winner"]]) for r in records
                      if r["g1_winner"] == r["g2_winner"] != "tie")
    rows = read_preferences(out)
    assert sorted((r["item_id"], r["chosen_model"]) for r in rows) == expected
    for row in rows:
        assert row["chosen"][0]["content"] == answers[row["chosen_model"]][row["item_id"]][0]
        assert row["rejected"][0]["content"] == answers[row["rejected_model"]][row["item_id"]][0]
        assert row["source"] == "gpt-4" and row["turn"] == 1


def test_an_input_without_texts_is_a_one_line_error(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "judgebench/outputs/claude-pairs.arena_hard.claude-3-haiku-20240307.jsonl.gz"
    code, output = export(path, "--out", tmp_path / "x.jsonl")
    assert code != 0 and len(output.strip().splitlines()) == 1
    assert str(path) in output and "keep no answer texts" in output


def test_a_run_whose_task_file_is_gone_names_the_run(tmp_path: Path) -> None:
    task_path = tmp_path / "task.yaml"
    # A copy unlike the built-in task (its sha256 differs), so the run's questions can come from this file only.
    task_path.write_text(Path(load_task("sample-pairwise").path).read_text() + "# a copy\n")
    endpoint = Endpoint(provider="openai", name="cand", model="cand", base_url="http://unused/v1", concurrency=2)
    with fake_model(Script([("fn", _pairwise_reply)])) as url:
        served = Endpoint(**{**endpoint.__dict__, "base_url": url})
        run = RunConfig(model=served, judges=(Judge("fake-judge", served),), out=tmp_path / "results",
                        cache_path=tmp_path / "cache.sqlite", progress=False, n_bootstrap=0)
        evaluate(load_task(str(task_path)), run)
    task_path.unlink()
    code, output = export(tmp_path / "results", "--out", tmp_path / "x.jsonl")
    assert code != 0 and len(output.strip().splitlines()) == 1
    assert str(tmp_path / "results") in output and "task file" in output


def test_failed_ties_and_disagreeing_orders_are_counted_from_the_records(tmp_path: Path) -> None:
    run_dir = synthetic_run(tmp_path / "synthetic", 60, ["m1", "m2"], ["j1", "j2"], seed=3)
    records = [json.loads(line) for line in (run_dir / "judgments.jsonl").read_text().splitlines()]
    out = tmp_path / "s.jsonl"
    code, output = export(run_dir.parent, "--out", out)
    assert code == 0, output
    # Independently, from the records written (their preference averages the orders: a win and a tie is 1.75): a
    # failure, a tie, orders that cancel out (a win and a loss), or a pair won by the side of 1.5 it is on.
    failed = sum(r.get("error") is not None for r in records)
    judged = [r for r in records if r.get("error") is None]
    ties = sum(r["verdict_ab"] == r["verdict_ba"] == "tie" for r in judged)
    disagree = sum(r["preference"] == 1.5 and r["verdict_ab"] != r["verdict_ba"] for r in judged)
    decisive = [r for r in judged if r["preference"] != 1.5]
    assert failed and ties and disagree and len(decisive) + failed + ties + disagree == len(records)
    rows = read_preferences(out)
    assert sorted((r["source"], r["item_id"], r["chosen_model"], r["margin"]) for r in rows) == sorted(
        (r["judge"], r["item_id"], r["model"] if r["preference"] > 1.5 else r["opponent"],
         2 * abs(r["preference"] - 1.5)) for r in decisive)
    counts = {"failed": failed, "ties": ties, "orders disagreeing": disagree}
    assert all(f"{n} {reason}" in output for reason, n in counts.items())
    # Both orders agreeing: a win and a tie is left out.
    agreeing = sum(r["verdict_ab"] == r["verdict_ba"] for r in decisive)
    assert agreeing < len(decisive)
    code, output = export(run_dir.parent, "--out", tmp_path / "agree.jsonl", "--both-orders-agree")
    assert len(read_preferences(tmp_path / "agree.jsonl")) == agreeing
    assert f"{len(decisive) - agreeing} with one order a tie" in output


def test_single_grades_pair_by_grade_with_mt_bench_turns(shared_data: Path, tmp_path: Path) -> None:
    # FastChat's layout (links, not copies): the judgments, question.jsonl and model_answer/ beside them.
    extras = shared_data / "mt_bench_extras/third_party_alvarobartt"
    (tmp_path / "model_judgment").mkdir()
    (tmp_path / "question.jsonl").symlink_to(shared_data / "mt_bench/question.jsonl")
    (tmp_path / "model_answer").symlink_to(extras / "model_answer")
    judgments = tmp_path / "model_judgment" / "gpt-4_single.jsonl.gz"
    judgments.symlink_to(extras / "model_judgment/gpt-4_single.jsonl.gz")
    out = tmp_path / "grades.jsonl"
    code, output = export(judgments, "--out", out)
    assert code != 0 and "800 single grades (pair them with --pair-grades)" in output
    code, output = export(judgments, "--out", out, "--pair-grades")
    assert code == 0, output
    rows = read_preferences(out)
    _trl_conversational(rows)
    # Independently, from FastChat's own parsed score (-1: unparsed): each model's mean grade per question and turn,
    # every two models whose means differ one pair, the higher chosen.
    grades: dict[tuple[str, int], dict[str, list[float]]] = {}
    records = [json.loads(line) for line in gzip.decompress(judgments.read_bytes()).splitlines()]
    for r in records:
        if r["score"] != -1:
            grades.setdefault((str(r["question_id"]), r["turn"]), {}).setdefault(r["model"], []).append(r["score"])
    expected, equal = {}, 0
    for (item, turn), by_model in grades.items():
        means = {m: sum(v) / len(v) for m, v in by_model.items()}
        for a, b in ((a, b) for a in means for b in means if a < b):
            if means[a] == means[b]:
                equal += 1
                continue
            winner, loser = (a, b) if means[a] > means[b] else (b, a)
            expected[(item, turn, winner, loser)] = (means[winner] - means[loser]) / 9  # MT-Bench grades 1..10
    got = {(r["item_id"], r["turn"], r["chosen_model"], r["rejected_model"]): r["margin"] for r in rows}
    assert got.keys() == expected.keys() and all(got[k] == pytest.approx(v) for k, v in expected.items())
    assert f"{equal} pairs of equal grades" in output and all(r["orders"] == 0 for r in rows)
    answers = {p.stem: {str(json.loads(line)["question_id"]): json.loads(line)["choices"][0]["turns"]
                        for line in p.read_text().splitlines()} for p in (extras / "model_answer").iterdir()}
    questions = {str(json.loads(line)["question_id"]): json.loads(line)["turns"]
                 for line in (shared_data / "mt_bench/question.jsonl").read_text().splitlines()}
    second = next(r for r in rows if r["turn"] == 2)
    item, chosen = second["item_id"], second["chosen_model"]
    assert [m["content"] for m in second["prompt"]] == [questions[item][0], answers[chosen][item][0],
                                                         questions[item][1]]
    assert second["chosen"][0]["content"] == answers[chosen][item][1]
    assert second["rejected"][0]["content"] == answers[second["rejected_model"]][item][1]
    # Grades have no orders.
    code, output = export(judgments, "--out", tmp_path / "none.jsonl", "--pair-grades", "--both-orders-agree")
    assert code != 0 and f"{len(expected)} pairs of grades (no orders)" in output
