"""Reading a task's YAML fast (issue 23) reads the same values: plain strings taken straight from their nodes, every
other node (numbers, booleans, nulls, tagged and quoted scalars, aliases, merge keys) built by PyYAML as before, and the
garbage collector, paused while a task is read, handed back as it was."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
import yaml

from judgebench.errors import TaskError
from judgebench.tasks import load_task
from judgebench.tasks.yamlsrc import SourcedDict, SourcedList, load_yaml

DOCUMENT = """\
name: t
plain: hello world
quoted: "a \\u00e9 \\t b"
single: 'it''s'
folded: >
  one
  two
literal: |
  keep
  lines
number: 12
float: 1.5
boolean: yes
null_value: ~
tagged_str: !!str 12
tagged_int: !!int "7"
date: 2024-01-02
base: &base {x: 1, y: "two"}
merged:
  <<: *base
  z: three
alias_list: &items [a, 1, b]
again: *items
nested:
  - id: q1
    turns: ["Hi", 3]
  - {id: q2, turns: [x]}
"quoted key": 'no'
'5': "true"
"""


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_the_values_are_pyyamls_own(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(DOCUMENT)
    found = load_yaml(path)
    assert isinstance(found, SourcedDict) and isinstance(found["nested"], SourcedList)
    expected = yaml.safe_load(DOCUMENT)
    assert _plain(found) == expected
    assert [type(v) for v in _plain(found).values()] == [type(v) for v in expected.values()]  # type: ignore[attr-defined]
    assert found["tagged_str"] == "12" and found["tagged_int"] == 7 and found["boolean"] is True
    assert found["merged"] == {"x": 1, "y": "two", "z": "three"}
    assert found["quoted key"] == "no" and found["5"] == "true"  # quoted: strings, whatever they spell
    assert found.where("plain") == f"{path}:2" and found["nested"].item_origins == [f"{path}:25", f"{path}:27"]
    assert found["nested"][0].where("turns") == f"{path}:26"


def test_reading_a_task_hands_the_garbage_collector_back_as_it_was(tmp_path: Path) -> None:
    assert gc.isenabled()
    load_task("sample-mt")
    assert gc.isenabled()
    gc.disable()
    try:
        load_task("sample-mt")
        assert not gc.isenabled()  # a caller's own choice is kept
    finally:
        gc.enable()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nkind: single\n")
    with pytest.raises(TaskError):
        load_task(str(bad))
    assert gc.isenabled()  # and after an error
