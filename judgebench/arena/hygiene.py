"""Vote hygiene, as Chatbot Arena practises it: answers that give their model away, voters' consistency on
repeated battles, and the daily cap's day. Pure.

Consistency. Now and then a voter is shown a battle they already voted on again, sides swapped. Each vote falls in
one of three classes: "model X won", "model Y won", "no winner" (tie and both bad). A voter agrees with
themselves when both votes fall in the same class. A voter who presses one of the four buttons uniformly at random
lands in "X won" with probability 1/4, "Y won" with 1/4 and "no winner" with 2/4 (two buttons), independently each
time, so two such votes agree with probability

    P(agree) = (1/4)^2 + (1/4)^2 + (2/4)^2 = 1/16 + 1/16 + 4/16 = 3/8.

A voter is significantly better than chance when a one-sided exact binomial test (scipy's ``binomtest``) of their
agreements among their repeats against 3/8 gives p < 0.05. With n repeats all agreeing p = (3/8)^n, so four
repeats at least are needed before anyone can pass.

A repeat is not fully blind: the first vote revealed both model names, so a voter who remembers the battle may
recognise it and vote for the same model from memory (Chatbot Arena's repeated battles share this limitation). It
is served ``CHECK_GAP`` battles or more after the original, never straight after it, which makes that harder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from scipy.stats import binomtest

CHANCE_AGREEMENT = (1 / 4) ** 2 + (1 / 4) ** 2 + (2 / 4) ** 2  # = 3/8, see the module doc
SIGNIFICANCE = 0.05
# Serve a consistency check to a voter about once in CHECK_EVERY battles, once they have voted CHECKS_AFTER times.
CHECK_EVERY = 8
CHECKS_AFTER = 3
# A repeat comes at least CHECK_GAP of the voter's battles after the one it repeats.
CHECK_GAP = 5

# Names and families of chat models, and AI labs, that give a model away wherever an answer says them.
_NAMES = ["ChatGPT", "GPT-?[1-9](?:\\.5)?(?:-?turbo)?", "GPT", "OpenAI", "Anthropic", "LMSYS", "Vicuna",
          "Claude(?!\\s+(?:Monet|Debussy|Shannon))",  # the painter, the composer and the engineer give nothing away
          # Names that are also words (palm trees, llamas) only as their makers write them.
          "(?-i:LLaMA)(?:-?[1-9])?", "Llama[- ]?[1-9]", "(?-i:PaLM)(?:[ -]?2)?", "DeepMind", "Gemma", "Mistral",
          "Mixtral", "MosaicML", "MPT-?\\d+", "Baize", "ChatGLM", "Zhipu", "Qwen", "Baichuan", "DeepSeek",
          "Phi-[1-9]", "Cohere", "(?-i:Command[- ]R)", "StableLM", "RWKV", "EleutherAI", "OpenAssistant", "LAION",
          "WizardLM", "Nemotron"]
# Companies that answers name for other reasons (a question about tech stocks): only as a model's maker.
_MAKERS = ["Meta(?: AI)?", "Google(?: AI| Brain)?", "Microsoft", "Alibaba", "Baidu", "NVIDIA", "Tsinghua",
           "Databricks", "Stability AI", "Hugging ?Face", "Allen AI", "AllenAI", "AI2", "xAI", "01\\.AI",
           "Nous Research", "Inflection AI", "Large Model Systems Organization", *_NAMES]
_MADE_BY = (r"(?:developed|created|trained|built|made|designed|programmed|fine-tuned|released|engineered)\s+by\s+"
            r"(?:the\s+)?(?:(?:team|researchers|engineers|people)\s+(?:at|of|from)\s+)?")
# Common words among model names ("alpaca", "falcon", "koala", "dolly") are left to the battle's own names: they
# flag a battle only where that model takes part.
# Parts of model names that name no one ("vicuna-13b-v1.3" -> vicuna; "gpt-3.5-turbo" -> gpt).
_GENERIC_PARTS = {"chat", "instruct", "turbo", "base", "model", "tuned", "alpha", "beta", "sft", "open", "whole",
                  "preview", "latest", "mini", "large", "small", "medium", "the", "and", "bot", "llm", "raven",
                  "hf", "it", "dpo", "all", "one", "pro", "rlhf", "raw", "new", "old", "test", "bison", "instant",
                  "snoozy"}
_PART = re.compile(r"[A-Za-z]{3,}")


def _alternation(patterns: Iterable[str]) -> re.Pattern[str]:
    # Longest first, so "ChatGPT" is reported rather than "GPT"; word boundaries so "Claudette" or "grape" pass.
    ordered = sorted(set(patterns), key=len, reverse=True)
    return re.compile(r"(?<![A-Za-z0-9])(?:" + "|".join(ordered) + r")(?![A-Za-z0-9])", re.IGNORECASE)


_KNOWN_PATTERN = re.compile(_alternation(_NAMES).pattern + "|" + _MADE_BY + "(?:" + "|".join(_MAKERS) + ")"
                            + r"(?![A-Za-z0-9])", re.IGNORECASE)


def name_patterns(models: Sequence[str]) -> list[str]:
    """Regular expressions for the battle's own model names and their distinctive parts."""
    patterns = [re.escape(m) for m in models if m]
    for model in models:
        patterns += [re.escape(part) for part in _PART.findall(model) if part.lower() not in _GENERIC_PARTS]
    return patterns


def identity_leak(answers: Iterable[str], models: Sequence[str], questions: Iterable[str] = ()) -> str | None:
    """Why a battle between ``models`` gives a model away (the first name an answer says), or None.

    ``answers``: every turn of both answers; a name the ``questions`` themselves say ("what do you think of
    GPT-4?") gives nothing away and is passed over. A battle flagged here is still voted on, but its vote is stored
    with the flag and left out of the ranking, as Chatbot Arena drops votes where a model revealed its identity."""
    asked = " ".join(questions).lower()
    own = name_patterns(models)
    patterns = [_alternation(own), _KNOWN_PATTERN] if own else [_KNOWN_PATTERN]
    for text in answers:
        for pattern in patterns:
            for found in pattern.finditer(text):
                if found.group(0).lower() not in asked:
                    return f"an answer names {found.group(0)!r}"
    return None


@dataclass(frozen=True)
class Consistency:
    """A voter's repeats: how many, how many agreed, the one-sided binomial p-value against ``CHANCE_AGREEMENT``."""

    n_checks: int
    n_agree: int
    p_value: float | None

    @property
    def rate(self) -> float | None:
        return self.n_agree / self.n_checks if self.n_checks else None

    @property
    def better_than_chance(self) -> bool:
        return self.p_value is not None and self.p_value < SIGNIFICANCE

    def describe(self) -> str:
        if not self.n_checks:
            return "no consistency check yet"
        verdict = "better than chance" if self.better_than_chance else "NOT better than chance"
        return f"{self.n_agree}/{self.n_checks} repeats agreed (p = {self.p_value:.3g}): {verdict}"


def choice_class(winner: str, model_a: str, model_b: str) -> str:
    """The model a vote chose, or "" for no winner (tie and both bad are one class)."""
    return {"A": model_a, "B": model_b}.get(winner, "")


def consistency(pairs: Iterable[tuple[str, str]]) -> Consistency:
    """``pairs``: (class of the first vote, class of the repeat) per consistency check (see ``choice_class``)."""
    pairs = list(pairs)
    agree = sum(first == repeat for first, repeat in pairs)
    p_value = binomtest(agree, len(pairs), CHANCE_AGREEMENT, alternative="greater").pvalue if pairs else None
    return Consistency(len(pairs), agree, None if p_value is None else float(p_value))


def utc_day(moment: datetime) -> str:
    """The UTC day a vote falls on, as the daily cap counts it."""
    return moment.astimezone(timezone.utc).date().isoformat()
