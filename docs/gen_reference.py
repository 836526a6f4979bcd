"""The reference pages that the code can write: the command line and the judgment columns.

An mkdocs hook (``hooks:`` in mkdocs.yml): a page holding ``<!-- generated: NAME -->`` gets the Markdown that
``GENERATORS[NAME]`` writes, at every build, so the pages cannot drift from the code. The tests call the same
functions (tests/test_docs.py). A judgment column without a description, or a description of a column the code
no longer has, fails the build: say what a new column means here, once.
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

# What each column of a judgments frame (`judgebench.load(...).judgments`, `judgebench export`) means.
COLUMN_DOCS: dict[str, str] = {
    "benchmark": "The benchmark's canonical name (`mt-bench`, `alpaca-eval`, `arena-hard`, ...), the same whichever "
                 "harness wrote the file.",
    "item_id": "The item's canonical id: MT-Bench's `question_id`; for AlpacaEval, the first 16 hex digits of the "
               "sha256 of the instruction.",
    "category": "The item's category (MT-Bench's eight, Arena-Hard's, ...).",
    "model": "The judged (candidate) model, named as its harness names it.",
    "judge": "The judge's label: the judge spec's name with its mode and settings (`j#json,t=0.7`).",
    "turn": "The judged turn (1, 2, ...): MT-Bench judges each turn of a two-turn question apart.",
    "kind": "The task kind that made the judgment: `single`, `pairwise`, `battles` or a published protocol's kind.",
    "score": "Single grading: the grade on the task's scale; None when the judgment failed.",
    "opponent": "Pairwise and battles: the model the candidate was compared with (the reference model, or the other "
                "model of a battle); None for single grading.",
    "verdict_ab": "Pairwise: the verdict with the candidate shown first, from its point of view (`win`, `loss`, "
                  "`tie`).",
    "verdict_ba": "Pairwise: the verdict with the candidate shown second, from its point of view.",
    "preference": "Pairwise: the combined preference in [1, 2] in AlpacaEval's convention (2 = the candidate is "
                  "better, 1.5 a tie); None when either order failed.",
    "error": "Why the judgment has no value, in words (None when it succeeded).",
    "failure": "The failure's cause: `parse`, `truncated`, `request`, `filtered`, `no_answer`, `empty`, or "
               "`pending` / `excluded` (no value, not failed: waiting in a provider batch, or an arena vote left "
               "out).",
    "empty": "The judged answer was empty (or only whitespace): never shown to the judge (`judge: {on_empty: ...}`).",
    "length": "Characters of the judged answer (all turns): the length of length control.",
    "opponent_length": "Characters of the opponent's answer (all turns).",
    "expected_score": "The probability-weighted grade over the scale from the judge's token log-probabilities "
                      "(G-Eval style), where the server returned them.",
    "scale_low": "The lowest grade of the task's scale (single grading).",
    "scale_high": "The highest grade of the task's scale (single grading).",
    "margin_ab": "Five-level verdicts (Arena-Hard's `A>>B` .. `B>>A`), candidate shown first: 1 = better, 2 = much "
                 "better (counts as three games); None for three-level verdicts and ties.",
    "margin_ba": "The same, candidate shown second.",
    "headers": "Markdown headers in the judged answer (all turns, code blocks left out): a style-control "
               "covariate; None where the answer's text was not available.",
    "lists": "Markdown list items in the judged answer.",
    "bold": "Bold spans in the judged answer.",
    "opponent_headers": "Markdown headers in the opponent's answer.",
    "opponent_lists": "Markdown list items in the opponent's answer.",
    "opponent_bold": "Bold spans in the opponent's answer.",
    "protocol": "The protocol that made the judgment (a published protocol's name such as `alpaca-eval-2.0`, else "
                "the task's name): part of its identity; empty for records written before protocols were recorded.",
    "tokens": "Tokens of the judged answer, where a protocol counts them (Arena-Hard v2.0's style control).",
    "opponent_tokens": "Tokens of the opponent's answer, likewise.",
    "run_id": "The judgebench run directory the judgment was read from; None for other harnesses' files.",
}


def _column_type(name: str, number_columns: Sequence[str]) -> str:
    if name in number_columns:
        return "float"
    return {"turn": "int", "empty": "bool"}.get(name, "text")


def judgment_columns() -> list[tuple[str, str, str | None]]:
    """(name, type, description or None) of every judgments-frame column, in frame order.

    The ONE place that says where the columns come from: repoint it when the schema moves. A column given as an
    object with ``name`` (and ``description`` / ``dtype``) is read as such, so a typed schema needs no other
    change here."""
    from judgebench.formats.table import COLUMNS, NUMBER_COLUMNS

    found: list[tuple[str, str, str | None]] = []
    for column in COLUMNS:
        name = column if isinstance(column, str) else column.name
        own = None if isinstance(column, str) else getattr(column, "description", None)
        dtype = getattr(column, "dtype", None) if not isinstance(column, str) else None
        found.append((name, str(dtype) if dtype else _column_type(name, NUMBER_COLUMNS), own or COLUMN_DOCS.get(name)))
    return found


def columns_markdown() -> str:
    """The judgment columns as a table; an undocumented column, or a description of a gone one, is an error."""
    columns = judgment_columns()
    missing = [name for name, _, doc in columns if not doc]
    stale = sorted(set(COLUMN_DOCS) - {name for name, _, _ in columns})
    if missing or stale:
        raise ValueError(f"docs/gen_reference.py: judgment columns without a description: {missing or 'none'}; "
                         f"descriptions of columns the code does not have: {stale or 'none'}")
    lines = [f"The {len(columns)} columns of every judgments frame, in order, whichever harness wrote the records.",
             "", "| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{name}` | {dtype} | {_cell(doc or '')} |" for name, dtype, doc in columns]
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


GENERATORS: dict[str, Callable[[], str]] = {"cli": cli_markdown, "judgment-columns": columns_markdown}


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
