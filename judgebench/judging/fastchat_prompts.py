"""FastChat's own MT-Bench judge prompts (``judge_prompts.jsonl``), for numbers comparable with the published
MT-Bench scores. They are not shipped: a task names the file by URL with a sha256 (or a local path).

FastChat fills its templates with Python's ``str.format``; a downloaded template could reach attributes that way
(``{answer.__class__}``), so only plain field names from FastChat's own set are accepted, and the text is filled
by name, never evaluated. FastChat's frames have no per-request code: answers are neutralized (``[The End of``
and ``<|`` broken up) but can imitate the frame more easily than in judgebench's own prompts; see docs/security.md.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

from ..errors import TaskError
from ..formats.common import iter_jsonl

# Every field FastChat's templates use.
FIELDS = frozenset({"question", "answer", "ref_answer_1", "question_1", "question_2", "answer_1", "answer_2",
                    "ref_answer_2", "answer_a", "answer_b", "answer_a_1", "answer_a_2", "answer_b_1", "answer_b_2"})
MULTI_TURN = "-multi-turn"


@dataclass(frozen=True)
class FastChatPrompt:
    name: str
    system: str
    template: str


def read_prompts(path: Path) -> dict[str, FastChatPrompt]:
    """name -> prompt, from FastChat's judge_prompts.jsonl; a template with any other field is refused."""
    prompts = {}
    for lineno, row in iter_jsonl(path):
        try:
            name, system, template = str(row["name"]), str(row["system_prompt"]), str(row["prompt_template"])
        except KeyError as exc:
            raise TaskError(f"{path}:{lineno}: not a FastChat judge prompt (missing {exc})") from None
        for _, field, spec, conversion in string.Formatter().parse(template):
            if field is not None and (field not in FIELDS or spec or conversion):
                raise TaskError(f"{path}:{lineno}: prompt {name!r} uses the field {{{field}}}, which is not one of "
                                "FastChat's: refused")
        prompts[name] = FastChatPrompt(name, system, template)
    return prompts


def render(prompt: FastChatPrompt, values: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """The prompt's system and user messages, its fields filled from ``values`` (missing ones are an error)."""
    try:
        user = prompt.template.format_map(values)
    except KeyError as exc:
        raise TaskError(f"FastChat prompt {prompt.name!r} needs {exc.args[0]!r}, which this item does not have") \
            from None
    return (("system", prompt.system), ("user", user)) if prompt.system else (("user", user),)


def for_turn(prompts: tuple[FastChatPrompt, ...], name: str, turn: int) -> FastChatPrompt:
    """FastChat grades turn 2 with the multi-turn variant of the prompt, which shows the whole conversation."""
    wanted = name if turn == 1 else f"{name}{MULTI_TURN}"
    for prompt in prompts:
        if prompt.name == wanted:
            return prompt
    raise TaskError(f"FastChat's judge prompts have no {wanted!r} (they have "
                    f"{', '.join(p.name for p in prompts)})")
