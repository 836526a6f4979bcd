"""What a run needs besides its task (RunConfig), apart from the run itself so the run's parts (the one-model and
battles schedules, the dry run) can all read it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..clients.batch import BatchOptions
from ..clients.pricing import PriceTable
from ..clients.replicas import most_in_flight
from ..stats.winrate import DEFAULT_BOOTSTRAP
from ..types import Endpoint, Judge, ServerLaunch
from .retry import RetryPolicy

# The fewest items in flight at once, whatever the concurrency.
MIN_WINDOW = 256


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs besides the task. model is None when answers come from a file."""

    model: Endpoint | None
    judges: tuple[Judge, ...]
    out: Path
    cache_path: Path
    limit: int | None = None
    # Only the items with these ids, in the task's order (`run --items`, e.g. the items escalation sent on).
    item_ids: frozenset[str] | None = None
    answers_file: Path | None = None
    run_id: str | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    progress: bool = True
    progress_lines: bool = False  # without a terminal: a progress line every few seconds
    adaptive: bool = True  # each replica's concurrency adapts, starting from the endpoint's
    n_bootstrap: int = DEFAULT_BOOTSTRAP
    batch: BatchOptions | None = None  # run --batch: these endpoints go through provider batch APIs (run.batch)
    prices: PriceTable | None = None  # the price table for the cost report; None: the built-in one
    launched: tuple[ServerLaunch, ...] = ()  # servers judgebench started for the run (judgebench.clients.serve)
    engine: str = "local"  # the executor judge requests go through: a name in run.executors.ENGINES
    # A battles task's candidates (run.battles): every model to generate with and every answers file, ``model`` and
    # ``answers_file`` being the first of each. A task that judges one model refuses more than one.
    models: tuple[Endpoint, ...] = ()
    answers_files: tuple[Path, ...] = ()

    def candidate_models(self) -> tuple[Endpoint, ...]:
        return self.models or ((self.model,) if self.model else ())

    def candidate_answers(self) -> tuple[Path, ...]:
        return self.answers_files or ((self.answers_file,) if self.answers_file else ())


def window_size(config: RunConfig) -> int:
    """How many items are in flight at once: enough to keep every replica of every endpoint at the most
    concurrency the adaptive limit may reach, bounded so memory does not grow with the number of items."""
    endpoints = [j.endpoint for j in config.judges] + list(config.candidate_models())
    room = sum(most_in_flight(e) * len(e.replica_urls()) for e in endpoints)
    return max(MIN_WINDOW, 2 * room)


__all__ = ["MIN_WINDOW", "RunConfig", "window_size"]
