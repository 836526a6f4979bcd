"""Difficulty tables as CSV files: ours, and AlpacaEval's own ``instruction_difficulty.csv``.

File I/O, kept out of stats/length_control.py so that module stays pure.

Ours has AlpacaEval's shape (a key column, then ``instruction_difficulty``) keyed by item id, the instruction
after them where known, and the prior and provenance in leading ``# key: value`` lines:

    # judgebench difficulty table
    # source: fitted on 40 model(s)
    # n_models: 40
    # length_sensitivity: -2.02
    # difficulty_weight: 1.14
    # prior_strength: 0.01 0.2
    item_id,instruction_difficulty,instruction
    3f1c...,0.731,"Write a haiku about ..."

AlpacaEval's (the tatsu-lab/alpaca_eval dataset on the Hugging Face Hub, not the GitHub repository) is
``index,instruction_difficulty``, keyed by the row's position in the 805-instruction evaluation set; reading it
needs that set's instructions in order. It records no prior, so AlpacaEval's own regularization stands in
(``ALPACA_EVAL_PRIOR``).
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..stats.length_control import (
    ALPACA_EVAL_PRIOR,
    ALPACA_EVAL_PRIOR_STRENGTH,
    DIFFICULTY_PRIOR,
    LENGTH_PRIOR,
    DifficultyTable,
)

MAGIC = "judgebench difficulty table"  # the first line: what the file is, for a reader who opens it
DIFFICULTY_COLUMN = "instruction_difficulty"


def write_difficulty_csv(table: DifficultyTable, path: str | Path,
                         instructions: Mapping[str, str] | None = None) -> None:
    """Write ``table`` (atomically: a temporary file, then a rename), with each item's instruction where
    ``instructions`` (item id -> text) has it, so the file can be checked and read by instruction too."""
    path = Path(path)
    out = io.StringIO()
    for line in (MAGIC, f"source: {table.source}", f"n_models: {'' if table.n_models is None else table.n_models}",
                 f"length_sensitivity: {float(table.length_sensitivity)!r}",  # float(): numpy scalars repr oddly
                 f"difficulty_weight: {float(table.difficulty_weight)!r}",
                 f"prior_strength: {float(table.prior_strength[0])!r} {float(table.prior_strength[1])!r}",
                 f"benchmark: {table.benchmark or ''}", f"judge: {table.judge or ''}",
                 f"baseline: {table.baseline or ''}"):
        out.write(f"# {' '.join(line.splitlines())}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["item_id", DIFFICULTY_COLUMN, "instruction"])
    for item, gamma in zip(table.item_ids, table.difficulty, strict=True):
        writer.writerow([item, repr(float(gamma)), (instructions or {}).get(item, "")])
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(out.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _split_header(text: str) -> tuple[dict[str, str], str, int]:
    """(``# key: value`` lines before the CSV header, the rest, how many lines were taken off)."""
    meta: dict[str, str] = {}
    n = 0
    while text.startswith("#"):
        line, _, text = text.partition("\n")
        key, sep, value = line.lstrip("#").strip().partition(":")
        if sep:
            meta[key.strip()] = value.strip()
        n += 1
    return meta, text, n


def read_difficulty_csv(path: str | Path, instruction_to_id: Callable[[str], str],
                        instructions: Sequence[str] | None = None) -> DifficultyTable:
    """A difficulty table from a CSV: ours (keyed by ``item_id``), one keyed by ``instruction`` (mapped with
    ``instruction_to_id``), or AlpacaEval's (keyed by position in the evaluation set: pass its
    ``instructions`` in order). Where our item_id and the instruction are both given they must agree."""
    path = Path(path)
    text = _read_text(path)
    meta, body, offset = _split_header(text)
    reader = csv.reader(io.StringIO(body, newline=""))
    header = next(reader, None)
    if not header:
        raise DataError(f"{path}: empty difficulty table")
    columns = [c.strip() for c in header]
    if DIFFICULTY_COLUMN in columns:
        value_at = columns.index(DIFFICULTY_COLUMN)
    elif len(columns) == 2:
        value_at = 1
    else:
        raise DataError(f"{path}:{offset + 1}: no {DIFFICULTY_COLUMN!r} column in {columns}")
    if "item_id" in columns:
        key = "item_id"
    elif "instruction" in columns:
        key = "instruction"
    elif instructions is None:
        raise DataError(f"{path}: keyed by AlpacaEval's row index ({columns[0]!r}): pass the evaluation set's "
                        "instructions in their order to map rows to items")
    else:
        key = "index"
    key_at = columns.index(key) if key != "index" else 0
    instruction_at = columns.index("instruction") if "instruction" in columns else None

    ids: list[str] = []
    values: list[float] = []
    for row in reader:
        where = f"{path}:{offset + reader.line_num}"
        if not row:
            continue
        try:
            value = float(row[value_at])
            raw_key = row[key_at]
        except (ValueError, IndexError) as exc:
            raise DataError(f"{where}: not a difficulty row ({exc})") from exc
        if not math.isfinite(value):
            raise DataError(f"{where}: difficulty {row[value_at]!r} is not a finite number")
        if key == "index":
            position = int(raw_key) if raw_key.strip().isdigit() else -1
            if instructions is None or not 0 <= position < len(instructions):
                raise DataError(f"{where}: index {raw_key!r} is not a row of the {len(instructions or [])} "
                                "instructions given")
            item = instruction_to_id(instructions[position])
        elif key == "instruction":
            item = instruction_to_id(raw_key)
        else:
            item = raw_key
            text_given = row[instruction_at] if instruction_at is not None and instruction_at < len(row) else ""
            if text_given and instruction_to_id(text_given) != item:
                raise DataError(f"{where}: item_id {item} is not the id of its instruction "
                                f"({instruction_to_id(text_given)}): written with another item identity?")
        ids.append(item)
        values.append(value)
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: the same item appears twice")
    if not ids:
        raise DataError(f"{path}: the difficulty table has no rows")

    difficulty = np.array(values, dtype=float)
    if "length_sensitivity" in meta:
        try:
            strength = [float(v) for v in meta.get("prior_strength", f"{LENGTH_PRIOR} {DIFFICULTY_PRIOR}").split()]
            if len(strength) != 2:
                raise ValueError(f"prior_strength needs two numbers, got {len(strength)}")
            return _checked(path, DifficultyTable(tuple(ids), difficulty, float(meta["length_sensitivity"]),
                                   int(meta["n_models"]) if meta.get("n_models") else None,
                                   meta.get("source") or str(path),
                                   difficulty_weight=float(meta.get("difficulty_weight", "1")),
                                   prior_strength=(strength[0], strength[1]),
                                   benchmark=meta.get("benchmark") or None, judge=meta.get("judge") or None,
                                   baseline=meta.get("baseline") or None))
        except ValueError as exc:
            raise DataError(f"{path}: bad header line ({exc}); expected '# length_sensitivity: <number>' etc.") \
                from exc
    # AlpacaEval's file records no prior: their gamed-baseline regularization, as a Gaussian, stands in.
    try:
        return _checked(path, DifficultyTable(tuple(ids), difficulty, ALPACA_EVAL_PRIOR[0], None,
                                              f"{path} (AlpacaEval format)", difficulty_weight=ALPACA_EVAL_PRIOR[1],
                                              prior_strength=ALPACA_EVAL_PRIOR_STRENGTH))
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc


def _checked(path: Path, table: DifficultyTable) -> DifficultyTable:
    try:
        table.check()
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc
    return table


def _read_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a difficulty table (not UTF-8 text: {exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise DataError(f"{path}: cannot read the difficulty table: {exc.strerror or exc}") from exc
    if not text.strip():
        raise DataError(f"{path}: the difficulty table is empty")
    return text


# AlpacaEval 2.0's own instruction difficulties, on the Hugging Face Hub (not in the GitHub repository), keyed by
# position in the 805-instruction evaluation set (the order of the alpaca-eval-2 task's items).
ALPACA_EVAL_DIFFICULTY_URL = ("https://huggingface.co/datasets/tatsu-lab/alpaca_eval/resolve/"
                              "2edc6fad8be6b14ea7230aabfd08188da6b8b814/instruction_difficulty.csv")
ALPACA_EVAL_DIFFICULTY_SHA256 = "e28d875bb334f75e17acd1e4ed659b261860e3db379cf5de29060301bed0a18b"
ALPACA_EVAL = "alpaca-eval"


def load_difficulty(spec: str | Path) -> DifficultyTable:
    """A difficulty table from ``spec``: a CSV path (ours, or AlpacaEval's format), or ``alpaca-eval`` for
    AlpacaEval's own table, downloaded once by URL and checked by sha256 (offline: a clear error). AlpacaEval's
    rows are positions in the evaluation set, whose instructions come from the built-in
    alpaca-eval-2-both-orders task (alpaca-eval-2's items, read without its protocol files)."""
    from ..tasks import load_task
    from ..tasks.fetch import resolve_data
    from .identity import instruction_id

    def evaluation_set() -> list[str]:
        return [item.turns[0] for item in load_task("alpaca-eval-2-both-orders").items]

    if str(spec) == ALPACA_EVAL:
        path = resolve_data(path=None, url=ALPACA_EVAL_DIFFICULTY_URL, sha256=ALPACA_EVAL_DIFFICULTY_SHA256,
                            where="--difficulty alpaca-eval",
                            offline_hint="download it by hand and pass its path: --difficulty FILE.csv")
        table = read_difficulty_csv(path, instruction_id, evaluation_set())
        return replace(table, benchmark=ALPACA_EVAL, judge="weighted_alpaca_eval_gpt4_turbo",
                       baseline="gpt4_1106_preview")
    path = Path(spec)
    return read_difficulty_csv(path, instruction_id, evaluation_set() if _keyed_by_position(path) else None)


def _keyed_by_position(path: Path) -> bool:
    """Whether a difficulty CSV names its rows by position (AlpacaEval's) rather than by item or instruction."""
    _, body, _ = _split_header(_read_text(path))
    header = next(csv.reader(io.StringIO(body, newline="")), [])
    return not {"item_id", "instruction"} & {c.strip() for c in header}
