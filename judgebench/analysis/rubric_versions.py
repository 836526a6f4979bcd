"""Which version of a rubric each rubric judgment was judged against, and the results that mix versions.

A rubric's criteria are recorded with every judgment (each criterion's id, text, points, tags and scope); their
sha256 is the judgment's rubric fingerprint. Results of two versions of a task file must not be compared
silently: a criterion added at task level shifts the numbered ids of every item's own criteria (``c2`` of one
version is ``c3`` of the other), so per-criterion tables and the models' scores would line up different questions.
``mixed_versions`` finds, per benchmark and protocol, the items judged against more than one version; ``stats`` and
``rubric-report`` print its warnings. A score rubric's level descriptions are not recorded: a change to them alone
goes unseen.
"""

from __future__ import annotations

import hashlib

import orjson
import pandas as pd

# Hex digits of a fingerprint shown in a warning.
SHOWN = 12


def rubric_fingerprint(criteria: str) -> str:
    """The sha256 of a judgment's recorded criteria (its ``criteria`` column, JSON text) without their verdicts:
    what the judge was asked, in order."""
    asked = [[c["id"], c.get("text", ""), float(c["points"]), list(c.get("tags") or ()), c.get("scope", "item")]
             for c in orjson.loads(criteria)]
    return hashlib.sha256(orjson.dumps(asked)).hexdigest()


def mixed_versions(frame: pd.DataFrame) -> list[str]:
    """One warning line per (benchmark, protocol) whose rubric judgments disagree on an item's rubric, naming both
    versions (fingerprint and a run that holds each); none where every item was judged against one version."""
    if "criteria" not in frame:
        return []
    rubric = frame[frame["criteria"].notna()]
    if rubric.empty:
        return []
    runs = rubric["run_id"] if "run_id" in rubric else pd.Series("", index=rubric.index)
    work = pd.DataFrame({"benchmark": rubric["benchmark"], "protocol": rubric["protocol"].fillna(""),
                         "item_id": rubric["item_id"], "run_id": runs.fillna(""),
                         "fingerprint": [rubric_fingerprint(text) for text in rubric["criteria"]]})
    lines = []
    for (benchmark, protocol), group in work.groupby(["benchmark", "protocol"], sort=True):
        versions = group.groupby("item_id", sort=True)["fingerprint"].nunique()
        mixed = versions[versions > 1].index
        if not len(mixed):
            continue
        first = group[group["item_id"] == mixed[0]].drop_duplicates("fingerprint")
        (a, run_a), (b, run_b) = [(row.fingerprint[:SHOWN], row.run_id or "?")
                                  for row in first.iloc[:2].itertuples()]
        name = benchmark if protocol in ("", benchmark) else f"{benchmark} ({protocol})"
        lines.append(f"warning: {name}: {len(mixed)} item(s) judged "
                     f"against different versions of the rubric, e.g. {mixed[0]!r}: rubric {a} in run {run_a}, "
                     f"rubric {b} in run {run_b}; criterion ids and scores of different versions do not compare: "
                     "rejudge with one version of the task file")
    return lines
