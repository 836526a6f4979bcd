"""Rubric results on a HealthBench-sized run: 5,000 items x 3 models, 11 criteria each (HealthBench's 48,562
criteria over 5,000 conversations is about 10 per item), three tags, seven categories, DEFAULT_BOOTSTRAP
resamples, as `judgebench stats` and ``load().rubric`` compute them.

- judgments_frame: the judgments (with their criteria) as the judgments frame.
- criteria_frame: one row per judgment and criterion (formats.criteria).
- score_rows: the rubric kind's score rows (analysis.aggregate.RubricScore).
- rubric_tables: per criterion, tag, category and pair of models (analysis.rubric).

The machine is shared: each step runs in rounds and each figure is the best round's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from judgebench.analysis.rubric import rubric_tables
from judgebench.analysis.scores import score_rows
from judgebench.formats.criteria import criteria_frame
from judgebench.formats.table import judgments_frame
from judgebench.stats.rubric import rubric_score
from judgebench.stats.winrate import DEFAULT_BOOTSTRAP
from judgebench.types import CriterionVerdict, Judgment, JudgmentId, RubricVerdict

N_ITEMS, MODELS, N_CRITERIA, ROUNDS = 5_000, ("a", "b", "c"), 11, 2
TAGS = ("accuracy", "safety", "communication")


def simulated_judgments(seed: int = 0) -> list[Judgment]:
    """Every model's judgment of every item: a task-level criterion and item-level ones, one in four negative."""
    rng = np.random.default_rng(seed)
    found = []
    for skill, model in zip((0.7, 0.6, 0.5), MODELS, strict=True):
        for i in range(N_ITEMS):
            criteria = tuple(
                CriterionVerdict(f"c{k + 1}", bool(rng.random() < (skill if k % 4 else 1 - skill)),
                                 float(rng.choice((1, 2, 3, 5))) * (-1 if k % 4 == 3 else 1), (TAGS[k % 3],),
                                 f"criterion {k + 1} of item {i}", "task" if k == 0 else "item")
                for k in range(N_CRITERIA))
            score = rubric_score([(c.points, bool(c.met)) for c in criteria])
            found.append(Judgment(JudgmentId("healthbench-like", "p", "judge", model, None, f"q{i}", 1), "rubric",
                                  f"category-{i % 7}", RubricVerdict(criteria, score), scale=(0, 1)))
    return found


def _best(steps: dict[str, Callable[[], Any]]) -> dict[str, float]:
    best = {name: float("inf") for name in steps}
    for _ in range(ROUNDS):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> dict[str, Any]:
    judgments = simulated_judgments()
    frame = judgments_frame(judgments)
    seconds = _best({
        "judgments_frame": lambda: judgments_frame(judgments),
        "criteria_frame": lambda: criteria_frame(frame),
        "score_rows": lambda: score_rows(frame, DEFAULT_BOOTSTRAP),
        "rubric_tables": lambda: rubric_tables(frame, DEFAULT_BOOTSTRAP),
    })
    return {"judgments": len(judgments), "criteria": len(judgments) * N_CRITERIA, "bootstrap": DEFAULT_BOOTSTRAP,
            **{f"{name}_s": round(value, 3) for name, value in seconds.items()}}


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2))
