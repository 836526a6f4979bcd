"""The docs cannot drift from the code: the generated reference names every command, option and judgment column,
and the README stays a short guide with the two set-up commands. (`make docs` builds the site itself, strictly.)"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_reference", DOCS / "gen_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()


def _commands(path: str, command: click.Command) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(f"{path} {name}", sub)


def test_the_cli_reference_has_every_command_and_option() -> None:
    from judgebench.cli import main

    markdown = gen.cli_markdown()
    commands = list(_commands("judgebench", main))
    assert len(commands) >= 15
    for path, command in commands:
        section = markdown.split(f"`{path}`\n", 1)
        assert len(section) == 2, f"{path} is missing from the CLI reference"
        own = section[1].split("\n#", 1)[0]
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert any(opt in own for opt in param.opts), f"{path}: {param.opts} missing"


def test_the_column_reference_has_every_column_of_the_judgments_frame() -> None:
    from judgebench.formats.table import judgments_frame

    markdown = gen.columns_markdown()
    frame = judgments_frame([])
    assert len(frame.columns) >= 29
    documented = re.findall(r"^\| `([a-z_]+)` \|", markdown, flags=re.MULTILINE)
    assert documented == list(frame.columns)


def test_an_undocumented_column_fails_the_build(monkeypatch: pytest.MonkeyPatch) -> None:
    from judgebench.formats import table

    columns = tuple(dataclasses.replace(c, description="") if c.name == "margin_ab" else c
                    for c in table.JUDGMENT_COLUMNS)
    monkeypatch.setattr(table, "JUDGMENT_COLUMNS", columns)
    with pytest.raises(ValueError, match="without a description: \\['margin_ab'\\]"):
        gen.columns_markdown()


def test_the_column_reference_shows_the_schemas_types_and_descriptions() -> None:
    from judgebench.formats.table import JUDGMENT_COLUMNS

    markdown = gen.columns_markdown()
    for column in JUDGMENT_COLUMNS:
        row = next(line for line in markdown.splitlines() if line.startswith(f"| `{column.name}` |"))
        assert f"| {column.dtype} |" in row
        assert column.description.split("`")[0].split("|")[0][:20] in row


def test_every_generated_section_a_page_asks_for_exists() -> None:
    pages = {page: page.read_text(encoding="utf-8") for page in DOCS.rglob("*.md")}
    asked = {name for text in pages.values() for name in gen.MARKER.findall(text)}
    assert asked == set(gen.GENERATORS)
    with pytest.raises(ValueError, match="unknown generated section"):
        gen.render("<!-- generated: nothing -->")


def test_the_readme_is_a_short_guide_with_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) < 250
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("run", "test"):
        assert re.search(rf"^{target}: ", makefile, flags=re.MULTILINE), target
        assert re.search(rf"^make {target}\b", text, flags=re.MULTILINE), f"README lacks `make {target}`"


def test_the_readme_links_only_to_pages_that_exist() -> None:
    links = re.findall(r"\]\((docs/[^)#]+)", README.read_text(encoding="utf-8"))
    assert links
    for link in links:
        assert (ROOT / link).is_file(), link


def test_every_option_of_every_command_says_what_it_does() -> None:
    undocumented = [f"{path} {param.opts[0]}" for path, command in gen.cli_commands() for param in command.params
                    if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip()]
    assert undocumented == []


def test_the_rubric_kind_is_introduced_where_a_reader_starts() -> None:
    readme, index = README.read_text(), (DOCS / "index.md").read_text()
    assert "`rubric`" in readme and "(docs/rubrics.md)" in readme and len(readme.splitlines()) < 250
    assert "kind: rubric" in index and "(rubrics.md)" in index
    # The styles are points, checklist and score: no "rubric" style in what describes them.
    from judgebench.judging import rubric

    template = (ROOT / "judgebench" / "builtin" / "prompts" / "rubric.jinja").read_text()
    assert 'style ("points",' in template and "``rubric`` (" not in (rubric.__doc__ or "")
