"""The reference pages that the code can write: the command line, the judgment columns and the judges' profile
columns.

An mkdocs hook (``hooks:`` in mkdocs.yml): a page holding ``<!-- generated: NAME -->`` gets the Markdown that
``GENERATORS[NAME]`` writes, at every build, so the pages cannot drift from the code. The tests call the same
functions (tests/test_docs.py). The judgment columns, their types and descriptions come from the one schema,
judgebench.formats.table.JUDGMENT_COLUMNS; a column without a description fails the build.
"""

from __future__ import annotations

import html
import inspect
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

MARKER = re.compile(r"<!-- generated: ([a-z-]+) -->")


# --- judgment columns --------------------------------------------------------------------------------------------

def judgment_columns() -> list[tuple[str, str, str | None]]:
    """(name, type, description or None) of every judgments-frame column, in frame order.

    The ONE place that says where the columns come from: repoint it when the schema moves. A column given as an
    object with ``name`` (and ``description`` / ``dtype``) is read as such, so a typed schema needs no other
    change here."""
    from judgebench.formats.table import JUDGMENT_COLUMNS

    return [(column.name, column.dtype, column.description or None) for column in JUDGMENT_COLUMNS]


def columns_markdown() -> str:
    """The judgment columns as a table; a column without a description is an error."""
    columns = judgment_columns()
    missing = [name for name, _, doc in columns if not doc]
    if missing:
        raise ValueError(f"judgebench/formats/table.py: judgment columns without a description: {missing}; "
                         "say what each holds in its Column(...)")
    lines = [f"The {len(columns)} columns of every judgments frame, in order, whichever harness wrote the records.",
             "", "| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {dtype} | {_cell(doc or '')} |" for name, dtype, doc in columns]
    return "\n".join(lines) + "\n"


def profile_columns_markdown() -> str:
    """The columns of `judgebench judges` without labels (analysis.judge_profiles.PROFILE_COLUMNS)."""
    from judgebench.analysis.judge_profiles import PROFILE_COLUMNS

    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.dtype} | {_cell(c.description)} |" for c in PROFILE_COLUMNS]
    return "\n".join(lines) + "\n"


# --- command line ------------------------------------------------------------------------------------------------

def cli_commands() -> list[tuple[str, click.Command]]:
    """Every command of ``judgebench`` with its full name (``judgebench arena serve``), groups included."""
    from judgebench.cli import main

    return list(_walk("judgebench", main))


def _walk(path: str, command: click.Command) -> Iterator[tuple[str, click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _walk(f"{path} {name}", command.commands[name])


def _text(text: str) -> str:
    """Help text as Markdown: ``<host>`` or ``<title>`` outside code spans is text, never markup."""
    parts = text.split("`")
    parts[::2] = [html.escape(part, quote=False) for part in parts[::2]]
    return "`".join(parts)


def _cell(text: str) -> str:
    return _text(" ".join(text.split())).replace("|", "\\|")


def _command_markdown(path: str, command: click.Command) -> list[str]:
    ctx = click.Context(command, info_name=path, **command.context_settings)
    depth = path.count(" ")
    lines = [f"{'#' * min(depth + 1, 4)} `{path}`", ""]
    if command.help:
        text = inspect.cleandoc(click.unstyle(command.help))
        lines += [_text(line) for line in text.splitlines() if line.strip() != "\b"] + [""]
    lines += ["```", f"Usage: {path} {' '.join(command.collect_usage_pieces(ctx))}".rstrip(), "```", ""]
    # Arguments are in the usage line; -h/--help is on every command.
    help_option = command.get_help_option(ctx)
    options = [record for param in command.get_params(ctx) if isinstance(param, click.Option)
               and param is not help_option for record in [param.get_help_record(ctx)] if record]
    if options:
        lines += ["| option | meaning |", "|---|---|"]
        # Python-Markdown's tables leave a pipe inside a code span alone: option names stay as click prints them.
        lines += [f"| `{' '.join(names.split())}` | {_cell(help_text)} |" for names, help_text in options]
        lines.append("")
    if isinstance(command, click.Group):
        lines += ["Commands: " + ", ".join(f"`{name}`" for name in sorted(command.commands)), ""]
    return lines


def cli_markdown() -> str:
    """Every command's help, usage and options, as `judgebench COMMAND --help` prints them."""
    lines: list[str] = []
    for path, command in cli_commands():
        lines += _command_markdown(path, command)
    return "\n".join(lines)


def criteria_columns_markdown() -> str:
    """The columns of the per-criterion frame of rubric judgments (formats.criteria.CRITERIA_COLUMNS)."""
    from judgebench.formats.criteria import CRITERIA_COLUMNS

    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.dtype} | {_cell(c.description)} |" for c in CRITERIA_COLUMNS]
    return "\n".join(lines) + "\n"


GENERATORS: dict[str, Callable[[], str]] = {"cli": cli_markdown, "judgment-columns": columns_markdown,
                                             "judge-profile-columns": profile_columns_markdown,
                                             "criteria-columns": criteria_columns_markdown}


def render(markdown: str) -> str:
    """``markdown`` with each ``<!-- generated: NAME -->`` replaced by its generator's output."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise ValueError(f"docs: unknown generated section {name!r}; known: {sorted(GENERATORS)}")
        return GENERATORS[name]()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Sequence[Any]) -> str:
    """mkdocs hook: fill the generated sections; any error fails the build (a ``PluginError``)."""
    from mkdocs.exceptions import PluginError

    try:
        return render(markdown)
    except Exception as exc:  # an import or schema error is the build's failure, said in one line
        raise PluginError(f"{page.file.src_path}: {exc}") from exc
