"""AlpacaEval 2.0's own annotator (``weighted_alpaca_eval_gpt4_turbo``), reproduced request for request.

What AlpacaEval does (alpaca_eval at cd543a14, reimplemented here, not copied):

- One order per instruction. ``output_1`` is the reference model's answer, ``output_2`` the candidate's; they are
  switched when ``random.Random("is_switched_outputs" + instruction + "0").choices([False, True])`` says so
  (RandomSwitchTwoColumnsProcessor, seeded on the instruction and the annotator pool's seed, 0).
- The prompt is ``alpaca_eval_clf.txt`` with each ``{name}`` placeholder replaced, in the order the placeholders
  first appear, by plain substitution of the first occurrence in the text so far (utils.make_prompts: no
  escaping, so an instruction holding ``{output_1}`` receives the first output). The text is stripped and cut
  into chat messages at ``<|im_start|>``: the role is the first line, the content the rest up to the first
  ``<|im_end|>``, both stripped (utils.prompt_to_chatml).
- Sampling: max_tokens 1, temperature 1, top_p 1.0 (the OpenAI decoder's default), logprobs, top_logprobs 5.
- The preference is ``2 - p(m) / (p(m) + p(M))`` from the first token's top log-probabilities (logprob_parser,
  numerator ``m``, denominators ``m`` and ``M``, not binarized); a token absent from the top 5 has probability 0,
  neither present is no preference. Then un-switched: ``3 - x`` where the outputs were switched.
- Identical outputs are not asked: preference 1.5.

Candidate answers are shown verbatim, as AlpacaEval shows them (the prompts are byte-identical); answers that hold
the protocol's own markers are counted (``marker_counts``), not altered.
"""

from __future__ import annotations

import functools
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from ...errors import BackendError, TaskError
from ...types import (
    CallRecord,
    Candidate,
    ChatReply,
    ChatRequest,
    Item,
    Judge,
    JudgeRequest,
    Judgment,
    JudgmentId,
    PairVerdict,
    Task,
    Verdict,
    failed,
    pair_or_none,
)
from ..strategies import Outcome, PairwiseComparison, Parsed, _failure, _request_error, call_record, with_style

ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"
PROTOCOL = "alpaca-eval-2.0"
# The annotator pool's seed (BaseAnnotator's default) and the switch column's name: together with the instruction
# they seed the choice of order.
SEED = 0
SWITCH_COLUMN = "is_switched_outputs"
# AlpacaEval's completions_kwargs, with top_p=1.0 that its OpenAI decoder adds to every call.
PARAMS: tuple[tuple[str, Any], ...] = (("max_tokens", 1), ("temperature", 1), ("top_p", 1.0), ("logprobs", True),
                                       ("top_logprobs", 5))
NUMERATOR = "m"
DENOMINATORS = ("m", "M")
FIELDS = ("instruction", "output_1", "output_2")
# utils.make_prompts' placeholder pattern: braces around a run of non-space characters.
_PLACEHOLDER = re.compile(r"{([^ \s]+?)}")
START, END = "<|im_start|>", "<|im_end|>"
# Text that means something to this protocol's prompt: an answer holding one is shown as is, and counted.
MARKERS = ('"""', START, END, *(f"{{{f}}}" for f in FIELDS))
MAX_TEMPLATE_BYTES = 1 << 20


def is_switched(instruction: str, seed: int = SEED) -> bool:
    """Whether AlpacaEval shows the candidate's output first (as ``m``) for this instruction."""
    return bool(random.Random(SWITCH_COLUMN + instruction + str(seed)).choices([False, True], k=1)[0])


def placeholders(template: str) -> list[str]:
    """The template's placeholder names, in the order they first appear."""
    return list(Counter(_PLACEHOLDER.findall(template)))


def fill(template: str, values: dict[str, str]) -> str:
    """The template with each placeholder's first occurrence in the text so far replaced, in template order."""
    prompt = template
    for name in placeholders(template):
        prompt = prompt.replace("{" + name + "}", values[name], 1)
    return prompt


def chat_messages(prompt: str) -> tuple[tuple[str, str], ...]:
    """A ``<|im_start|>role ... <|im_end|>`` text as (role, content) messages, cut as AlpacaEval cuts it."""
    prompt = prompt.strip()
    messages = []
    for part in prompt.split(START)[1:]:
        head, _, rest = part.partition("\n")
        messages.append((head.strip(), rest.split(END, 1)[0].strip()))
    return tuple(messages)


def preference_shown(alternatives: Sequence[tuple[str, float]], numerator: str = NUMERATOR,
                     denominators: Sequence[str] = DENOMINATORS) -> float | None:
    """The preference for the second output shown, in [1, 2], from the first token's top log-probabilities; None
    when none of the tokens is among them."""
    from scipy.special import logsumexp

    wanted = set(denominators) | {numerator}
    found = {token: logprob for token, logprob in alternatives if token in wanted}
    if not found:
        return None
    missing = float("-inf")
    denominator = logsumexp([found.get(t, missing) for t in denominators])
    preference = float(2 - math.exp(found.get(numerator, missing) - denominator))
    # Every token at probability 0 (or a value no server should send) gives no preference, never a number.
    return preference if math.isfinite(preference) and 1 <= preference <= 2 else None


def unswitched(preference: float, switched: bool) -> float:
    """The preference for output_2 (the candidate) whatever the order shown."""
    return 3 - preference if switched else preference


def marker_counts(answers: Iterable[str]) -> Counter[str]:
    """How many answers hold each of the protocol's markers (shown verbatim, as AlpacaEval shows them)."""
    found: Counter[str] = Counter()
    for answer in answers:
        found.update(m for m in MARKERS if m in answer)
    return found


@functools.lru_cache(maxsize=16)
def _template(path: str) -> str:
    # Read once per run, not once per item; the task loader checked its sha256 and ``check`` its shape.
    return read_template(path, path)


def read_template(path: str, where: str) -> str:
    data = Path(path).read_bytes()
    if len(data) > MAX_TEMPLATE_BYTES:
        raise TaskError(f"{where}: the template {path} is larger than {MAX_TEMPLATE_BYTES >> 20} MB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise TaskError(f"{where}: the template {path} is not UTF-8 text") from None


class AlpacaEvalAnnotator(PairwiseComparison):
    """AlpacaEval 2.0's weighted annotator: the candidate against the reference model's answer in the one order
    AlpacaEval picks per instruction, a continuous preference from the log-probabilities of ``m`` and ``M``, and
    AlpacaEval's win rate, counts, standard error and LC (PairwiseComparison.aggregate; no order agreement)."""

    # Its verdict is the first token's log-probabilities, never JSON: `validate` renders it with a text judge.
    text_verdicts_only = True

    name = "alpaca-eval-weighted"
    has_orders = False

    def check(self, task: Task, where: str) -> None:
        names = {name for name, _ in task.judge.files}
        if "template" not in names:
            raise TaskError(f"{where}: a {self.name} task needs judge.files.template (AlpacaEval's prompt, e.g. "
                            "alpaca_eval_clf.txt by url and sha256)")
        unknown = [k for k, _ in task.judge.options if k != "seed"]
        if unknown:
            raise TaskError(f"{where}: unknown judge.options {', '.join(unknown)}; a {self.name} task takes seed")
        seed = task.judge.option("seed", SEED)
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
            raise TaskError(f"{where}: judge.options.seed must be an integer from 0 to 2**32-1 (AlpacaEval's is 0), "
                            f"not {str(seed)[:40]!r}")
        # The protocol's sampling is fixed (PARAMS): a task that says otherwise would look as if it changed it.
        fixed = dict(PARAMS)
        if task.judge.max_tokens != fixed["max_tokens"] or task.judge.temperature != fixed["temperature"]:
            raise TaskError(f"{where}: AlpacaEval 2.0's annotator asks with max_tokens {fixed['max_tokens']} and "
                            f"temperature {fixed['temperature']}; the task says max_tokens {task.judge.max_tokens}, "
                            f"temperature {task.judge.temperature}: set them so, or use another kind")
        template = read_template(task.judge.file("template"), where)
        found = placeholders(template)
        counts = Counter(_PLACEHOLDER.findall(template))
        if sorted(found) != sorted(FIELDS) or any(n != 1 for n in counts.values()):
            raise TaskError(f"{where}: the template must hold each of {{instruction}}, {{output_1}} and {{output_2}} "
                            f"once (found: {dict(counts)})")
        if not template.strip().startswith(START) or not template.strip().endswith(END):
            raise TaskError(f"{where}: the template is not AlpacaEval chatml text ({START}role ... {END})")

    def requests_per_item(self, task: Task, item: Item) -> int:
        return 1

    def requests(self, task: Task, candidate: Candidate, item: Item, judge: Judge,
                 opponent: Candidate | None = None) -> list[JudgeRequest]:
        """One request, in AlpacaEval's order; none where the two answers are the same (see ``empty``)."""
        reference = self.opponent_turns(task, item, opponent)
        if _same(candidate.turns, reference):
            return []
        switched = is_switched(item.turns[0], task.judge.option("seed", SEED))
        first, second = (candidate.turns[0], reference[0]) if switched else (reference[0], candidate.turns[0])
        template = _template(task.judge.file("template"))
        prompt = fill(template, {"instruction": item.turns[0], "output_1": first, "output_2": second})
        chat = ChatRequest(judge.endpoint, chat_messages(prompt), PARAMS)
        return [JudgeRequest(task.benchmark, item.id, item.category, candidate.model, judge.name, 1,
                             "AB" if switched else "BA", chat, opponent=self.opponent_name(task, opponent),
                             protocol=task.protocol)]

    def read_verdict(self, task: Task, request: JudgeRequest, reply: ChatReply) -> Verdict:
        """The preference for the second output shown (``score``), from the reply's log-probabilities."""
        if not reply.logprobs:
            return Verdict(error="the judge returned no log-probabilities (AlpacaEval 2.0 needs logprobs and "
                                 "top_logprobs: use a server that returns them)")
        preference = preference_shown(reply.logprobs[0][1])
        if preference is None:
            shown = ", ".join(repr(t) for t, _ in reply.logprobs[0][1]) or "none"
            return Verdict(error=f"neither 'm' nor 'M' among the top log-probabilities ({shown})")
        return Verdict(score=preference)

    def assemble(self, task: Task, candidate: Candidate, requests: Sequence[JudgeRequest],
                 outcomes: Sequence[Outcome], opponent: Candidate | None = None,
                 parsed: Parsed | None = None) -> list[Judgment]:
        (request,), (outcome,) = requests, outcomes
        record: CallRecord = call_record(request.chat, outcome, request.position)
        if isinstance(outcome, BackendError):
            verdict, text = Verdict(error=_request_error(outcome)), ""
        else:
            verdict, text = self.verdict(task, request, outcome, parsed), outcome.text
        preference = None if verdict.score is None else unswitched(verdict.score, request.position == "AB")
        outcome_label = None if preference is None else _label(preference)
        item = Item(request.item_id, request.category, ())
        pair = PairVerdict(outcome_label if request.position == "AB" else None,
                           outcome_label if request.position == "BA" else None, preference)
        return [with_style(Judgment(
            replace(request.judgment_id(), turn=1), self.name, request.category, pair_or_none(pair),
            failed(_failure(verdict, outcome), verdict.error), raw=(text,), calls=(record,),
        ), candidate.turns, self.opponent_turns(task, item, opponent))]

    def empty(self, task: Task, item: Item, candidate: Candidate, judge: Judge,
              opponent: Candidate | None = None) -> list[Judgment]:
        """AlpacaEval shows empty answers like any other; only identical answers are not asked (a draw)."""
        reference = self.opponent_turns(task, item, opponent)
        if not _same(candidate.turns, reference):
            return []
        return [with_style(Judgment(
            JudgmentId(task.benchmark, task.protocol, judge.name, candidate.model,
                       self.opponent_name(task, opponent), item.id, 1),
            self.name, item.category, PairVerdict(preference=1.5),
        ), candidate.turns, reference)]

def _same(turns: Sequence[str], reference: Sequence[str]) -> bool:
    return tuple(turns[:1]) == tuple(reference[:1])


def _label(preference: float) -> str:
    return "win" if preference > 1.5 else "loss" if preference < 1.5 else "tie"
