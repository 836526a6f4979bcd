"""The parse cache: the same numbers with a cold cache, a warm cache and no cache; a file is keyed by its bytes
(a changed file is parsed again, whatever its name, size or time); a damaged or foreign entry is a miss, never a
number and never code run; it lives in the user's cache directory, and `stats`, ``load()`` and the site share it."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import judgebench
from judgebench.analysis.leaderboard import leaderboard
from judgebench.analysis.records import collect, read_judgments
from judgebench.cli import main
from judgebench.formats import judgebench as store
from judgebench.formats import read_parsed, read_sources
from judgebench.formats.parse_cache import ENV_VAR, ParseCache, default_root
from judgebench.publish.site import build_site

AE2 = "alpaca_eval/results/*/weighted_alpaca_eval_gpt4_turbo/annotations.json.gz"


def _entries(root: Path) -> list[Path]:
    return sorted(root.rglob("*.msgpack"))


def _annotations(path: Path, preferences: list[object], model: str = "model") -> Path:
    rows = [{"instruction": f"question {i}", "output_1": "base answer", "output_2": "model answer " * (i + 1),
             "generator_1": "base", "generator_2": model, "annotator": "judge", "preference": p, "dataset": "d"}
            for i, p in enumerate(preferences)]
    path.write_text(json.dumps(rows))
    return path


@pytest.fixture(scope="module")
def leaderboard_files(shared_data: Path) -> list[Path]:
    paths = sorted(shared_data.glob(AE2))
    assert len(paths) >= 40
    return paths


@pytest.mark.integration  # every shared annotation file read three times: the slowest test of the fast suite
def test_the_whole_leaderboard_is_the_same_cold_warm_and_without_the_cache(leaderboard_files: list[Path],
                                                                           tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "parsed")
    reference = collect([s for p in leaderboard_files for s in read_sources(p)])  # Judgment objects, no cache
    boards = {}
    for name, use in (("off", ParseCache(None)), ("cold", cache), ("warm", cache)):
        parsed = [s for p in leaderboard_files for s in read_parsed(p, cache=use)]
        # The warm read parsed nothing: every number below came from the cache.
        assert [s.parsed for s in parsed] == [name != "warm"] * len(leaderboard_files), name
        judgments = read_judgments(leaderboard_files, cache=use)
        pd.testing.assert_frame_equal(judgments.frame, reference.frame)
        boards[name] = leaderboard(judgments.frame, n_bootstrap=100)  # equal, not close, at any count
    assert len(_entries(tmp_path / "parsed")) == len(leaderboard_files)
    rows = boards["off"].rows
    assert len(rows) == len(leaderboard_files)
    assert all(r.score is not None and r.ci_low is not None and r.length_controlled_winrate is not None
               for r in rows if r.model != r.opponent)
    # Win rates, LC, intervals, counts and badges: equal, not close.
    assert boards["cold"].rows == rows and boards["warm"].rows == rows
    assert boards["cold"].scores == boards["off"].scores == boards["warm"].scores


def test_a_changed_file_is_parsed_again_whatever_its_name_size_and_time(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "parsed")
    path = _annotations(tmp_path / "annotations.json", [2.0, 1.0, 2.0])
    stat = path.stat()
    (first,) = read_parsed(path, cache=cache)
    # Same name, same size, same modification time: only the bytes differ.
    _annotations(path, [1.0, 2.0, 1.0])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    (second,) = read_parsed(path, cache=cache)
    assert first.parsed and second.parsed
    assert list(first.frame()["preference"]) == [2.0, 1.0, 2.0]
    assert list(second.frame()["preference"]) == [1.0, 2.0, 1.0]
    (again,) = read_parsed(path, cache=cache)
    assert not again.parsed and list(again.frame()["preference"]) == [1.0, 2.0, 1.0]


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage", "other key"])
def test_a_damaged_entry_is_a_miss_and_is_written_again(tmp_path: Path, damage: str) -> None:
    cache = ParseCache(tmp_path / "parsed")
    path = _annotations(tmp_path / "a.json", [2.0, 1.5, None, 1.0])
    (clean,) = read_parsed(path, cache=cache)
    (entry,) = _entries(tmp_path / "parsed")
    data = entry.read_bytes()
    if damage == "truncate":
        entry.write_bytes(data[: len(data) // 2])
    elif damage == "flip":  # one bit of one stored number
        index = data.index(b"\x00\x00\x00\x00\x00\x00\xf8\x3f")  # 1.5 as a little-endian float64
        entry.write_bytes(data[:index + 7] + bytes([data[index + 7] ^ 0x01]) + data[index + 8:])
    elif damage == "empty":
        entry.write_bytes(b"")
    elif damage == "garbage":
        entry.write_bytes(os.urandom(len(data)))
    else:  # a whole, valid entry of another file, under this file's key
        other = _annotations(tmp_path / "b.json", [1.0, 1.0, 1.0, 1.0])
        read_parsed(other, cache=cache)
        (other_entry,) = (e for e in _entries(tmp_path / "parsed") if e != entry)
        entry.write_bytes(other_entry.read_bytes())
    (again,) = read_parsed(path, cache=cache)
    assert again.parsed
    pd.testing.assert_frame_equal(again.frame(), clean.frame())
    assert list(again.frame()["preference"].fillna(-1)) == [2.0, 1.5, -1, 1.0]
    (warm,) = read_parsed(path, cache=cache)  # written again, whole
    assert not warm.parsed
    pd.testing.assert_frame_equal(warm.frame(), clean.frame())


def test_an_entry_is_data_a_pickle_put_in_its_place_runs_nothing(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "parsed")
    path = _annotations(tmp_path / "a.json", [2.0, 1.0])
    read_parsed(path, cache=cache)
    (entry,) = _entries(tmp_path / "parsed")
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    entry.write_bytes(pickle.dumps(Payload()))
    (again,) = read_parsed(path, cache=cache)
    assert again.parsed and not marker.exists()
    assert list(again.frame()["preference"]) == [2.0, 1.0]


def test_where_it_lives_and_how_to_turn_it_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    data.mkdir()
    path = _annotations(data / "a.json", [2.0, 1.0])
    # The default: parsed/ in judgebench's user cache directory (the test fixture points it into tmp_path).
    assert default_root() == Path(os.environ["JUDGEBENCH_CACHE_DIR"]) / "parsed"
    monkeypatch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp_path / "user-cache"))
    result = CliRunner().invoke(main, ["stats", "--bootstrap", "20", str(path)])
    assert result.exit_code == 0, result.output
    assert len(_entries(tmp_path / "user-cache" / "parsed")) == 1
    assert sorted(p.name for p in data.iterdir()) == ["a.json"]  # nothing beside the data
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    assert CliRunner().invoke(main, ["stats", "--bootstrap", "20", str(path)]).exit_code == 0
    assert len(_entries(tmp_path / "elsewhere")) == 1
    monkeypatch.setenv(ENV_VAR, "off")
    monkeypatch.setenv("JUDGEBENCH_CACHE_DIR", str(tmp_path / "unused"))
    off = CliRunner().invoke(main, ["stats", "--bootstrap", "20", str(path)])
    assert off.exit_code == 0 and off.stdout == result.stdout
    assert not (tmp_path / "unused").exists()


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache directory would be")
    cache = ParseCache(blocked / "parsed")
    path = _annotations(tmp_path / "a.json", [2.0, 1.0])
    (first,) = read_parsed(path, cache=cache)
    (second,) = read_parsed(path, cache=cache)
    assert first.parsed and second.parsed
    assert list(second.frame()["preference"]) == [2.0, 1.0]


def test_stats_load_and_the_site_share_one_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [_annotations(tmp_path / f"{m}.json", [2.0, 1.0, 1.5, 2.0], model=m) for m in ("m1", "m2")]
    stats = CliRunner().invoke(main, ["stats", "--json", "--bootstrap", "50", *map(str, files)])
    assert stats.exit_code == 0, stats.output
    entries = _entries(Path(os.environ["JUDGEBENCH_CACHE_DIR"]) / "parsed")
    assert len(entries) == 2
    site = build_site(files, tmp_path / "site", n_bootstrap=50)
    assert site.n_inputs == 2 and site.n_parsed == 0  # `stats` parsed them
    results = judgebench.load(*files, n_bootstrap=50)
    assert len(results.judgments) == 8
    assert _entries(Path(os.environ["JUDGEBENCH_CACHE_DIR"]) / "parsed") == entries
    rows = json.loads(stats.stdout)
    assert sorted(r["score"] for r in rows) == sorted(results.leaderboard["score"])


def test_what_else_the_reader_is_given_is_part_of_the_key(tmp_path: Path, shared_data: Path) -> None:
    """A FastChat file's categories come from --questions or a question.jsonl beside it: another source of
    categories is another entry, not the first one's categories."""
    cache = ParseCache(tmp_path / "parsed")
    judgments = shared_data / "mt_bench_extras/lmsys_skycamp_branch/model_judgment/gpt-4_pair.jsonl"
    questions = tmp_path / "question.jsonl"
    questions.write_text("".join(json.dumps({"question_id": qid, "category": "renamed", "turns": ["q"]}) + "\n"
                                 for qid in range(1, 200)))
    (beside,) = read_parsed(judgments, "fastchat", cache=cache)
    (given,) = read_parsed(judgments, "fastchat", questions, cache=cache)
    assert beside.parsed and given.parsed
    assert set(given.frame()["category"]) == {"renamed"} and "renamed" not in set(beside.frame()["category"])
    (beside_again,) = read_parsed(judgments, "fastchat", cache=cache)
    assert not beside_again.parsed
    pd.testing.assert_frame_equal(beside_again.frame(), beside.frame())


def test_a_run_directory_is_parsed_again_when_it_grows(tmp_path: Path) -> None:
    cache = ParseCache(tmp_path / "parsed")
    record = {"benchmark": "b", "item_id": "1", "category": "c", "model": "m", "judge": "j", "turn": 1,
              "kind": "single", "score": 7.0, "scale": [1, 10]}
    run_dir = tmp_path / "results" / "run-a"
    run_dir.mkdir(parents=True)
    (run_dir / store.CONFIG).write_text(json.dumps({"created": "2026-01-01"}))
    (run_dir / store.JUDGMENTS).write_text(json.dumps(record) + "\n")
    (first,) = read_parsed(run_dir, cache=cache)
    (warm,) = read_parsed(run_dir, cache=cache)
    assert first.parsed and not warm.parsed and warm.run_id == "run-a" and warm.created == "2026-01-01"
    assert list(warm.frame()["run_id"]) == ["run-a"]
    with (run_dir / store.JUDGMENTS).open("a") as fh:
        fh.write(json.dumps({**record, "item_id": "2", "score": 3.0}) + "\n")
    (grown,) = read_parsed(run_dir, cache=cache)
    assert grown.parsed and list(grown.frame()["score"]) == [7.0, 3.0]
    # The same content in another directory is served from the cache under that directory's own name.
    copy = tmp_path / "results" / "run-b"
    copy.mkdir()
    for name in (store.CONFIG, store.JUDGMENTS):
        (copy / name).write_bytes((run_dir / name).read_bytes())
    (moved,) = read_parsed(copy, cache=cache)
    assert not moved.parsed and list(moved.frame()["run_id"]) == ["run-b", "run-b"]


def test_mixed_formats_in_one_frame_give_the_numbers_of_one_frame_per_source(shared_data: Path) -> None:
    paths = [*sorted(shared_data.glob(AE2))[:3],
             shared_data / "mt_bench_extras/lmsys_skycamp_branch/model_judgment/gpt-4_pair.jsonl",
             shared_data / "mt_bench_extras/third_party_alvarobartt/model_judgment/gpt-4_single.jsonl.gz",
             next(iter(sorted(shared_data.glob("arena_hard/arena-bench-v1_pr1/model_judgment/*.jsonl.gz"))))]
    one = read_judgments(paths, cache=ParseCache(None)).frame
    from judgebench.formats.table import judgments_frame

    per_source = pd.concat([judgments_frame(s.judgments, s.run_id) for p in paths for s in read_sources(p)],
                           ignore_index=True)
    assert len(one) == len(per_source) and len(set(one["benchmark"])) == 3
    first, second = leaderboard(one, n_bootstrap=100), leaderboard(per_source, n_bootstrap=100)
    assert first.rows == second.rows and first.diagnostics == second.diagnostics
