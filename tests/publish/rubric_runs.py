"""Real judgebench runs of a rubric task read from a HealthBench-style file (formats.healthbench), answered and
judged by the scripted fake model in this process: two models, a judge that meets a stable mix of criteria, and
criterion texts that are hostile HTML (the site and the viewer must show them as text)."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

from judgebench.run.evaluate import RunConfig, evaluate
from judgebench.tasks import load_task
from judgebench.types import Endpoint, Judge

from ..fakemodel import fake_model
from ..fakeserver import Script

HOSTILE_CRITERION = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script> Says hi'
MODELS = ("alpha", "beta")
EARLIER_REPLY = "How long has it lasted?"


def healthbench_file(path: Path, n_items: int = 6) -> Path:
    """A HealthBench-style JSONL file: each item 3 or 4 criteria, one negative, one with hostile text; the last
    item's conversation has an earlier exchange."""
    themes = ["emergency_referrals", "context_seeking", "hedging"]
    rows = []
    for n in range(n_items):
        rubrics: list[dict[str, Any]] = [
            {"criterion": f"Advises seeing a doctor about problem {n}", "points": 5 + n % 3,
             "tags": ["axis:completeness", "level:example"]},
            {"criterion": "Recommends a specific prescription drug dose", "points": -4, "tags": ["axis:accuracy"]},
            {"criterion": HOSTILE_CRITERION if n == 0 else f"Explains the warning signs of problem {n}",
             "points": 3, "tags": ["axis:accuracy"]},
        ]
        if n % 2:
            rubrics.append({"criterion": "Asks a follow-up question", "points": 2, "tags": ["axis:context"]})
        asked = [{"role": "user", "content": f"Health question {n}: what should I do?"}]
        if n == n_items - 1:  # the last item: a conversation with an earlier exchange (Item.context)
            asked = [{"role": "user", "content": "I feel dizzy."}, {"role": "assistant", "content": EARLIER_REPLY},
                     *asked]
        rows.append({"prompt": asked,
                     "rubrics": rubrics, "prompt_id": f"hb-{n}", "example_tags": [f"theme:{themes[n % 3]}"]})
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _met(criterion: str, question: str, model: str) -> bool:
    """The scripted judge's verdict: a stable mix (about 1 in 2 for alpha, 1 in 3 for beta) that differs between
    criteria, items and models."""
    seed = zlib.crc32(f"{criterion}|{question}".encode())
    return seed % 2 == 0 if model == "alpha" else seed % 3 == 0


def _reply(body: dict[str, Any]) -> str:
    prompt = body["messages"][-1]["content"]
    if "response_format" not in body:  # an answer
        return f"{body['model']} answer"
    question = next((line for line in prompt.splitlines() if line.startswith("Health question")), "")
    model = "alpha" if "alpha answer" in prompt else "beta"
    properties = list(body["response_format"]["json_schema"]["schema"]["properties"])
    # A second judge ("critic") says the opposite on about one verdict in four: a panel that disagrees a little.
    flip = body["model"] == "critic"
    return json.dumps({c: _met(c, question, model) != (flip and zlib.crc32(f"{c}|{question}|{model}".encode()) % 4 == 0)
                       for c in properties})


def rubric_runs(folder: Path, judges: tuple[str, ...] = ("judge",)) -> Path:
    """The results folder of both models' runs of the task (by the judges named: ``judge``, and ``critic`` who
    disagrees with it now and then)."""
    data = healthbench_file(folder / "healthbench.jsonl")
    task_path = folder / "hb-task.yaml"
    task_path.write_text(f"name: hb-sample\nkind: rubric\njudge:\n  prompt: rubric.jinja\nsource:\n"
                         f"  format: healthbench\n  path: {data.name}\n")
    task = load_task(str(task_path))
    out = folder / "results"
    with fake_model(Script([("fn", _reply)])) as url:
        panel = tuple(Judge(name, Endpoint(provider="openai", name=name, model=name, base_url=url, concurrency=2),
                            constrained=True) for name in judges)
        for name in MODELS:
            model = Endpoint(provider="openai", name=name, model=name, base_url=url, concurrency=2)
            config = RunConfig(model=model, judges=panel, out=out,
                               cache_path=folder / "cache.sqlite", progress=False)
            evaluate(task, config)
    return out
