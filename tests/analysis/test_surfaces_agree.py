"""The same judgments give the same numbers on every surface: the run's summary.json, `judgebench diagnose`,
`judgebench stats --json`, the leaderboard site and `judgebench.load()`. Each surface once bootstrapped the
diagnostics its own number of times (200, 500, 500) and printed its own intervals; they now share
constants.DIAGNOSTIC_BOOTSTRAP and constants.BOOTSTRAP_SEED."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import judgebench
from judgebench.cli import main
from judgebench.publish.site import build_site
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakeserver import Script, fake_server

# Grades handed out in turn, the last one repeating (answers take some too): a spread, so the intervals are not points.
GRADES = [7, 3, 9, 5, 8, 2, 10, 6, 4, 7, 9, 1] * 6


@pytest.fixture(scope="module")
def graded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """sample-mt answered and graded in-process by the scripted server, every setting its default."""
    tmp = tmp_path_factory.mktemp("surfaces")
    script = Script([("ok", f"Rating: [[{grade}]]") for grade in GRADES])
    with fake_server(script) as url:
        model = Endpoint(provider="openai", name="m-model", model="m", base_url=url, concurrency=1)
        judge = Endpoint(provider="openai", name="j-judge", model="j", base_url=url, concurrency=1)
        config = RunConfig(model=model, judges=(Judge("j-judge", judge),), out=tmp / "results",
                           cache_path=tmp / "cache.sqlite", progress=False)
        result = evaluate(load_task("sample-mt"), config)
    return result.run_dir, result


def _cli_json(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_diagnostics_agree_across_surfaces(graded_run: tuple[Path, Any], tmp_path: Path) -> None:
    run_dir, result = graded_run
    from_run = json.loads((run_dir / "summary.json").read_text())["diagnostics"]
    assert from_run == result.diagnostics.to_json()
    from_cli = _cli_json("diagnose", str(run_dir), "--json")
    from_load = judgebench.load(run_dir).diagnostics.to_json()
    build_site([run_dir], tmp_path / "site")
    (site_file,) = (tmp_path / "site" / "data").glob("*.diagnostics.json")
    from_site = json.loads(site_file.read_text())
    # An interval that is not a point, so the comparison says something about the resamples.
    (saturation,) = from_run["saturation"]
    assert saturation["overall"]["top_median_ci_width"] > 0
    assert from_cli == from_run
    assert from_load == from_run
    assert from_site == from_run


def test_score_intervals_agree_across_surfaces(graded_run: tuple[Path, Any], tmp_path: Path) -> None:
    run_dir, _ = graded_run
    keys = ("model", "score", "ci_low", "ci_high", "n_judged", "n_failed")

    def picked(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(tuple(row[k] for k in keys) for row in rows)

    from_run = picked(json.loads((run_dir / "summary.json").read_text())["rows"])
    from_stats = picked(_cli_json("stats", str(run_dir), "--json"))
    from_load = picked(judgebench.load(run_dir).scores.to_dict("records"))
    build_site([run_dir], tmp_path / "site")
    (site_file,) = (p for p in (tmp_path / "site" / "data").glob("*.json") if ".diagnostics" not in p.name)
    from_site = picked([{**row, "n_judged": row["n"]} for row in json.loads(site_file.read_text())])
    assert from_run[0][2] < from_run[0][3]
    assert from_stats == from_run
    assert from_load == from_run
    assert from_site == from_run
