"""The files behind ``judgebench.load()``: each judgebench run directory's config and answers read as rows (the
judgments are read by the format readers, as for every command), and the notebook's tables written as Parquet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError
from . import ParsedSource
from . import judgebench as ours


def run_rows(sources: Iterable[ParsedSource]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(one row per run, one row per answer) of the sources that are judgebench runs, in the sources' order."""
    runs, answers = [], []
    for source in sources:
        if source.run_id is None:
            continue
        config, candidates, _ = ours.load_run(Path(source.label))
        task = config.get("task", {})
        runs.append({"run_id": source.run_id, "benchmark": task.get("benchmark"), "task": task.get("name"),
                     "kind": task.get("kind"), "model": (config.get("model") or {}).get("name"),
                     "judges": tuple(j["name"] for j in config.get("judges", [])), "created": config.get("created")})
        answers += [{"run_id": source.run_id, "benchmark": c.benchmark, "item_id": c.item_id, "model": c.model,
                     "turns": c.turns, "error": c.error} for c in candidates]
    return runs, answers


def write_parquet(frames: Mapping[str, pd.DataFrame], out: Path) -> list[Path]:
    """Each frame as ``out/<name>.parquet`` (needs pyarrow: pip install 'judgebench[parquet]')."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ConfigError("Parquet export needs pyarrow: pip install 'judgebench[parquet]'") from exc
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in frames.items():
        path = out / f"{name}.parquet"
        frame.to_parquet(path, index=False)
        written.append(path)
    return written
