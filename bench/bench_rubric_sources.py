"""Reading rubric benchmark files (formats.healthbench / formats.wildbench): time and memory.

1. A HealthBench-sized file written here in the published layout (5,000 conversations, about 10 criteria each,
   about half with earlier turns; no real HealthBench file is at hand): seconds to load it as a task, and the
   process's peak memory over a fresh interpreter that imported judgebench, each in a fresh process.
2. A hostile file whose second line is one 128 MB string: seconds to the refusal and the growth of peak memory,
   read line by line (what the readers do) and read whole (formats.common.iter_jsonl, what the other sources do),
   in the same run.
3. The site's rubric page (publish.rubric_page) on bench_rubric's HealthBench-sized run (15,000 judgments, 11
   criteria each): seconds to compute the rubric-quality tables the page shows (analysis.rubric_quality, as the
   site does), seconds to write the page and its CSVs from the rubric and rubric-quality tables, and their sizes.

    python bench/bench_rubric_sources.py
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

N_ITEMS = 5000
HUGE_LINE = 128 * 2**20

_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import judgebench.tasks, judgebench.formats.conversations as conv, judgebench.formats.common as common
from judgebench.errors import JudgebenchError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
what, path = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
outcome = "ok"
try:
    if what == "task":
        task = judgebench.tasks.load_task(str(path))
        outcome = f"{len(task.items)} items, {sum(len(i.criteria) for i in task.items)} criteria"
    elif what == "stream":
        for _ in conv.stream_jsonl(path, what="a line"):
            pass
    else:
        for _ in common.iter_jsonl(path):
            pass
except JudgebenchError as exc:
    outcome = "refused: " + str(exc)[-60:]
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": round(seconds, 3), "peak_growth_mb": round((after - before) / 1024, 1),
                  "outcome": outcome}))
"""


def _example(rng: random.Random, n: int) -> dict[str, Any]:
    words = ["the", "patient", "reports", "pain", "fever", "dizziness", "since", "yesterday", "after", "a", "fall",
             "with", "no", "history", "of"]

    def text(k: int) -> str:
        return " ".join(rng.choice(words) for _ in range(k))

    prompt = [{"role": "user", "content": text(80)}]
    if rng.random() < 0.5:
        for _ in range(rng.choice((1, 2))):
            prompt += [{"role": "assistant", "content": text(150)}, {"role": "user", "content": text(60)}]
    rubrics = [{"criterion": text(25), "points": rng.choice((-8, -5, -2, 2, 3, 5, 7, 10)),
                "tags": [f"axis:{rng.choice(('accuracy', 'completeness', 'communication'))}", "level:example"]}
               for _ in range(rng.randint(6, 14))]
    rubrics.append({"criterion": text(20), "points": 5, "tags": ["axis:accuracy"]})
    return {"prompt": prompt, "rubrics": rubrics, "prompt_id": f"hb-{n}",
            "example_tags": [f"theme:{rng.choice(('emergency_referrals', 'hedging', 'context_seeking'))}"]}


def _child(what: str, path: Path) -> dict[str, Any]:
    found = subprocess.run([sys.executable, "-c", _CHILD, what, str(path)], capture_output=True, text=True,
                           cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=True)
    return dict(json.loads(found.stdout))


def _page(folder: Path) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_rubric import simulated_judgments

    from judgebench.analysis.rubric import rubric_tables
    from judgebench.analysis.rubric_quality import judgments_quality
    from judgebench.formats.table import judgments_frame
    from judgebench.publish import rubric_page

    frame = judgments_frame(simulated_judgments())
    tables = rubric_tables(frame)
    start = time.perf_counter()
    quality = judgments_quality(frame)
    quality_s = time.perf_counter() - start
    data = folder / "data"
    data.mkdir()
    start = time.perf_counter()
    page = rubric_page.render(rubric_page.groups(tables, data), 1000, rubric_page.quality_groups(quality, data),
                              site_title="bench", build_date="-", build_date_source="-",
                              viewer_href=lambda *args, **kwargs: "viewer.html")
    return {"criterion_rows": len(tables.criteria), "quality_seconds": round(quality_s, 2),
            "seconds": round(time.perf_counter() - start, 2), "page_kb": len(page) // 1024,
            "csv_mb": round(sum(f.stat().st_size for f in data.iterdir()) / 2**20, 1)}


def main() -> dict[str, Any]:
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "healthbench.jsonl"
        with data.open("w") as fh:
            for n in range(N_ITEMS):
                fh.write(json.dumps(_example(rng, n)) + "\n")
        task = folder / "task.yaml"
        task.write_text("name: hb\nkind: rubric\njudge: {prompt: rubric.jinja}\n"
                        "source: {format: healthbench, path: healthbench.jsonl}\n")
        results: dict[str, Any] = {"healthbench_sized": {"file_mb": round(data.stat().st_size / 2**20, 1),
                                                         **_child("task", task)}}
        hostile = folder / "hostile.jsonl"
        with hostile.open("w") as fh:
            fh.write(json.dumps(_example(rng, 0)) + "\n")
            fh.write('{"prompt_id": "' + "x" * HUGE_LINE + '"}\n')
        results["hostile_128mb_line"] = {"line_by_line": _child("stream", hostile),
                                         "whole_file": _child("whole", hostile)}
        results["site_rubric_page_healthbench_size"] = _page(folder)
    return results


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
