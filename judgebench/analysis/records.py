"""Judgments -> one DataFrame with one record per judgment.

Reading results is idempotent: the same judgment read twice (a command run twice, a run resumed after a kill,
two runs over the same cache, a file passed twice) counts once. A judgment is identified by (benchmark, judge,
model, opponent, item_id, turn); of several sources' records of it, the newest successful one is kept, or the
newest failure when none succeeded. "Newest" is the order of the sources: other harnesses' files in the
order given, then judgebench runs by creation time. Every command that reads results reports how many
records were superseded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..formats import Source, read_sources
from ..types import Judgment

# The columns every judgments frame has, whichever harness wrote the records.
COLUMNS = ["benchmark", "item_id", "category", "model", "judge", "turn", "kind", "score", "opponent", "verdict_ab",
           "verdict_ba", "preference", "error", "failure", "empty", "length", "opponent_length", "expected_score",
           "scale_low", "scale_high", "run_id"]
IDENTITY = ["benchmark", "judge", "model", "opponent", "item_id", "turn"]


@dataclass(frozen=True)
class JudgmentSet:
    """Deduplicated judgments and what deduplication did. ``n_read``: records read; ``n_superseded``: records
    replaced by a newer (or a successful) record of the same judgment."""

    frame: pd.DataFrame
    n_read: int
    n_superseded: int

    def describe(self) -> str:
        if not self.n_superseded:
            return f"{len(self.frame)} judgments"
        return (f"{len(self.frame)} judgments ({self.n_superseded} older or failed duplicate record(s) of the same "
                "judgments superseded: the newest successful one is kept)")


def frame_row(judgment: Judgment, run_id: str | None = None) -> tuple[object, ...]:
    """A judgment as one row of ``COLUMNS`` (raw text and calls left out)."""
    j = judgment
    return (j.benchmark, j.item_id, j.category, j.model, j.judge, j.turn, j.kind, j.score, j.opponent, j.verdict_ab,
            j.verdict_ba, j.preference, j.error, j.failure, j.empty, j.length, j.opponent_length, j.expected_score,
            j.scale[0] if j.scale else None, j.scale[1] if j.scale else None, run_id)


def frame_from_rows(rows: Sequence[tuple[object, ...]]) -> pd.DataFrame:
    """Rows made by ``frame_row`` as a DataFrame with ``COLUMNS`` and their types."""
    frame = pd.DataFrame.from_records(list(rows), columns=COLUMNS)
    for column in ("score", "preference", "length", "opponent_length", "expected_score", "scale_low", "scale_high"):
        frame[column] = frame[column].astype(float)
    frame["turn"] = frame["turn"].astype(int)
    frame["empty"] = frame["empty"].astype(bool)
    return frame


def judgments_frame(judgments: Iterable[Judgment], run_id: str | None = None) -> pd.DataFrame:
    """Judgments as a DataFrame, one row per record (raw text and calls left out), columns ``COLUMNS``."""
    return frame_from_rows([frame_row(j, run_id) for j in judgments])


def canonical_order(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame sorted by judgment identity (records of one judgment keep their order). Judgments finish in
    whatever order the servers answer; bootstrap intervals resample rows by position, so without one order the
    same judgments could give different intervals from one run, or one reading, to the next."""
    if frame.empty:
        return frame.reset_index(drop=True)
    keys = frame[IDENTITY].astype(object).where(frame[IDENTITY].notna(), "")
    keys["turn"] = frame["turn"]
    order = keys.sort_values(IDENTITY, kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def deduplicate(frame: pd.DataFrame, source: np.ndarray | Sequence[int]) -> tuple[pd.DataFrame, int]:
    """One record per judgment across sources (see the module doc). ``source``: each row's source, numbered
    oldest first. Of a judgment's records, those of the newest source with a successful one are kept (or of the
    newest source, when none succeeded). Records of the same judgment *within* one source are the source's own
    content (FastChat's files may grade a model twice) and stay, as that harness counts them. Returns the kept
    rows in their order and how many records were dropped."""
    if frame.empty:
        return frame.reset_index(drop=True), 0
    identity = frame[IDENTITY].astype(object).where(frame[IDENTITY].notna(), "").astype(str)
    keys = identity.groupby(IDENTITY, sort=False).ngroup().to_numpy()
    sources = pd.Series(np.asarray(source, dtype=int))
    ok = frame["error"].isna().to_numpy()
    newest_ok = sources[ok].groupby(keys[ok]).max()
    newest_any = sources.groupby(keys).max()
    chosen = newest_ok.reindex(newest_any.index).fillna(newest_any).astype(int)
    keep = sources.to_numpy() == chosen.reindex(keys).to_numpy()
    kept = frame[keep].reset_index(drop=True)
    return kept, len(frame) - len(kept)


def collect(sources: Sequence[Source]) -> JudgmentSet:
    """The sources' judgments, oldest source first, deduplicated."""
    frames = [judgments_frame(s.judgments, s.run_id) for s in sources]
    if not frames:
        return JudgmentSet(judgments_frame([]), 0, 0)
    numbers = np.concatenate([np.full(len(f), n) for n, f in enumerate(frames)])
    frame = pd.concat(frames, ignore_index=True)
    kept, superseded = deduplicate(frame, numbers)
    return JudgmentSet(canonical_order(kept), len(frame), superseded)


def order_sources(sources: list[Source]) -> list[Source]:
    """judgebench runs by creation time, after other harnesses' files (which carry no time) in the order given."""
    return sorted(sources, key=lambda s: (s.created is not None, s.created or ""))


def read_judgments(paths: Sequence[str | Path], fmt: str = "auto", questions: Path | None = None) -> JudgmentSet:
    """Every judgment in the given runs, results directories and other harnesses' files, one record each."""
    sources = [s for p in paths for s in read_sources(Path(p), fmt, questions)]
    result = collect(order_sources(sources))
    if result.frame.empty:
        raise DataError(f"no judgments in {', '.join(map(str, paths))}")
    return result
