"""AlpacaEval 2.0's own annotator (task alpaca-eval-2) reproduced end to end for every shared model, and its cost
beside our both-orders judge (task alpaca-eval-2-both-orders).

For each model with weighted_alpaca_eval_gpt4_turbo annotations in ../shared/data and a row on the published
leaderboard: a replay judge serves the annotations (judgebench.replay, AlpacaEval's template), `judgebench run
--task alpaca-eval-2` judges the annotations' output_2 against it, and the win rate, counts, standard error and
LC (difficulty fitted on all shared annotation files: AlpacaEval's own table is on the Hugging Face Hub, not in
the shared data) are compared with the CSV. Five files lack a few instructions (AlpacaEval recorded no judgment
for them): those items get a placeholder answer, the replay refuses them, and they are failed judgments, as
AlpacaEval's n_total leaves them out.

Run: python bench/bench_alpaca_eval_protocol.py   (about 4 minutes)
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import tempfile
from pathlib import Path

import pandas as pd
from click.testing import CliRunner

from judgebench.analysis.records import read_judgments
from judgebench.analysis.scores import score_rows
from judgebench.cli import main as cli
from judgebench.formats.difficulty import load_difficulty
from judgebench.judging.kinds import kind_of
from judgebench.replay import ReaderOptions, ReplayTable, read_recordings, replaying
from judgebench.tasks import load_task
from judgebench.types import Candidate, Endpoint, Judge

SHARED = Path(os.environ.get("JUDGEBENCH_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ANNOTATIONS = "alpaca_eval/results/{}/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"
TEMPLATE = SHARED / "alpaca_eval/evaluators_configs/alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt"
LEADERBOARD = SHARED / "alpaca_eval/leaderboards/data_AlpacaEval_2/weighted_alpaca_eval_gpt4_turbo_leaderboard.csv"
PLACEHOLDER = "(no output: AlpacaEval recorded no judgment for this instruction)"


def mirror(target: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import mirror_of  # the same data mirror the tests use

    return mirror_of(SHARED, target)


def one_model(model: str, work: Path, data_dir: Path, table_csv: Path) -> dict[str, object]:
    path = SHARED / ANNOTATIONS.format(model)
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows = json.load(fh)
    task = load_task("alpaca-eval-2")
    answered = {r["instruction"]: r["output_2"] for r in rows}
    outputs = [{"instruction": i.turns[0], "output": answered.get(i.turns[0], PLACEHOLDER), "generator": model}
               for i in task.items]
    answers = work / "model_outputs.json"
    answers.write_text(json.dumps(outputs), encoding="utf-8")
    table = ReplayTable.of(read_recordings(path, "alpaca-eval", ReaderOptions(template=TEMPLATE)))
    with replaying(table) as server:
        result = CliRunner().invoke(cli, ["run", "--task", "alpaca-eval-2", "--answers", str(answers), "--judge",
                                          f"replay@{server.base_url}#text", "--data-dir", str(data_dir), "--out",
                                          str(work / "out"), "--cache", str(work / "cache.db"), "--concurrency", "32"])
        refused = len(server.refused)
    missing = len(task.items) - len(answered)
    assert result.exit_code in (0, 3), result.output
    (row,) = score_rows(read_judgments([work / "out"], "judgebench").frame, n_bootstrap=0,
                        difficulty=load_difficulty(table_csv))
    return {"model": model, "refused": refused, "missing": missing, "win_rate": row.score, "n_wins": row.n_wins,
            "n_draws": row.n_draws, "n_total": row.n_judged, "se": row.standard_error,
            "lc": row.length_controlled_winrate}


def cost(data_dir: Path) -> None:
    """Requests and prompt characters per 1,000 items, AlpacaEval's annotator vs our both-orders judge, on one
    model's real answers (characters / 4 ~ tokens, the dry run's estimate)."""
    os.environ["JUDGEBENCH_DATA_DIR"] = str(data_dir)
    with gzip.open(SHARED / ANNOTATIONS.format("vicuna-13b"), "rt", encoding="utf-8") as fh:
        answered = {r["instruction"]: r["output_2"] for r in json.load(fh)}
    judge = Judge("j", Endpoint("openai", "j", "j", "http://127.0.0.1:1/v1"))
    for name in ("alpaca-eval-2", "alpaca-eval-2-both-orders"):
        task = load_task(name)
        kind = kind_of(task.kind)
        requests = chars = 0
        for item in task.items:
            candidate = Candidate(task.benchmark, item.id, "vicuna-13b", (answered[item.turns[0]],))
            for request in kind.requests(task, candidate, item, judge):
                requests += 1
                chars += sum(len(text) for _, text in request.chat.messages)
        scale = 1000 / len(task.items)
        print(f"{name:28s} per 1,000 items: {requests * scale:7.0f} requests, {chars * scale / 1e6:6.2f} M prompt "
              f"characters (~{chars * scale / 4e6:.2f} M tokens), max_tokens {dict(request.chat.params)['max_tokens']}")


def main() -> None:
    board = pd.read_csv(LEADERBOARD, index_col=0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_dir = mirror(work / "mirror")
        os.environ["JUDGEBENCH_DATA_DIR"] = str(data_dir)
        os.environ["JUDGEBENCH_CACHE_DIR"] = str(work / "cache")
        files = sorted(SHARED.glob(ANNOTATIONS.format("*")))
        table_csv = work / "difficulty.csv"
        fitted = CliRunner().invoke(cli, ["difficulty", "fit", *map(str, files), "--out", str(table_csv)])
        assert fitted.exit_code == 0, fitted.output
        found = []
        for path in files:
            model = path.parents[1].name
            if model not in board.index:
                continue
            folder = work / model
            folder.mkdir()
            found.append(one_model(model, folder, data_dir, table_csv))
        frame = pd.DataFrame(found).set_index("model")
        published = board.loc[frame.index]
        frame["d_win_rate"] = frame["win_rate"] - published["win_rate"]
        frame["d_se"] = frame["se"] - published["standard_error"]
        frame["d_lc"] = frame["lc"] - published["length_controlled_winrate"]
        frame["counts_equal"] = (frame["n_wins"] == published["n_wins"]) & (frame["n_draws"] == published["n_draws"]) \
            & (frame["n_total"] == published["n_total"])
        pd.set_option("display.width", 200)
        print(frame[["refused", "missing", "win_rate", "d_win_rate", "d_se", "counts_equal", "lc", "d_lc"]]
              .to_string(float_format=lambda v: f"{v:.3g}"))
        print(f"\n{len(frame)} models; refused == missing rows for all: {(frame['refused'] == frame['missing']).all()}")
        print(f"win rate: max |d| {frame['d_win_rate'].abs().max():.2e}; SE: max |d| {frame['d_se'].abs().max():.2e}; "
              f"counts equal: {int(frame['counts_equal'].sum())}/{len(frame)}")
        full = frame[frame["missing"] == 0]
        print(f"LC: mean |d| {frame['d_lc'].abs().mean():.3f}, max |d| {frame['d_lc'].abs().max():.3f} "
              f"({frame['d_lc'].abs().idxmax()}); models with all 805 rows: mean |d| {full['d_lc'].abs().mean():.3f}, "
              f"max {full['d_lc'].abs().max():.3f} ({full['d_lc'].abs().idxmax()}); within 0.5: "
              f"{int((frame['d_lc'].abs() <= 0.5).sum())}/{len(frame)}")
        cost(data_dir)


if __name__ == "__main__":
    main()
