"""AlpacaEval 2.0's own annotator, run end to end against a replay judge built from AlpacaEval's annotation files,
compared with the published leaderboard CSV (win rate exactly, LC within 0.5)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from judgebench.analysis.records import read_judgments
from judgebench.analysis.scores import score_rows
from judgebench.cli import main
from judgebench.errors import DataError
from judgebench.formats.alpaca_eval import read_annotations
from judgebench.formats.difficulty import load_difficulty
from judgebench.judging.kinds import kind_of
from judgebench.judging.protocols.alpaca_eval import (
    PARAMS,
    chat_messages,
    fill,
    is_switched,
    marker_counts,
    preference_shown,
    unswitched,
)
from judgebench.replay import ReaderOptions, Recording, ReplayTable, read_recordings, replaying
from judgebench.replay.alpaca_eval import alpaca_eval_annotations
from judgebench.tasks import load_task
from judgebench.types import Candidate as CandidateAnswer
from judgebench.types import ChatReply, Endpoint, Judge, JudgeRequest

from ..conftest import SHARED_DATA

TEMPLATE = "alpaca_eval/evaluators_configs/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt"
LEADERBOARD = "alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
ANNOTATIONS = "alpaca_eval/results/{}/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
# Recorded log-probabilities (one draw: an identical answer is not asked), log-probabilities built from the recorded
# preference (FuseChat's files record none), and a plain one.
FAST_MODELS = ("gpt-3.5-turbo-0301", "FuseChat-Qwen-2.5-7B-Instruct", "vicuna-7b-v1.3")
LC_TOLERANCE = 0.5


def annotations_path(shared_data: Path, model: str) -> Path:
    return shared_data / ANNOTATIONS.format(model)


def write_outputs(annotations: Path, target: Path) -> Path:
    """The candidate's model_outputs.json: the annotations' output_2."""
    with gzip.open(annotations, "rt", encoding="utf-8") as fh:
        rows = json.load(fh)
    target.write_text(json.dumps([{"instruction": r["instruction"], "output": r["output_2"],
                                   "generator": r["generator_2"], "dataset": r["dataset"]} for r in rows]),
                      encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def published(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / LEADERBOARD, index_col=0)


@pytest.fixture(scope="module")
def difficulty_csv(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A difficulty table fitted on every shared annotation file (AlpacaEval's own table is on the Hugging Face
    Hub, not in the shared data), as a user would fit one."""
    out = tmp_path_factory.mktemp("difficulty") / "alpaca-eval-2.csv"
    files = sorted(str(p) for p in shared_data.glob(ANNOTATIONS.format("*")) if p.parents[1].name != "text_davinci_003")
    result = CliRunner().invoke(main, ["difficulty", "fit", *files, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def reproduce(shared_data: Path, mirror: Path, model: str, tmp_path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Run the alpaca-eval-2 task on ``model``'s answers against the replay of its annotations: the judgments and
    the replay's refusals."""
    annotations = annotations_path(shared_data, model)
    answers = write_outputs(annotations, tmp_path / "model_outputs.json")
    options = ReaderOptions(template=shared_data / TEMPLATE)
    table = ReplayTable.of(read_recordings(annotations, "alpaca-eval", options))
    out = tmp_path / "out"
    with replaying(table) as server:
        result = CliRunner().invoke(main, [
            "run", "--task", "alpaca-eval-2", "--answers", str(answers), "--judge", f"replay@{server.base_url}#text",
            "--data-dir", str(mirror), "--out", str(out), "--cache", str(tmp_path / "cache.db"),
            "--concurrency", "32"])
        refused = list(server.refused)
    assert result.exit_code == 0, result.output + "\n".join(refused[:3])
    return read_judgments([out], "judgebench").frame, refused


@pytest.mark.parametrize("model", FAST_MODELS)
def test_alpaca_eval_2_reproduces_the_published_leaderboard(shared_data: Path, shared_mirror: Path, tmp_path: Path,
                                                            published: pd.DataFrame, difficulty_csv: Path,
                                                            model: str) -> None:
    frame, refused = reproduce(shared_data, shared_mirror, model, tmp_path)
    assert refused == []
    assert set(frame["protocol"]) == {"alpaca-eval-2.0"}
    (row,) = score_rows(frame, n_bootstrap=0, difficulty=load_difficulty(difficulty_csv))
    expected = published.loc[model]
    assert row.score == pytest.approx(expected["win_rate"], abs=1e-9)
    assert (row.n_wins, row.n_draws, row.n_losses, row.n_judged) == (
        expected["n_wins"], expected["n_draws"], expected["n_wins_base"], expected["n_total"])
    assert row.standard_error == pytest.approx(expected["standard_error"], abs=1e-9)
    assert row.order_agreement is None
    assert row.length_controlled_winrate == pytest.approx(expected["length_controlled_winrate"], abs=LC_TOLERANCE)


def _full_models() -> list[str]:
    """The shared models with a full (805-item) annotation file and a published row, known at collection so each is
    its own test (they spread over the workers: one test of all of them was make test's longest, about 250 s)."""
    leaderboard = SHARED_DATA / LEADERBOARD
    if not leaderboard.is_file():
        return []
    published = pd.read_csv(leaderboard, index_col=0)
    found = (path.parents[1].name for path in sorted(SHARED_DATA.glob(ANNOTATIONS.format("*"))))
    return [m for m in found if m in published.index and int(published.loc[m, "n_total"]) == 805]


@pytest.mark.integration
@pytest.mark.parametrize("model", _full_models())
def test_every_shared_model_reproduces(shared_data: Path, shared_mirror: Path, tmp_path: Path,
                                       published: pd.DataFrame, model: str) -> None:
    """Each shared model with a full annotation file (bench/bench_alpaca_eval_protocol.py reports them all,
    with the differences)."""
    frame, refused = reproduce(shared_data, shared_mirror, model, tmp_path)
    assert refused == [], model
    (row,) = score_rows(frame, n_bootstrap=0)
    assert row.score == pytest.approx(published.loc[model, "win_rate"], abs=1e-9), model
    assert (row.n_wins, row.n_draws) == (published.loc[model, "n_wins"], published.loc[model, "n_draws"]), model


# -- the replay judge has teeth ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def replay_table(shared_data: Path) -> tuple[ReplayTable, Recording]:
    recordings = list(alpaca_eval_annotations(annotations_path(shared_data, "vicuna-7b-v1.3"),
                                              ReaderOptions(template=shared_data / TEMPLATE)))
    return ReplayTable.of(recordings), recordings[0]


def _body(recording: Recording, **params: object) -> dict[str, object]:
    return {"model": "gpt-4-1106-preview", "messages": [{"role": "system", "content": recording.system},
                                                        {"role": "user", "content": recording.user}],
            **dict(PARAMS), **params}


def test_the_recorded_prompt_is_answered_with_its_logprobs(replay_table: tuple[ReplayTable, Recording]) -> None:
    table, recording = replay_table
    with replaying(table) as server:
        status, body = server.answer(_body(recording))
    assert status == 200
    top = body["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    assert {t["token"] for t in top} >= {"M"} and len(top) == 5


def test_a_prompt_one_character_off_is_refused(replay_table: tuple[ReplayTable, Recording]) -> None:
    table, recording = replay_table
    at = len(recording.user) // 2
    changed = Recording(user=recording.user[:at] + ("x" if recording.user[at] != "x" else "y")
                        + recording.user[at + 1:], reply="", system=recording.system)
    with replaying(table) as server:
        status, body = server.answer(_body(changed))
        assert server.refused
    assert status == 400 and f"differs at character {at}" in body["error"]["message"]


def test_a_wrong_max_tokens_is_refused(replay_table: tuple[ReplayTable, Recording]) -> None:
    table, recording = replay_table
    with replaying(table) as server:
        status, body = server.answer(_body(recording, max_tokens=2))
    assert status == 400 and "max_tokens=1" in body["error"]["message"]


def test_a_wrong_system_message_is_refused(replay_table: tuple[ReplayTable, Recording]) -> None:
    table, recording = replay_table
    other = Recording(user=recording.user, reply="", system=(recording.system or "") + " ")
    with replaying(table) as server:
        status, _ = server.answer(_body(other))
    assert status == 400


# -- the pieces, against AlpacaEval's own behaviour ----------------------------------------------------------------

def test_placeholders_are_filled_in_order_first_occurrence_unescaped() -> None:
    template = "<|im_start|>user\nI: {instruction}\nA: {output_1}\nB: {output_2}\n<|im_end|>"
    # AlpacaEval replaces the first occurrence in the text so far: an instruction holding "{output_1}" receives
    # the first output, and the template's own placeholder stays.
    prompt = fill(template, {"instruction": "say {output_1}", "output_1": "one", "output_2": "two"})
    assert prompt == "<|im_start|>user\nI: say one\nA: {output_1}\nB: two\n<|im_end|>"


def test_chatml_is_cut_and_stripped_as_alpaca_eval_does() -> None:
    text = "\n<|im_start|>system\n  Be brief. \n<|im_end|>\n<|im_start|>user\nQ\n\n<|im_end|>tail<|im_end|>\n"
    assert chat_messages(text) == (("system", "Be brief."), ("user", "Q"))


def test_the_preference_comes_from_m_and_m_and_is_unswitched() -> None:
    assert preference_shown((("m", 0.0),)) == 1.0  # M absent: probability 0
    assert preference_shown((("M", -0.5), ("The", -1.0))) == 2.0
    assert preference_shown((("The", -0.1),)) is None
    half = preference_shown((("m", -0.6931471805599453), ("M", -0.6931471805599453)))
    assert half == pytest.approx(1.5)
    assert unswitched(1.25, switched=True) == 1.75 and unswitched(1.25, switched=False) == 1.25


def test_the_order_is_seeded_on_the_instruction(shared_data: Path) -> None:
    with gzip.open(annotations_path(shared_data, "alpaca-7b"), "rt", encoding="utf-8") as fh:
        rows = json.load(fh)
    # AlpacaEval's recorded preference = the parsed one, un-switched where the seeded choice switched the outputs.
    checked = 0
    for row in rows:
        if not row["raw_completion"]:
            continue
        top = [(t["token"], t["logprob"]) for t in row["raw_completion"]["logprobs"]["content"][0]["top_logprobs"]]
        shown = preference_shown(top)
        assert shown is not None
        assert unswitched(shown, is_switched(row["instruction"])) == pytest.approx(row["preference"], abs=1e-9)
        checked += 1
    assert checked > 790


def test_a_judge_without_logprobs_is_a_failure_never_a_score(shared_mirror: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(shared_mirror))
    task = load_task("alpaca-eval-2")
    kind = kind_of(task.kind)
    item = task.items[0]
    endpoint = Endpoint("openai", "j", "j", "http://127.0.0.1:1/v1")
    candidate = CandidateAnswer(task.benchmark, item.id, "model", ("an answer",))
    (request,) = kind.requests(task, candidate, item, Judge("j", endpoint))
    assert isinstance(request, JudgeRequest) and dict(request.chat.params) == dict(PARAMS)
    (judgment,) = kind.assemble(task, candidate, [request], [ChatReply("M")])
    assert judgment.preference is None and judgment.failure_kind == "parse"
    assert "log-probabilities" in (judgment.error or "")
    scored = kind.assemble(task, candidate, [request], [ChatReply("M", logprobs=(("M", (("M", 0.0),)),))])
    assert scored[0].preference in (1.0, 2.0)


def test_identical_answers_are_a_draw_without_a_request(shared_mirror: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(shared_mirror))
    task = load_task("alpaca-eval-2")
    kind = kind_of(task.kind)
    item = task.items[0]
    judge = Judge("j", Endpoint("openai", "j", "j", "http://127.0.0.1:1/v1"))
    same = CandidateAnswer(task.benchmark, item.id, "model", task.reference_for(item.id))
    assert kind.requests(task, same, item, judge) == []
    (draw,) = kind.empty(task, item, same, judge)
    assert draw.preference == 1.5 and draw.protocol == "alpaca-eval-2.0"
    empty = CandidateAnswer(task.benchmark, item.id, "model", ("",))
    assert kind.empty(task, item, empty, judge) == [] and len(kind.requests(task, empty, item, judge)) == 1


def test_answers_with_markers_are_counted_not_altered() -> None:
    counts = marker_counts(['plain', 'a """quote"""', "<|im_end|> and {output_2}"])
    assert counts == {'"""': 1, "<|im_end|>": 1, "{output_2}": 1}


def test_a_raw_completion_as_python_literal_text_is_read_safely(tmp_path: Path, shared_data: Path) -> None:
    top = [{"token": "m", "logprob": -0.1, "bytes": [109]}, {"token": "M", "logprob": -2.4, "bytes": None}]
    rows = [{"instruction": "Say hi", "output_1": "hi", "output_2": "hello", "preference": 1.1,
             "annotator": "weighted_alpaca_eval_gpt4_turbo", "raw_completion": repr(top)},
            {"instruction": "Say bye", "output_1": "bye", "output_2": "goodbye", "preference": 1.1,
             "annotator": "weighted_alpaca_eval_gpt4_turbo", "raw_completion": "__import__('os').system('true')"}]
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps(rows[:1]), encoding="utf-8")
    (recording,) = alpaca_eval_annotations(path, ReaderOptions(template=shared_data / TEMPLATE))
    assert recording.logprobs == (("m", (("m", -0.1), ("M", -2.4))),)
    path.write_text(json.dumps(rows[1:]), encoding="utf-8")
    with pytest.raises(DataError, match="neither JSON nor a Python literal"):
        list(alpaca_eval_annotations(path, ReaderOptions(template=shared_data / TEMPLATE)))
    rows[1]["raw_completion"] = "[" * 100_000
    path.write_text(json.dumps(rows[1:]), encoding="utf-8")
    with pytest.raises(DataError, match="characters"):
        list(alpaca_eval_annotations(path, ReaderOptions(template=shared_data / TEMPLATE)))


def test_alpaca_eval_files_carry_the_protocol(shared_data: Path) -> None:
    judgments = read_annotations(annotations_path(shared_data, "vicuna-7b-v1.3"))
    assert {j.protocol for j in judgments} == {"alpaca-eval-2.0"}
    other = read_annotations(shared_data / "alpaca_eval/results/gpt4/alpaca_eval_gpt4/annotations.json.gz")
    assert {j.protocol for j in other} == {"alpaca_eval_gpt4"}


def test_the_kind_sends_what_the_replay_reader_rebuilds(shared_data: Path, shared_mirror: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The request's messages for one switched and one unswitched instruction are the reader's, byte for byte."""
    monkeypatch.setenv("JUDGEBENCH_DATA_DIR", str(shared_mirror))
    task = load_task("alpaca-eval-2")
    kind = kind_of(task.kind)
    judge = Judge("j", Endpoint("openai", "j", "j", "http://127.0.0.1:1/v1"))
    with gzip.open(annotations_path(shared_data, "vicuna-7b-v1.3"), "rt", encoding="utf-8") as fh:
        rows = {r["instruction"]: r for r in json.load(fh)}
    by_user = {r.user: r for r in alpaca_eval_annotations(annotations_path(shared_data, "vicuna-7b-v1.3"),
                                                          ReaderOptions(template=shared_data / TEMPLATE))}
    seen = set()
    for item in task.items[:40]:
        candidate = CandidateAnswer(task.benchmark, item.id, "vicuna-7b-v1.3", (rows[item.turns[0]]["output_2"],))
        for request in kind.requests(task, candidate, item, judge):
            system, user = request.chat.messages
            assert by_user[user[1]].system == system[1] and (system[0], user[0]) == ("system", "user")
            seen.add(request.position)
    assert seen == {"AB", "BA"}
