"""Recorded judge replies, found by the exact prompt that produced them: the replay judge's memory.

A reply is looked up by the whole conversation sent (every message's role and text, byte for byte). Where the
anchor's file did not record the system message (FastChat's and arena-bench's judgment files keep only the user
prompt), the recording says so (``system`` is None) and only the user message is compared: the system message
of those protocols is fixed text the task reads from the anchor's own files. The sampling parameters the anchor
used are recorded too and checked on every request, so a task that sends the right prompt with the wrong
``max_tokens`` or temperature fails as surely as one with a wrong prompt.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A reply's first tokens with their most likely alternatives, as ChatReply.logprobs holds them.
Logprobs = tuple[tuple[str, tuple[tuple[str, float], ...]], ...]


@dataclass(frozen=True)
class Recording:
    """One recorded judge call: the messages the anchor sent (``system`` None where its file did not record the
    system message), the reply it got, its log-probabilities where recorded, the sampling parameters it used
    (only those named are checked), and where it was read from (file:line)."""

    user: str
    reply: str
    system: str | None = None
    logprobs: Logprobs = ()
    params: tuple[tuple[str, Any], ...] = ()
    source: str = ""
    finish_reason: str = "stop"


@dataclass(frozen=True)
class ReaderOptions:
    """What a reader of anchor files may need beyond the file itself: ``template``, the anchor's prompt template,
    for harnesses whose files record the judge's inputs but not the prompt built from them (AlpacaEval)."""

    template: Path | None = None


NO_OPTIONS = ReaderOptions()


@dataclass(frozen=True)
class Miss:
    """Why a request has no recorded reply: a message for the error the server returns."""

    message: str


def _user_and_system(messages: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """The (last) user message and the system message of a chat request; None where absent."""
    user = system = None
    for message in messages:
        role, text = message.get("role"), message.get("content")
        if isinstance(text, list):  # OpenAI's content parts: the text parts, in order
            text = "".join(str(p.get("text", "")) for p in text if isinstance(p, Mapping))
        if not isinstance(text, str):
            continue
        if role == "system":
            system = text
        elif role == "user":
            user = text
    return user, system


@dataclass
class ReplayTable:
    """Recordings by exact user prompt (several where the anchor asked the same prompt more than once: the first is
    served, and ``conflicts`` counts prompts whose recorded replies differ)."""

    by_user: dict[str, list[Recording]] = field(default_factory=dict)
    conflicts: int = 0
    _sorted: list[str] | None = None

    @classmethod
    def of(cls, recordings: Iterable[Recording]) -> ReplayTable:
        table = cls()
        for recording in recordings:
            table.add(recording)
        return table

    def add(self, recording: Recording) -> None:
        found = self.by_user.setdefault(recording.user, [])
        if found and all(r.reply != recording.reply for r in found) and len(found) == 1:
            self.conflicts += 1
        found.append(recording)
        self._sorted = None

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_user.values())

    def find(self, messages: Sequence[Mapping[str, Any]], params: Mapping[str, Any]) -> Recording | Miss:
        """The recorded reply to exactly these messages sent with these parameters, or why there is none."""
        user, system = _user_and_system(messages)
        if user is None:
            return Miss("replay: the request has no user message")
        candidates = self.by_user.get(user)
        if not candidates:
            return Miss(f"replay: no recorded reply for this prompt ({self._nearest(user)})")
        matching = [r for r in candidates if r.system is None or r.system == system]
        if not matching:
            recorded = candidates[0].system or ""
            return Miss("replay: the user prompt was recorded, but with another system message "
                        f"({_first_difference(system or '', recorded)}; from {candidates[0].source})")
        recording = matching[0]
        for name, expected in recording.params:
            sent = params.get(name)
            if not _same_value(sent, expected):
                return Miss(f"replay: the prompt was recorded with {name}={expected!r}, the request sent "
                            f"{name}={sent!r} (from {recording.source})")
        return recording

    def _nearest(self, user: str) -> str:
        """Where the request departs from the recorded prompt sharing its longest beginning."""
        if not self.by_user:
            return "nothing is recorded"
        if self._sorted is None:
            self._sorted = sorted(self.by_user)
        keys = self._sorted
        index = bisect.bisect_left(keys, user)
        neighbours = [keys[i] for i in (index - 1, index) if 0 <= i < len(keys)]
        best = max(neighbours, key=lambda k: _common_prefix(k, user))
        return f"the nearest recorded prompt {_first_difference(user, best)}; from {self.by_user[best][0].source}"


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _first_difference(sent: str, recorded: str) -> str:
    at = _common_prefix(sent, recorded)
    return (f"differs at character {at} of {len(sent)}: sent {sent[max(0, at - 20):at + 30]!r}, recorded "
            f"{recorded[max(0, at - 20):at + 30]!r}")


def _same_value(sent: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(sent, bool):
        return sent is expected or sent == expected
    if isinstance(expected, (int, float)) and isinstance(sent, (int, float)):
        return float(sent) == float(expected)
    return bool(sent == expected)
