"""Pairwise win rate in the AlpacaEval convention: preference in [1, 2] (2 = the model wins, 1.5 = a tie)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

# The bootstrap resamples of every headline interval (win rates, grades, LC win rates), on every surface: `run`,
# `stats`, the leaderboard site and ``load()`` default to it, so one set of judgments shows one interval. (It
# lives in judgebench.constants, which the command line's help reads without loading numpy.)
from ..constants import BOOTSTRAP_SEED, DEFAULT_BOOTSTRAP

DEFAULT_SEED = BOOTSTRAP_SEED
# Above this many (resample, item) entries the counts matrix is not built (8 bytes each: 32 MB): resamples are drawn
# in blocks instead (``resample_count_blocks``: of CHUNK_ENTRIES; the means of ``bootstrap_ci``: of
# COUNT_BLOCK_ENTRIES), so memory stays flat in the number of items.
COUNTS_LIMIT = 4_000_000
# The counts kept for the next interval over as many items (``resample_counts``): at most this many bytes in all,
# one matrix of COUNTS_LIMIT entries and smaller ones beside it, the least recently used let go first. (Eight of any
# size were kept: intervals over eight slightly different numbers of items near 4,000, models with a few failures
# each, held 256 MB for the life of the process.)
COUNTS_MEMO_BYTES = 48 << 20
CHUNK_ENTRIES = 1_000_000
# Resamples counted a block of about this many draws at a time (``resample_counts``): what one block needs fits in a
# processor's cache, where the whole (n_samples, n) matrix of draws, its offsets and its integer counts were three
# more matrices of the counts' size, each a fresh allocation the kernel had to fault in (measured in a run: 0.25 s
# for 8,000 items and 500 resamples, nine tenths of it system time; 0.03 s by blocks).
COUNT_BLOCK_ENTRIES = 1 << 16


@dataclass(frozen=True)
class WinRate:
    """win_rate and standard_error in percent; discrete_win_rate counts a win as 1 and a draw as 1/2;
    ci_low/ci_high: a 95% percentile bootstrap interval of win_rate over items."""

    win_rate: float
    standard_error: float
    n_wins: int
    n_wins_base: int
    n_draws: int
    n_total: int
    discrete_win_rate: float
    ci_low: float
    ci_high: float


def bootstrap_ci(values: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray] | None = None,
                 n_samples: int = DEFAULT_BOOTSTRAP, level: float = 0.95,
                 seed: int = DEFAULT_SEED) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic`` (default: the mean) over the rows of ``values``.

    ``statistic`` receives an (n_samples, n) array of resampled rows and returns n_samples values.
    """
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    if statistic is None and len(values) * n_samples > COUNTS_LIMIT:
        stats = _chunked_means(values, n_samples, seed)
    elif statistic is None:
        # The mean of a resample is (counts @ values) / n: one product against counts shared by every call
        # with the same (n, n_samples, seed), i.e. every model resampled over the same draws of items.
        stats = resample_counts(len(values), n_samples, seed) @ values / len(values)
    else:
        rng = np.random.default_rng(seed)
        stats = statistic(values[rng.integers(0, len(values), size=(n_samples, len(values)))])
    alpha = (1 - level) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return float(low), float(high)


def _chunked_means(values: np.ndarray, n_samples: int, seed: int) -> np.ndarray:
    """Resample means drawn a block of resamples at a time: the same draws as ``resample_counts`` (one generator,
    the same order), without an (n_samples, n) matrix, whose memory would grow with the number of items."""
    rng = np.random.default_rng(seed)
    n = len(values)
    # A row's mean is the same in a block of any size: blocks that fit in a processor's cache (COUNT_BLOCK_ENTRIES),
    # not fresh 8 MB allocations the kernel faults in one by one.
    rows = max(1, COUNT_BLOCK_ENTRIES // n)
    means = np.empty(n_samples)
    for start in range(0, n_samples, rows):
        block = min(rows, n_samples - start)
        means[start:start + block] = values[rng.integers(0, n, size=(block, n))].mean(axis=1)
    return means


class _CountsMemo:
    """Counts matrices by (n, n_samples, seed), within a budget of bytes (COUNTS_MEMO_BYTES), least recently used
    let go first; one larger than the budget is not kept. The matrices are read-only, so sharing one is safe."""

    def __init__(self, most_bytes: int) -> None:
        self.most_bytes = most_bytes
        self._kept: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, int]) -> np.ndarray | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: tuple[int, int, int], counts: np.ndarray) -> None:
        if counts.nbytes > self.most_bytes:
            return
        with self._lock:
            self._kept[key] = counts
            while sum(kept.nbytes for kept in self._kept.values()) > self.most_bytes:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(kept.nbytes for kept in self._kept.values())


_COUNTS = _CountsMemo(COUNTS_MEMO_BYTES)


def resample_counts(n: int, n_samples: int, seed: int) -> np.ndarray:
    """(n_samples, n) counts of how often each item is drawn in each bootstrap resample: the draws of one generator
    in order, ``rng.integers(0, n, size=(n_samples, n))``, counted a block of resamples at a time (the same draws
    and counts as all at once). Read-only; kept for the next call with the same arguments (``_COUNTS``)."""
    key = (n, n_samples, seed)
    found = _COUNTS.get(key)
    if found is None:
        found = _counted(n, n_samples, seed)
        _COUNTS.put(key, found)
    return found


def _counted(n: int, n_samples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = np.empty((n_samples, n))
    rows = max(1, COUNT_BLOCK_ENTRIES // max(n, 1))
    offsets = n * np.arange(min(rows, n_samples))[:, None]
    for start in range(0, n_samples, rows):
        block = min(rows, n_samples - start)
        draws = rng.integers(0, n, size=(block, n))
        draws += offsets[:block]
        counts[start:start + block] = np.bincount(draws.ravel(), minlength=block * n).reshape(block, n)
    counts.flags.writeable = False
    return counts


def resample_count_blocks(n: int, n_samples: int, seed: int = DEFAULT_SEED) -> Iterator[np.ndarray]:
    """The bootstrap resamples of ``n`` items as count matrices (resample, item), a block at a time: up to
    COUNTS_LIMIT entries, one block of ``resample_counts`` (the very draws every mean's interval uses: the same
    items resampled for every statistic of one model), else blocks of CHUNK_ENTRIES, so memory stays flat."""
    if n * n_samples <= COUNTS_LIMIT:
        yield resample_counts(n, n_samples, seed)
        return
    rng = np.random.default_rng(seed)
    rows = max(1, CHUNK_ENTRIES // n)
    for start in range(0, n_samples, rows):
        block = min(rows, n_samples - start)
        draws = rng.integers(0, n, size=(block, n)) + n * np.arange(block)[:, None]
        yield np.bincount(draws.ravel(), minlength=block * n).reshape(block, n).astype(float)


def pairwise_winrate(preferences: np.ndarray, n_bootstrap: int = DEFAULT_BOOTSTRAP,
                     seed: int = DEFAULT_SEED) -> WinRate:
    """Win rate of the model against the baseline. NaN preferences (failed judgments) are left out."""
    prefs = np.asarray(preferences, dtype=float)
    prefs = prefs[~np.isnan(prefs)]
    scores = (prefs - 1.0) * 100.0
    n = len(prefs)
    n_wins = int((prefs > 1.5).sum())
    n_base = int((prefs < 1.5).sum())
    n_draws = int((prefs == 1.5).sum())
    standard_error = float(scores.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    low, high = bootstrap_ci(scores, n_samples=n_bootstrap, seed=seed) if n_bootstrap else (float("nan"),) * 2
    return WinRate(
        win_rate=float(scores.mean()) if n else float("nan"),
        standard_error=standard_error,
        n_wins=n_wins, n_wins_base=n_base, n_draws=n_draws, n_total=n,
        discrete_win_rate=(n_wins + n_draws / 2) / n * 100 if n else float("nan"),
        ci_low=low, ci_high=high,
    )
