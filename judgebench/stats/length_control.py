"""The length-control model: AlpacaEval 2.0's length-controlled win rate (Dubois et al., 2024, arXiv:2404.04475),
its difficulty tables and fits. stats.length_control_by_model applies it to every model of a judgments frame.

The judge's preference for the model over the baseline on instruction x is modelled as

    logit p(model beats baseline | x) = phi * tanh(d_x / sd(d)) + psi * gamma_x + theta

with d_x the length difference (baseline minus model, in characters) and gamma_x the instruction's
difficulty. No separate intercept: theta is the coefficient of the constant "not the baseline" feature, as
in AlpacaEval. The length-controlled win rate is the model's predicted win rate with d_x set to 0:
mean over x of sigmoid(psi * gamma_x + theta), in percent.

Two steps, as in AlpacaEval, so that one model's LC does not depend on which other models are evaluated with it:

1. A ``DifficultyTable``, fitted once (``fit_difficulty``) from a pool of models by one joint logistic fit,
       logit p_mx = theta_m + phi_m * tanh(d_mx / sd_m) + gamma_x,
   with a ridge penalty ``DIFFICULTY_L2`` on gamma (it is defined up to a shift; the penalty centres it), or
   read from a CSV (ours, or AlpacaEval's own ``instruction_difficulty.csv``). It also carries the prior of
   step 2: the judge's typical phi and psi, the medians of every pool model's own fit against this gamma.
2. Per model, alone: the three-coefficient fit above with gamma looked up in the table and a Gaussian prior
   on (phi, psi) at the table's typical values. This is AlpacaEval's ``regularize_to_baseline_lambda``: there,
   the baseline's verbose and concise rewrites of its own answers (``not_gamed_baseline`` = 0, so theta drops
   out) are added to every fit at weight 0.1 each, and they share phi and psi with the model. Their only
   effect is to pull phi and psi towards what the judge shows when quality is equal and length is not; a
   model that games length cannot then buy a high LC by its own, confounded, length coefficient. We do not
   have those rewrites, so the pull is a Gaussian whose strength grows with the items judged, as theirs does.

Items are identified by id, never by position: AlpacaEval looks difficulty up by the row's position in the
annotation file, which shifts it past a missing row (five AlpacaEval 2.0 files miss rows; see the bench).

Measured on the AlpacaEval 2.0 annotations in ../shared/data by bench/bench_lc_loo.py (each model evaluated
alone with a table fitted on the other models; the numbers are in its docstring). ``DIFFICULTY_L2``,
``LENGTH_PRIOR``, ``DIFFICULTY_PRIOR`` and ``MIN_MODELS`` were chosen there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..lazy import on_first_use
from .winrate import DEFAULT_SEED, resample_count_blocks

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")

DIFFICULTY_L2 = 0.1
# Prior precision on phi and psi per judged item (805 items: 8 and 161). Halving or doubling either moves the
# leave-one-out mean |difference| from 0.37 to at most 0.43 points; psi needs the firmer pull because a single
# model's own data hardly separate difficulty from its strength.
LENGTH_PRIOR = 0.01
DIFFICULTY_PRIOR = 0.2
# A table fitted on fewer models gives LCs off by more, on average, than the raw win rate's own standard error
# (about 1 point on AlpacaEval 2.0): tables on random pools of 30 other models give a mean |difference| of 0.58,
# of 20: 0.86 (one model in ten off by over 2), of 12: 1.20, of 5: 1.52, against 0.37 with all 40
# (bench/bench_lc_loo.py --pool-sizes).
MIN_MODELS = 20
# Fitted coefficients (difficulties, phi, psi) of this model live within a few units; a table beyond this is broken.
MAX_COEFFICIENT = 50.0
# Fewer judged items than this share with a known difficulty, and the LC is not reported: the table is not this
# benchmark's (or not this set of items').
MIN_KNOWN_SHARE = 0.5

# Machine-readable notes on a LengthControlled, for the CLI to say in words.
THIN_TABLE = "thin_table"  # the table was fitted on fewer than MIN_MODELS models
UNKNOWN_ITEMS = "unknown_items"  # some judged items have no difficulty in the table and were left out
# AlpacaEval's gamed-baseline regularization, as a Gaussian, for a table on AlpacaEval's own difficulty scale
# (whose file records no prior): the mean phi and psi of gpt4_1106_preview_verbose and _concise in AlpacaEval's
# published GLM weights (weighted_alpaca_eval_gpt4_turbo/length_controlled_v1/baseline_gpt4_1106_preview.csv),
# and the information of their 2 x 805 rows at weight 0.1 (p(1-p) ~ 0.2, E[tanh^2] ~ 0.5, E[gamma^2] ~ 2.3),
# per item. With our fitted difficulty standing in for theirs it gives a leave-one-out mean |difference| of 0.36.
ALPACA_EVAL_PRIOR = (-1.613, 0.759)
ALPACA_EVAL_PRIOR_STRENGTH = (0.02, 0.093)


@dataclass(frozen=True)
class LengthControlled:
    """One model's length_controlled_winrate in percent and its fitted coefficients (phi: length, psi:
    difficulty, theta: the model's own strength). n_items: items that entered the fit; n_unknown: judged items
    the table had no difficulty for; table_models: how many models the table was fitted on (None: not
    recorded); notes: THIN_TABLE, UNKNOWN_ITEMS, for callers to say in words (see ``message``); ci_low/ci_high:
    its 95% percentile bootstrap interval over items (None: no resamples asked for)."""

    length_controlled_winrate: float
    phi: float
    psi: float
    theta: float
    n_items: int = 0
    n_unknown: int = 0
    table_models: int | None = None
    notes: tuple[str, ...] = ()
    ci_low: float | None = None
    ci_high: float | None = None

    @property
    def weak(self) -> bool:
        """The table was fitted on too few models (THIN_TABLE): the LC is not a headline number."""
        return THIN_TABLE in self.notes

    @property
    def message(self) -> str | None:
        """The notes in words, or None."""
        words = {
            THIN_TABLE: f"difficulty table fitted on {self.table_models} model(s), fewer than the {MIN_MODELS} "
                        "it needs: the LC can be off by a few points; fit one on more models or use a published one",
            UNKNOWN_ITEMS: f"{self.n_unknown} judged item(s) not in the difficulty table were left out",
        }
        return "; ".join(words[n] for n in self.notes) or None


@dataclass(frozen=True, eq=False)
class ModelAnnotations:
    """One model against the baseline, one entry per judged item: ``items``, the item ids (strings that identify
    an item across models and tables: for AlpacaEval, the instruction's id; no longer positions into a shared
    vector), preference in [1, 2] (NaN: not judged), and the two answers' lengths in characters."""

    items: np.ndarray
    preference: np.ndarray
    length_model: np.ndarray
    length_baseline: np.ndarray

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ModelAnnotations:
        """From judgment rows with item_id, preference, length and opponent_length columns (one model's)."""
        return cls(frame["item_id"].to_numpy(dtype=str), frame["preference"].to_numpy(dtype=float),
                   frame["length"].to_numpy(dtype=float), frame["opponent_length"].to_numpy(dtype=float))

    def tanh_std_delta(self) -> np.ndarray:
        """tanh of the length difference over its standard deviation (AlpacaEval's ``np.tanh(std_delta_len)``)."""
        delta = (self.length_baseline - self.length_model).astype(float)
        sd = delta.std(ddof=1) if len(delta) > 1 else 0.0
        return np.tanh(delta / sd) if sd > 0 else np.zeros_like(delta)


@dataclass(frozen=True, eq=False)
class DifficultyTable:
    """Instruction difficulty (gamma) per item id, and the prior of each model's own fit: phi is pulled towards
    ``length_sensitivity`` and psi towards ``difficulty_weight``, with ``prior_strength`` (precision per judged
    item, for phi and psi). n_models: the pool it was fitted on (None: not recorded, as in AlpacaEval's file).
    benchmark / judge / baseline: what it was fitted for, where known; a table is only valid for those."""

    item_ids: tuple[str, ...]
    difficulty: np.ndarray
    length_sensitivity: float
    n_models: int | None
    source: str
    difficulty_weight: float = 1.0
    prior_strength: tuple[float, float] = (LENGTH_PRIOR, DIFFICULTY_PRIOR)
    benchmark: str | None = None
    judge: str | None = None
    baseline: str | None = None
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        difficulty = np.array(self.difficulty, dtype=float)
        if difficulty.shape != (len(self.item_ids),) or not len(self.item_ids):
            raise ValueError(f"{len(self.item_ids)} item ids but difficulty of shape {difficulty.shape}")

        index = {item: n for n, item in enumerate(self.item_ids)}
        if len(index) != len(self.item_ids):
            raise ValueError("duplicate item ids in a difficulty table")
        difficulty.flags.writeable = False
        object.__setattr__(self, "difficulty", difficulty)
        object.__setattr__(self, "_index", index)

    def check(self) -> None:
        """Raise ValueError if the numbers cannot come from a fit of this model: a broken or hostile table (one
        read from a file). Coefficients of a logistic model live within a few units."""
        if not np.all(np.abs(self.difficulty) <= MAX_COEFFICIENT):
            raise ValueError(f"difficulties must be finite numbers within ±{MAX_COEFFICIENT}")
        for name, value in (("length_sensitivity", self.length_sensitivity),
                            ("difficulty_weight", self.difficulty_weight)):
            if not abs(float(value)) <= MAX_COEFFICIENT:
                raise ValueError(f"{name} must be a finite number within ±{MAX_COEFFICIENT}, not {value!r}")
        if not all(0 <= float(v) <= MAX_COEFFICIENT for v in self.prior_strength):
            raise ValueError(f"prior_strength must be two finite numbers >= 0, not {self.prior_strength!r}")

    def lookup(self, item_ids: Iterable[str]) -> np.ndarray:
        """gamma for each given item id; NaN for an id the table does not know (callers skip and count those)."""
        positions = np.array([self._index.get(str(item), -1) for item in item_ids], dtype=int)
        return np.where(positions >= 0, self.difficulty[positions], np.nan)


def _bernoulli_nll(z: np.ndarray, y: np.ndarray) -> float:
    # y*log(1+e^-z) + (1-y)*log(1+e^z) == log(1+e^z) - y*z
    return float((np.logaddexp(0, z) - y * z).sum())


def _fit_coefficients(features: np.ndarray, y: np.ndarray, prior: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Logistic fit with soft labels and a Gaussian prior (diagonal precision ``penalty``) at ``prior``."""
    from scipy.special import expit

    def objective(v: np.ndarray) -> float:
        gap = v - prior
        return _bernoulli_nll(features @ v, y) + 0.5 * float((penalty * gap) @ gap)

    # A few coefficients and a strictly convex objective: damped Newton converges in a handful of steps.
    v = prior.copy()
    current = objective(v)
    ridge = 1e-9 * np.eye(len(v))
    for _ in range(100):
        p = expit(features @ v)
        gradient = features.T @ (p - y) + penalty * (v - prior)
        hessian = (features * (p * (1 - p))[:, None]).T @ features + np.diag(penalty) + ridge
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        while scale > 1e-6 and objective(v - scale * step) > current:
            scale /= 2
        v = v - scale * step
        current = objective(v)
        if np.abs(scale * step).max() < 1e-9:
            break
    return v


def _usable(annotations: ModelAnnotations) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item ids, tanh length feature, preference - 1) of the judged items. The length scale is over every
    item, judged or not, as AlpacaEval standardizes before it drops missing preferences."""
    x_len = annotations.tanh_std_delta()
    keep = ~np.isnan(annotations.preference)
    return annotations.items[keep].astype(str), x_len[keep], annotations.preference[keep] - 1.0


def _fit_joint(models: Mapping[str, ModelAnnotations], l2: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item ids, gamma per item, phi per model) from the joint fit of step 1 (see the module doc)."""
    from scipy.optimize import minimize
    from scipy.special import expit

    data = [_usable(m) for m in models.values()]
    k = len(data)
    item_ids, item = np.unique(np.concatenate([d[0] for d in data]), return_inverse=True)
    n_items = len(item_ids)
    x_len = np.concatenate([d[1] for d in data])
    y = np.concatenate([d[2] for d in data])
    model = np.concatenate([np.full(len(d[0]), i) for i, d in enumerate(data)])

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        theta, phi, gamma = w[:k], w[k:2 * k], w[2 * k:]
        z = theta[model] + phi[model] * x_len + gamma[item]
        residual = expit(z) - y
        grad = np.concatenate([
            np.bincount(model, residual, k),
            np.bincount(model, residual * x_len, k),
            np.bincount(item, residual, n_items) + l2 * gamma,
        ])
        return _bernoulli_nll(z, y) + 0.5 * l2 * float(gamma @ gamma), grad

    # Start each model's strength at the logit of its mean preference: far fewer iterations than from zero.
    start = np.zeros(2 * k + n_items)
    mean_pref = np.clip(np.bincount(model, y, k) / np.maximum(np.bincount(model, minlength=k), 1), 1e-3, 1 - 1e-3)
    start[:k] = np.log(mean_pref / (1 - mean_pref))
    w = minimize(objective, start, jac=True, method="L-BFGS-B").x
    return item_ids, w[2 * k:], w[k:2 * k]


def fit_difficulty(models: Mapping[str, ModelAnnotations], l2: float = DIFFICULTY_L2) -> DifficultyTable:
    """A difficulty table from a pool of models against one baseline: gamma from one joint fit, and as the prior
    the medians of phi and psi of every model's own fit against that gamma (see the module doc)."""
    pool = {name: m for name, m in models.items() if (~np.isnan(m.preference)).sum() >= 2}
    if not pool:
        raise ValueError("no model with at least two judged items to fit instruction difficulty on")
    item_ids, gamma, _ = _fit_joint(pool, l2)
    table = DifficultyTable(tuple(str(i) for i in item_ids), gamma, 0.0, len(pool),
                            f"fitted on {len(pool)} model(s)")
    # Each model's unpenalized fit: the medians are where a model with no information of its own would sit.
    # A vanishing penalty keeps a degenerate model (no length spread, all losses) finite; the median ignores it.
    fits = np.array([_fit_coefficients(*_design(m, table)[:2], np.zeros(3), np.full(3, 1e-6)) for m in pool.values()])
    return DifficultyTable(table.item_ids, gamma, float(np.median(fits[:, 0])), len(pool), table.source,
                           difficulty_weight=float(np.median(fits[:, 1])))


def _design(annotations: ModelAnnotations, table: DifficultyTable) -> tuple[np.ndarray, np.ndarray, int]:
    """(features [length, difficulty, 1] of the judged items the table knows, their targets, how many it
    does not know)."""
    item_ids, x_len, y = _usable(annotations)
    gamma = table.lookup(item_ids)
    known = ~np.isnan(gamma)
    features = np.stack([x_len[known], gamma[known], np.ones(int(known.sum()))], axis=1)
    return features, y[known], int((~known).sum())


def length_controlled_winrate(annotations: ModelAnnotations, table: DifficultyTable,
                              length_sensitivity: float | None = None, n_bootstrap: int = 0,
                              seed: int = DEFAULT_SEED) -> LengthControlled:
    """One model's length-controlled win rate, from its own annotations and a difficulty table alone: the same
    model gets the same number whatever else is evaluated. Items the table does not know are left out and
    counted (n_unknown). ``length_sensitivity`` overrides the table's prior centre for phi. ``n_bootstrap``:
    resamples of items for its 95% interval (``bootstrap_interval``). See the module doc."""
    from scipy.special import expit

    features, y, n_unknown = _design(annotations, table)
    if len(y) < 2 or len(y) < MIN_KNOWN_SHARE * (len(y) + n_unknown):
        raise ValueError(f"only {len(y)} judged item(s) with a known difficulty ({n_unknown} unknown to the "
                         f"table {table.source!r}): is it the table of this benchmark?")
    phi_prior = table.length_sensitivity if length_sensitivity is None else length_sensitivity
    prior = np.array([phi_prior, table.difficulty_weight, 0.0])
    penalty = len(y) * np.array([*table.prior_strength, 0.0])
    phi, psi, theta = _fit_coefficients(features, y, prior, penalty)
    lc = float(expit(psi * features[:, 1] + theta).mean() * 100)
    notes: list[str] = []
    if table.n_models is not None and table.n_models < MIN_MODELS:
        notes.append(THIN_TABLE)
    if n_unknown:
        notes.append(UNKNOWN_ITEMS)
    low, high = (bootstrap_interval(features, y, prior, penalty, np.array([phi, psi, theta]), n_bootstrap, seed)
                 if n_bootstrap else (None, None))
    return LengthControlled(lc, float(phi), float(psi), float(theta), n_items=len(y), n_unknown=n_unknown,
                            table_models=table.n_models, notes=tuple(notes), ci_low=low, ci_high=high)


# Newton steps of a bootstrap refit, and the largest step of one coefficient: started at the full sample's fit,
# a resample's converges in a handful; the cap keeps a model that wins (or loses) every item from overshooting.
_REFIT_STEPS = 50
_MAX_STEP = 5.0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """expit, in place on ``z`` (a temporary): a few times faster than scipy's on the (resample, item) arrays."""
    with np.errstate(over="ignore"):  # exp(-z) overflows to inf for z << 0, and 1 / (1 + inf) is the 0 wanted
        np.negative(z, out=z)
        np.exp(z, out=z)
    z += 1
    return np.reciprocal(z, out=z)


def bootstrap_interval(features: np.ndarray, y: np.ndarray, prior: np.ndarray, penalty: np.ndarray,
                       start: np.ndarray, n_bootstrap: int, seed: int = DEFAULT_SEED,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the LC win rate over items: the model's fit (features [length,
    difficulty, 1], targets, the Gaussian prior) is refitted on each resample of its items, the difficulty table
    held fixed (as AlpacaEval holds its published one), and the LC recomputed on that resample. The resamples are
    the win rate's own (stats.winrate.resample_count_blocks, the same seed): the two intervals come from the
    same draws of items. All resamples are fitted at once, Newton's method on a (resample, coefficient) array."""
    n = len(y)
    values: list[np.ndarray] = []
    squares = (features[:, :, None] * features[:, None, :]).reshape(n, -1)  # x x^T of each item, flattened
    ridge = np.diag(penalty) + 1e-9 * np.eye(len(prior))
    for counts in resample_count_blocks(n, n_bootstrap, seed):
        v = np.tile(start, (len(counts), 1))
        for _ in range(_REFIT_STEPS):
            p = _sigmoid(v @ features.T)
            gradient = (counts * (p - y)) @ features + penalty * (v - prior)
            p *= 1 - p
            p *= counts
            hessian = (p @ squares).reshape(len(counts), len(prior), len(prior)) + ridge
            step = np.clip(np.linalg.solve(hessian, gradient[:, :, None])[:, :, 0], -_MAX_STEP, _MAX_STEP)
            v -= step
            # Quadratic convergence: the step after this one would move an LC by far less than 1e-6 points.
            if np.abs(step).max() < 1e-7:
                break
        predicted = _sigmoid(v[:, 1:2] * features[:, 1] + v[:, 2:3])
        values.append((counts * predicted).sum(axis=1) / n * 100)
    alpha = (1 - level) / 2
    low, high = np.quantile(np.concatenate(values), [alpha, 1 - alpha])
    return float(low), float(high)


def length_controlled_winrates(models: Mapping[str, ModelAnnotations],
                               table: DifficultyTable | None = None) -> dict[str, LengthControlled]:
    """Every model's LC with one table: the given one, else one fitted on these models (its note says when
    they are too few)."""
    table = table if table is not None else fit_difficulty(models)
    return {name: length_controlled_winrate(m, table) for name, m in models.items()}
