"""Large task files kept by content (tasks.yaml_cache): read back from the cache they give the very values, lines,
Task and errors that parsing gives; an entry that is damaged, tampered with or of another file is a miss, never an
error; a file the parser refuses is never kept; the cache stays within its bounds."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

import msgspec
import pytest

from judgebench.errors import TaskError
from judgebench.tasks import load_task, yaml_cache
from judgebench.tasks.yamlsrc import SourcedDict, SourcedList, load_yaml


def _task(folder: Path, n_items: int = 800, extra: str = "", name: str = "task.yaml") -> Path:
    """A single-grading task of ``n_items`` inline items (large enough to be kept: over MIN_BYTES)."""
    lines = ["name: cached", "kind: single", "judge:", "  prompt: single.jinja", "  scale: [1, 10]", "items:"]
    for i in range(n_items):
        lines += [f"  - id: q{i}", "    category: writing", "    reference: [\"ref\", 2, 1.5, yes]", "    turns:",
                  f"      - 'Question {i}: write two sentences about the number {i}, at length and with care.'"]
    path = folder / name
    path.write_text("\n".join(lines) + "\n" + extra)
    assert path.stat().st_size >= yaml_cache.MIN_BYTES
    return path


def _entries(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "jb-cache" / "tasks"
    return sorted(folder.glob(f"*{yaml_cache.SUFFIX}")) if folder.is_dir() else []


def _same(a: Any, b: Any) -> None:
    """Equal values of the same types, with the same lines for every mapping, key and list element."""
    assert type(a) is type(b)
    if isinstance(a, SourcedDict):
        assert (a.origin, a.key_origins, list(a)) == (b.origin, b.key_origins, list(b))
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, SourcedList):
        assert (a.origin, a.item_origins, len(a)) == (b.origin, b.item_origins, len(b))
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:
        assert a == b


def test_a_kept_file_reads_back_the_same_values_lines_and_task(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = _task(tmp_path)
    parsed = load_yaml(path.resolve())
    first = load_task(str(path))
    assert len(_entries(tmp_path)) == 1
    kept = yaml_cache.get(path.read_bytes(), str(path.resolve()))
    assert kept is not None
    _same(parsed, kept)
    monkeypatch.setattr(yaml_cache, "parse_yaml", None)  # read back, not parsed again
    assert load_task(str(path)) == first  # the same Task, items' file:line included
    assert first.items[3].source == f"{path.resolve()}:{7 + 5 * 3}"


def test_a_small_file_is_not_kept(tmp_path: Path) -> None:
    load_task(str(_task(tmp_path, 800, name="big.yaml")))
    small = tmp_path / "small.yaml"
    small.write_text("name: s\nkind: single\njudge: {prompt: single.jinja}\nitems:\n  - {id: a, turns: [hi]}\n")
    load_task(str(small))
    assert len(_entries(tmp_path)) == 1


def test_an_error_the_loader_finds_is_the_same_from_the_cache(tmp_path: Path) -> None:
    # Valid YAML (kept), a wrong task: the loader's checks run on the kept values as on parsed ones.
    path = _task(tmp_path, extra="  - id: last\n    category: writing\n")
    messages = []
    for _ in range(2):
        with pytest.raises(TaskError) as caught:
            load_task(str(path))
        messages.append(str(caught.value))
    assert len(_entries(tmp_path)) == 1
    assert messages[0] == messages[1] == f"{path.resolve()}:{7 + 5 * 800}: item is missing 'turns'"


def test_a_file_the_parser_refuses_is_never_kept(tmp_path: Path) -> None:
    path = _task(tmp_path, extra="  - id: [unclosed\n")
    messages = []
    for _ in range(2):
        with pytest.raises(TaskError) as caught:
            load_task(str(path))
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and "YAML syntax error" in messages[0]
    assert _entries(tmp_path) == []


def test_a_changed_file_is_parsed_again(tmp_path: Path) -> None:
    path = _task(tmp_path)
    load_task(str(path))
    path.write_text(path.read_text().replace("name: cached", "name: changed"))
    assert load_task(str(path)).name == "changed"
    assert len(_entries(tmp_path)) == 2


def test_a_file_of_the_same_bytes_elsewhere_names_its_own_lines(tmp_path: Path) -> None:
    a = _task(tmp_path, name="a.yaml")
    b = tmp_path / "b.yaml"
    b.write_bytes(a.read_bytes())
    assert load_task(str(a)).items[0].source.startswith(f"{a.resolve()}:")
    assert load_task(str(b)).items[0].source.startswith(f"{b.resolve()}:")


def test_a_mapping_or_list_shared_by_an_alias_is_not_kept(tmp_path: Path) -> None:
    # Rebuilt, the two places would hold copies of what the parser gives as one object: parsed every time. A string
    # an alias repeats is a value like any other, and is kept.
    shared = _task(tmp_path, name="shared.yaml", extra="base: &b {x: 1}\nother: *b\n")
    assert yaml_cache.load_yaml(shared.resolve())["other"] == {"x": 1}
    assert _entries(tmp_path) == []
    text = _task(tmp_path, name="text.yaml", extra="description: &d the same\nbenchmark: *d\n")
    assert yaml_cache.load_yaml(text.resolve())["benchmark"] == "the same"
    assert len(_entries(tmp_path)) == 1
    assert yaml_cache.get(text.read_bytes(), str(text.resolve()))["benchmark"] == "the same"  # type: ignore[index]


def test_a_date_or_other_typed_value_is_not_kept(tmp_path: Path) -> None:
    path = _task(tmp_path, extra="description: 2024-01-02\n")
    assert yaml_cache.load_yaml(path.resolve())["description"].isoformat() == "2024-01-02"
    assert _entries(tmp_path) == []


def _rewrite(entry: Path, change: Any) -> None:
    """Replace an entry's content by ``change(key, values)``, with a valid checksum (tampered, not damaged)."""
    key, values = msgspec.msgpack.decode(entry.read_bytes()[32:])
    payload = msgspec.msgpack.encode(change(key, values))
    entry.write_bytes(hashlib.sha256(payload).digest() + payload)


def _bad_list(_key: str, values: list[Any]) -> list[Any]:
    return [_key, [0, 1, "items", 6, [1, 6, 7]]]  # a list with a line and no element


def _deep(key: str, values: list[Any]) -> list[Any]:
    nested: list[Any] = [1, 1, 1, "x"]
    for _ in range(500):
        nested = [1, 1, 1, nested]
    return [key, [0, 1, "items", 6, nested]]


@pytest.mark.parametrize("damage", [
    lambda entry: entry.write_bytes(entry.read_bytes()[:-10]),  # truncated
    lambda entry: entry.write_bytes(entry.read_bytes()[:100] + b"X" + entry.read_bytes()[101:]),  # a flipped byte
    lambda entry: entry.write_bytes(b""),
    lambda entry: _rewrite(entry, lambda key, values: ["0" * 64, values]),  # another file's key
    lambda entry: _rewrite(entry, lambda key, values: [key, [0, 1, "name", "one", "x"]]),  # a line that is text
    lambda entry: _rewrite(entry, lambda key, values: [key, [0, 1, "a", 2, 1, "a", 3, 2]]),  # a key twice
    lambda entry: _rewrite(entry, lambda key, values: [key, [0, 1, "a", 2, {"b": 1}]]),  # a msgpack map
    lambda entry: _rewrite(entry, lambda key, values: [key, [1, 1, 2, "x"]]),  # a list, not a mapping
    lambda entry: _rewrite(entry, _bad_list),
    lambda entry: _rewrite(entry, _deep),
    lambda entry: _rewrite(entry, lambda key, values: [key, values, "more"]),
], ids=["truncated", "flipped-byte", "empty", "other-key", "text-line", "key-twice", "map", "not-mapping",
        "bad-list", "too-deep", "extra-field"])
def test_a_damaged_or_tampered_entry_is_a_miss(tmp_path: Path, damage: Any) -> None:
    path = _task(tmp_path)
    expected = load_task(str(path))
    [entry] = _entries(tmp_path)
    damage(entry)
    assert yaml_cache.get(path.read_bytes(), str(path.resolve())) is None
    assert load_task(str(path)) == expected  # parsed again (and kept again)
    assert yaml_cache.get(path.read_bytes(), str(path.resolve())) is not None


def test_the_cache_keeps_at_most_its_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_cache, "MAX_ENTRIES", 3)
    for i in range(5):
        load_task(str(_task(tmp_path, name=f"t{i}.yaml")))
    assert len(_entries(tmp_path)) == 3


def test_the_cache_can_be_turned_off_and_cannot_fail_a_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _task(tmp_path)
    monkeypatch.setenv(yaml_cache.ENV_VAR, "off")
    load_task(str(path))
    assert _entries(tmp_path) == []
    monkeypatch.delenv(yaml_cache.ENV_VAR)
    (tmp_path / "jb-cache").write_text("a file where the cache's folder would be")  # nothing can be written
    assert load_task(str(path)).name == "cached"


def _get_within(path: Path, seconds: float = 20.0) -> tuple[bool, Any]:
    """yaml_cache.get of ``path``'s file, in a thread: (whether it returned within ``seconds``, what it returned)."""
    found: list[Any] = []
    worker = threading.Thread(target=lambda: found.append(yaml_cache.get(path.read_bytes(), str(path.resolve()))),
                              daemon=True)
    worker.start()
    worker.join(seconds)
    return not worker.is_alive(), found[0] if found else None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_in_an_entrys_place_is_a_miss_not_a_wait(tmp_path: Path) -> None:
    path = _task(tmp_path)
    expected = load_task(str(path))
    [entry] = _entries(tmp_path)
    entry.unlink()
    os.mkfifo(entry)  # no writer ever opens it: a blocking open would wait for ever
    returned, found = _get_within(path)
    assert returned and found is None
    assert load_task(str(path)) == expected


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="/dev/zero")
def test_an_endless_file_in_an_entrys_place_is_a_miss_not_read(tmp_path: Path) -> None:
    path = _task(tmp_path)
    expected = load_task(str(path))
    [entry] = _entries(tmp_path)
    entry.unlink()
    entry.symlink_to("/dev/zero")  # would be read until memory runs out
    returned, found = _get_within(path)
    assert returned and found is None
    assert load_task(str(path)) == expected


def test_an_entry_larger_than_any_file_could_make_is_a_miss_not_read(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = _task(tmp_path)
    expected = load_task(str(path))
    [entry] = _entries(tmp_path)
    most = yaml_cache.most_bytes(path.stat().st_size)
    assert entry.stat().st_size <= most
    with entry.open("ab") as out:  # (sparse: no disk used)
        out.truncate(most + 1)
    monkeypatch.setattr(Path, "read_bytes", None)  # (the entry is not read whole to find out)
    assert yaml_cache.get(path.open("rb").read(), str(path.resolve())) is None
    monkeypatch.undo()
    assert load_task(str(path)) == expected


def test_a_file_whose_aliases_expand_to_the_most_allowed_is_still_kept(tmp_path: Path) -> None:
    """most_bytes bounds every entry a file the parser accepts can make: the largest expansion, the smallest
    elements."""
    text = "x: &a '" + "y" * 900 + "'\n" + "many: [" + ", ".join(["*a"] * 1_000) + "]\n" \
        + "few: [" + ",".join(["{}"] * 30_000) + "]\n"
    path = tmp_path / "expanded.yaml"
    path.write_text(text)
    parsed = load_yaml(path.resolve())
    yaml_cache.load_yaml(path.resolve())
    [entry] = _entries(tmp_path)
    assert entry.stat().st_size > len(text)
    kept = yaml_cache.get(path.read_bytes(), str(path.resolve()))
    assert kept is not None
    _same(parsed, kept)


@pytest.mark.parametrize("module_name", ["judgebench.tasks.yamlsrc", "judgebench.formats.common"])
def test_the_key_changes_with_the_code_that_reads_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          module_name: str) -> None:
    # The code that turns a file into its values (the parser, and formats.common's decode of its bytes) is part of
    # the key: an entry written by other code is another key, never read as this code's values.
    import importlib

    module = importlib.import_module(module_name)
    yaml_cache._code.cache_clear()
    before = yaml_cache._code()
    edited = tmp_path / "edited.py"
    edited.write_bytes(Path(str(module.__file__)).read_bytes() + b"\n# edited\n")
    monkeypatch.setattr(module, "__file__", str(edited))
    yaml_cache._code.cache_clear()
    try:
        assert yaml_cache._code() != before
    finally:
        monkeypatch.undo()
        yaml_cache._code.cache_clear()
    assert yaml_cache._code() == before
