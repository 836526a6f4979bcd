"""External data by URL with a sha256, or from a local path: the only place that downloads."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import DataError


def cache_dir() -> Path:
    root = os.environ.get("JUDGEBENCH_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "judgebench"
    )
    return Path(root)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


TASK_HINT = "download it by hand and set 'path:' in the task (or a task that includes it) to the local copy"


def resolve_data(*, path: Path | None, url: str | None, sha256: str | None, where: str,
                 offline_hint: str = TASK_HINT) -> Path:
    """A local file for a task's data: ``path`` if given, else ``url`` downloaded once and checked.

    ``where`` is the "file:line" of the task field, for messages.
    """
    if path is not None:
        if not path.exists():
            raise DataError(f"{where}: data file {path} does not exist")
        if sha256 and not path.name.endswith(".gz") and file_sha256(path) != sha256:
            raise DataError(f"{where}: {path} does not match sha256 {sha256}: wrong version of the file?")
        return path
    if not url:
        raise DataError(f"{where}: give a path or a url for the data")
    if not sha256:
        raise DataError(f"{where}: a url needs a sha256 so the download can be checked")
    target = cache_dir() / "data" / sha256 / url.rsplit("/", 1)[-1]
    if target.exists() and file_sha256(target) == sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            payload = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(
            f"{where}: cannot download {url} ({getattr(exc, 'reason', exc)}). Offline? {offline_hint[0].upper()}"
            f"{offline_hint[1:]}."
        ) from exc
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256:
        raise DataError(f"{where}: {url} has sha256 {actual}, expected {sha256}; not using it")
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        tmp.write(payload)
    os.replace(tmp.name, target)
    return target
