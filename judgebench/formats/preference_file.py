"""A preference dataset's file (analysis.preferences): JSONL, one pair a line, or Parquet (through pyarrow, the
`parquet` extra), by the name's ending. Written whole or not at all (a temporary file beside it, renamed), and an
existing file is replaced only when asked."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError

PYARROW_HINT = "Parquet needs pyarrow: pip install 'judgebench[parquet]'"


def _write_jsonl(rows: Sequence[Mapping[str, Any]], path: str) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _message_type() -> Any:
    import pyarrow as pa

    return pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def _write_parquet(rows: Sequence[Mapping[str, Any]], path: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # The types are spelt out (messages, or strings for the standard format), so every file of one layout has one
    # schema, the one datasets.load_dataset gives TRL's columns, whatever the first rows hold.
    text = pa.string() if rows and isinstance(rows[0]["chosen"], str) else _message_type()
    types = {"prompt": text, "chosen": text, "rejected": text, "margin": pa.float64(), "turn": pa.int64(),
             "orders": pa.int64()}
    names = list(rows[0]) if rows else list(types)
    schema = pa.schema([(name, types.get(name, pa.string())) for name in names])
    pq.write_table(pa.Table.from_pylist(list(rows), schema=schema), path)


WRITERS: Mapping[str, Callable[[Sequence[Mapping[str, Any]], str], None]] = {
    ".jsonl": _write_jsonl, ".parquet": _write_parquet}


def check_out(out: Path, force: bool) -> None:
    """A one-line error, before any work, where ``out`` cannot be written: an unknown ending, an existing file
    without ``force``, pyarrow missing for Parquet."""
    if out.suffix not in WRITERS:
        raise ConfigError(f"{out}: the output must end in {' or '.join(WRITERS)}")
    if out.exists() and not force:
        raise ConfigError(f"{out} exists: pass --force to replace it")
    if out.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:
            raise ConfigError(PYARROW_HINT) from exc


def _file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _place(tmp: Path, out: Path, force: bool) -> None:
    """Move the finished file to ``out``. Without ``force`` a hard link, which fails where ``out`` exists, so a
    file that appeared while writing is not replaced either (a folder without hard links: checked, then renamed)."""
    if force:
        os.replace(tmp, out)
        return
    try:
        os.link(tmp, out)
    except FileExistsError as exc:
        raise ConfigError(f"{out} exists: pass --force to replace it") from exc
    except OSError:
        if out.exists():
            raise ConfigError(f"{out} exists: pass --force to replace it") from None
        os.replace(tmp, out)
        return
    os.unlink(tmp)


def write_preferences(rows: Sequence[Mapping[str, Any]], out: Path, force: bool = False) -> Path:
    """``rows`` (PreferencePair.row) to ``out``: whole or not at all, never over an existing file unless
    ``force``."""
    check_out(out, force)
    if not out.parent.is_dir():
        raise DataError(f"{out}: no folder {out.parent}")
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp", delete=False) as tmp:
            tmp_name = tmp.name
        WRITERS[out.suffix](rows, tmp_name)
        os.chmod(tmp_name, _file_mode())  # a temporary file is private; the dataset gets the usual permissions
        _place(Path(tmp_name), out, force)
    finally:
        if tmp_name is not None and os.path.exists(tmp_name):
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return out


def read_preferences(path: Path) -> list[dict[str, Any]]:
    """A preference file's rows as written (JSONL, or Parquet through pyarrow)."""
    if path.suffix == ".parquet":
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ConfigError(PYARROW_HINT) from exc
        return list(pq.read_table(path).to_pylist())
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
