"""Real judgebench run directories, made cheaply: the sample pairwise task answered and judged by the scripted
fake model in this process (tests/fakemodel.py), whose every reply is the given text; or a synthetic pairwise run
of any size written directly (the viewer's tests and bench/bench_viewer.py)."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from judgebench.formats import judgebench as store
from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Candidate, Endpoint, Judge, Judgment
from tests.judgments import flat

from ..fakemodel import fake_model
from ..fakeserver import Script

HOSTILE = '<script>document.title="pwned"</script><img src=x onerror="alert(1)"> A fine answer. [[A]]'


def fake_run(tmp_path: Path, reply: str = HOSTILE, model: str = "fake-model") -> Path:
    """The run directory of ``sample-pairwise`` where the candidate's answers and the judge's replies are all
    ``reply`` (it must name a verdict, [[A]], to parse)."""
    endpoint = Endpoint(provider="openai", name=model, model=model, base_url="http://unused/v1", concurrency=2)
    with fake_model(Script([("ok", reply)])) as url:
        served = Endpoint(**{**endpoint.__dict__, "base_url": url})
        config = RunConfig(model=served, judges=(Judge("fake-judge", served),), out=tmp_path / "results",
                           cache_path=tmp_path / "cache.sqlite", progress=False, n_bootstrap=50)
        result = evaluate(load_task("sample-pairwise"), config)
    return result.run_dir



def _synthetic_task(folder: Path, n_items: int, chars: int) -> tuple[Path, list[dict[str, Any]]]:
    """A pairwise task file (JSON, which is YAML) of ``n_items`` questions with reference answers."""
    categories = ["coding", "math", "writing", "roleplay"]
    items = [{"id": f"q{i}", "category": categories[i % len(categories)],
              "turns": [f"Question {i}: {_filler(chars)}"]} for i in range(n_items)]
    task = {"name": "synthetic-pairwise", "kind": "pairwise", "description": "Synthetic questions.",
            "judge": {"prompt": "pairwise.jinja", "labels": ["A", "B", "C"]}, "items": items,
            "reference": {"model": "reference",
                          "answers": {item["id"]: f"Reference {item['id']}. {_filler(chars)}" for item in items}}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "synthetic-pairwise.yaml"
    path.write_text(json.dumps(task))
    return path, items


def _filler(chars: int) -> str:
    return ("lorem ipsum dolor sit amet " * (1 + chars // 27))[:chars]


def _synthetic_judgment(rng: random.Random, item: dict[str, Any], model: str, judge: str, reply: str) -> Judgment:
    """One pairwise judgment, both orders' replies kept (the candidate shown first, then second): about 1 in 10 did
    not parse, and about 1 in 6 of the others flips with the order."""
    first, second = rng.choice("AAABC"), rng.choice("AAABC")
    if rng.random() < 0.8:
        second = {"A": "B", "B": "A", "C": "C"}[first]  # most judges keep their verdict when the order swaps
    replies = (f"[[{first}]] {reply}", f"[[{second}]] {reply}")
    fields: dict[str, Any] = {}
    if rng.random() < 0.1:
        replies = (f"no verdict here {reply}", replies[1])
        fields = {"error": "no verdict in the judge's reply", "failure": "parse"}
    else:
        ab = {"A": "win", "B": "loss", "C": "tie"}[first]
        ba = {"A": "loss", "B": "win", "C": "tie"}[second]  # the candidate was shown second
        points = {"win": 1.0, "tie": 0.5, "loss": 0.0}
        fields = {"verdict_ab": ab, "verdict_ba": ba, "preference": 1.0 + (points[ab] + points[ba]) / 2}
    return flat(benchmark="synthetic-pairwise", item_id=item["id"], category=item["category"], model=model,
                    judge=judge, turn=1, kind="pairwise", opponent="reference", raw=replies, **fields)


def synthetic_run(folder: Path, n_items: int, models: list[str], judges: list[str], *, answer: str = "",
                  reply: str = "", judged_by: dict[str, list[str]] | None = None, answer_chars: int = 60,
                  reply_chars: int = 40, seed: int = 0) -> Path:
    """A judgebench run directory written directly (no server): a pairwise task of ``n_items`` questions in
    ``folder``, every model's answers, and each judge's judgment of each answer, raw replies included. Seeded, so
    its judgments are the same each time; judges often differ. ``answer`` starts every model answer, ``reply``
    follows every judge reply's verdict (hostile text, say); ``judged_by``: a model's judges, where not all."""
    rng = random.Random(seed)
    task_path, items = _synthetic_task(folder, n_items, answer_chars)
    run_dir = folder / "results" / "20260101T000000Z-synthetic"
    run_dir.mkdir(parents=True)
    config = {"created": "2026-01-01T00:00:00+00:00", "judges": [{"name": j} for j in judges],
              "task": {"path": str(task_path), "name": "synthetic-pairwise", "benchmark": "synthetic-pairwise",
                       "sha256": hashlib.sha256(task_path.read_bytes()).hexdigest()}}
    (run_dir / store.CONFIG).write_text(json.dumps(config))
    with (run_dir / store.ANSWERS).open("w") as fh:
        for model in models:
            for item in items:
                text = f"{answer}{model} on {item['id']}: {_filler(answer_chars)}"
                candidate = Candidate("synthetic-pairwise", item["id"], model, (text,))
                fh.write(store.dumps_line(store.candidate_record(candidate)) + "\n")
    with (run_dir / store.JUDGMENTS).open("w") as fh:
        for model in models:
            for item in items:
                for judge in (judged_by or {}).get(model, judges):
                    judgment = _synthetic_judgment(rng, item, model, judge, reply + _filler(reply_chars))
                    fh.write(store.dumps_line(store.judgment_record(judgment)) + "\n")
    return run_dir
