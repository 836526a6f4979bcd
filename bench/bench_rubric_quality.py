"""`judgebench rubric-report`'s tables (analysis.rubric_quality) on a HealthBench-sized rubric: how long the panel
agreement per criterion, the constants and the label agreement take, with the default 1,000 resamples.

A synthetic per-criterion frame: ITEMS items, each with 2 task-level and ITEM_CRITERIA item-level criteria, MODELS
models' answers, JUDGES judges (Fleiss' kappa), human labels for one model.

    python bench/bench_rubric_quality.py [--items N]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import pandas as pd

from judgebench.analysis.rubric_quality import rubric_quality
from judgebench.constants import DEFAULT_BOOTSTRAP
from judgebench.formats.criteria import CRITERIA_COLUMN_NAMES

ITEM_CRITERIA, MODELS, JUDGES = 10, 4, 3


def synthetic(n_items: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for i in range(n_items):
        item = f"q{i}"
        criteria = [("on-topic", "task"), ("concise", "task"),
                    *((f"c{n}", "item") for n in range(3, 3 + ITEM_CRITERIA))]
        for m in range(MODELS):
            for ident, scope in criteria:
                truth = bool(rng.random() < 0.6)
                key = ident if scope == "task" else f"{item}/{ident}"
                for j in range(JUDGES):
                    met = truth if rng.random() < 0.85 else not truth
                    rows.append(("bench", "proto", f"j{j}", f"m{m}", item, "general", 1, ident, key, f"text {key}",
                                 1.0, "", scope, met, None, False, False))
                if m == 0:
                    labels.append((None, item, f"m{m}", None, ident, truth, None))
    frame = pd.DataFrame(rows, columns=CRITERIA_COLUMN_NAMES).astype({"met": "boolean", "level": "Int64"})
    found = pd.DataFrame(labels, columns=["benchmark", "item_id", "model", "turn", "criterion", "met", "voter"])
    return frame, found


def main(n_items: int = 300) -> dict[str, Any]:
    frame, labels = synthetic(n_items)
    start = time.perf_counter()
    quality = rubric_quality(frame, labels, n_bootstrap=DEFAULT_BOOTSTRAP)
    seconds = time.perf_counter() - start
    return {"items": n_items, "verdicts": len(frame), "criteria": int(frame["key"].nunique()),
            "judges": JUDGES, "models": MODELS, "bootstrap": DEFAULT_BOOTSTRAP, "panel_rows": len(quality.panel),
            "label_rows": 0 if quality.labels is None else len(quality.labels), "seconds": round(seconds, 2)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=300)
    print(json.dumps(main(parser.parse_args().items), indent=2))
