"""One identity per benchmark and per item, whichever harness wrote the file.

A benchmark's canonical name is lower-case with hyphens ("mt-bench", "alpaca-eval", "arena-hard"); the names
other harnesses and our own task files use for the same item set are aliases of it. Item ids:

- MT-Bench (ours and FastChat's): FastChat's ``question_id``, as text.
- AlpacaEval (ours and AlpacaEval's annotations and outputs): the first 16 hex digits of the sha256 of the
  instruction. AlpacaEval's files carry no id, and a row's position is not stable across files.
- Arena-Hard: its ``question_id`` (``uid`` in v2). v0.1 is "arena-hard", v2.0 (other questions) "arena-hard-v2.0".

AlpacaEval 1.0 and 2.0 share the 805 instructions, so both are "alpaca-eval": the reference model (the
opponent) and the judge tell them apart.

arena-bench-v1 (Arena-Hard's early reference-guided 1-10 grading of 300 hard prompts) is a benchmark of its own,
"arena-bench-v1": its files look like FastChat's single grades, but its items, references and judge prompt are
not MT-Bench's.
"""

from __future__ import annotations

import hashlib
import re

MT_BENCH, ALPACA_EVAL, ARENA_HARD = "mt-bench", "alpaca-eval", "arena-hard"
# Arena-Hard v2.0 asks other questions than v0.1 ("arena-hard"): a benchmark of its own.
ARENA_HARD_V2 = "arena-hard-v2.0"
ARENA_BENCH_V1 = "arena-bench-v1"

_ALIASES = {
    "mt-bench": MT_BENCH,
    "mtbench": MT_BENCH,
    "alpaca-eval": ALPACA_EVAL,
    "alpaca-eval-2": ALPACA_EVAL,
    "alpacaeval": ALPACA_EVAL,
    "alpaca-eval-1": ALPACA_EVAL,
    "arena-hard": ARENA_HARD,
    "arena-hard-auto": ARENA_HARD,
    "arena-hard-v0.1": ARENA_HARD,
    "arena-hard-v2.0": ARENA_HARD_V2,
    "arena-hard-v2": ARENA_HARD_V2,
    "arena-bench": ARENA_BENCH_V1,
    "arena-bench-v1": ARENA_BENCH_V1,
}


def canonical_benchmark(name: str) -> str:
    """The canonical name of a benchmark: "mt_bench" and "MT-Bench" are "mt-bench", "alpaca_eval" and
    "alpaca-eval-2" are "alpaca-eval". An unknown name is only normalized (lower case, hyphens)."""
    normalized = re.sub(r"[\s_]+", "-", name.strip().lower())
    return _ALIASES.get(normalized, normalized)


def instruction_id(instruction: str) -> str:
    """An AlpacaEval item's id: AlpacaEval rows have no id, so the instruction text identifies the item."""
    return hashlib.sha256(instruction.encode("utf-8")).hexdigest()[:16]


def benchmark_label(benchmark: str, protocol: str | None) -> str:
    """How a (benchmark, protocol) group is named on every surface: the benchmark, with the protocol beside it
    when the protocol is not simply the benchmark's own name ("alpaca-eval · alpaca-eval-2.0")."""
    protocol = protocol if isinstance(protocol, str) else ""
    return f"{benchmark} · {protocol}" if protocol and protocol != benchmark else benchmark
