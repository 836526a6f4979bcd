"""Judges without labels: one row per judge configuration of a judgments frame (``judge_profiles``), what
`judgebench judges` prints for runs and judgment files, the site's Judges page and ``Results.judges()``.

Every number that exists elsewhere comes from the function that computes it there: failures from
analysis.aggregate's counts, position consistency and self-preference from analysis.diagnostics (with its bootstrap,
constants.DIAGNOSTIC_BOOTSTRAP), the share preferring the longer answer from stats.judge_accuracy (as `judgebench
judges` computes it against labels), cost from clients.pricing's prices. Tokens and time come from the requests each
judgment records (formats.table's judge_* columns). Labels add accuracy and agreement beside these (`--labels`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd

from ..clients.pricing import PriceEntry, PriceTable, builtin_prices
from ..constants import DIAGNOSTIC_BOOTSTRAP
from ..formats import judgebench as store
from ..formats.table import Column
from ..stats.judge_accuracy import LongerShare, longer_share
from ..stats.self_preference import SelfPreference
from ..types import Endpoint
from .aggregate import count_failures
from .diagnostics import Diagnostics, diagnose
from .judge_variance import judge_variance

PER = 1000  # judgments: the unit of AlpacaEval's evaluator table (price and time per 1,000 examples)

# The columns of ``judge_profiles``, in order: the docs' table is made from this list (docs/gen_reference.py).
PROFILE_COLUMNS: tuple[Column, ...] = (
    Column("judge", "str", "The judge configuration (the judgments' `judge` label)."),
    Column("benchmarks", "str", "The benchmarks it judged, comma-separated."),
    Column("n_judgments", "int", "Its judgments (one per question, both orders of a pair together), those waiting "
                                 "in provider batches left out."),
    Column("failure_rate", "float", "Share of its judgments without a value (the score tables' `failed`)."),
    Column("parse_failure_rate", "float", "Share of its judgments whose reply did not parse."),
    Column("consistency", "float", "Position consistency: share of the questions asked in both orders that got the "
                                   "same verdict in both (`judgebench diagnose`'s, pooled over benchmarks)."),
    Column("n_both_orders", "int", "The questions asked in both orders behind `consistency` (a failed one included, as "
                                   "`diagnose` counts it; 0 when every one failed)."),
    Column("prefers_longer", "float", "Share of its decided pairs (not a tie) with answers of different lengths "
                                      "in which it preferred the longer answer."),
    Column("n_longer", "int", "Those decided pairs with answers of different lengths."),
    Column("self_preference", "float", "The largest self-preference of the judge over its own family's models "
                                       "(`judgebench diagnose`: a difference in differences against judges of other "
                                       "families; > 0 favours its own family); None without such a model or panel."),
    Column("self_preference_low", "float", "Its 95% bootstrap interval's lower end."),
    Column("self_preference_high", "float", "Its upper end."),
    Column("self_preference_model", "str", "The model of the judge's family it concerns."),
    Column("prompt_tokens_per_1000", "float", "Prompt tokens per 1,000 judgments (over the judgments that record "
                                              "them)."),
    Column("completion_tokens_per_1000", "float", "Completion tokens per 1,000 judgments."),
    Column("cost_per_1000_usd", "float", "USD per 1,000 judgments: what the files record (AlpacaEval's "
                                         "`price_per_example`), else the price table's price for the judge's model "
                                         "(0 when no entry prices it: see `priced_as`); None without either."),
    Column("priced_as", "str", "The price table entry that priced the judge's model, `recorded` for a cost the files "
                               "record; None when none did."),
    Column("seconds_per_1000", "float", "Seconds the judge took per 1,000 judgments (its requests' latencies "
                                        "summed; AlpacaEval's `time_per_example`)."),
    Column("flip_rate", "float", "Repeated asks of the same prompt: share of prompts whose replies disagree; None "
                                 "where no prompt was asked more than once."),
    Column("grade_sd", "float", "Repeated asks: mean standard deviation of a prompt's grades; None likewise."),
)
COLUMN_NAMES = [c.name for c in PROFILE_COLUMNS]


def judge_profiles(frame: pd.DataFrame, prices: Mapping[str, PriceEntry | None] | None = None,
                   families: Mapping[str, Sequence[str]] | None = None,
                   report: Diagnostics | None = None) -> pd.DataFrame:
    """One row per judge configuration of ``frame`` (a judgments frame), columns ``PROFILE_COLUMNS``, ranked by
    position consistency (highest first, judges without one last), then by parse failures (fewest first).
    ``prices``: judge label -> the price entry of its model (``judge_prices``); ``report``: the frame's diagnostics
    when the caller has them (else computed here, with DIAGNOSTIC_BOOTSTRAP resamples)."""
    frame = frame[frame["failure"] != "pending"]
    report = diagnose(frame, families, n_bootstrap=DIAGNOSTIC_BOOTSTRAP) if report is None else report
    records = [_profile(str(judge), part, report, (prices or {}).get(str(judge)))
               for judge, part in frame.groupby("judge", sort=True)]
    table = pd.DataFrame.from_records(records, columns=COLUMN_NAMES)
    # The schema's types whatever the rows hold: a number none of the judges has is NaN, not None.
    table = table.astype({c.name: {"float": "float64", "int": "int64"}.get(c.dtype, "object") for c in PROFILE_COLUMNS})
    if table.empty:
        return table
    order = table.assign(_c=table["consistency"].astype(float).fillna(-1.0)).sort_values(
        ["_c", "parse_failure_rate", "judge"], ascending=[False, True, True], kind="stable")
    return table.loc[order.index].reset_index(drop=True)


def _profile(judge: str, part: pd.DataFrame, report: Diagnostics, price: PriceEntry | None) -> dict[str, object]:
    n_failed, n_parse, _ = count_failures(part)
    n = len(part)
    # As diagnose's flag: a judge none of whose questions got a verdict in both orders (each one failed) has no
    # consistency to speak of, not one of 0.
    bias = [row for row in report.position_bias if row.judge == judge and row.error < 1.0]
    n_orders = sum(row.n for row in bias)
    consistency = sum(row.consistent * row.n for row in bias) / n_orders if n_orders else None
    longer = _longer(part)
    preference = _strongest([row for _, row in report.self_preference if row.judge == judge])
    return {"judge": judge, "benchmarks": ", ".join(sorted(part["benchmark"].astype(str).unique())),
            "n_judgments": n, "failure_rate": n_failed / n, "parse_failure_rate": n_parse / n,
            "consistency": consistency, "n_both_orders": n_orders,
            "prefers_longer": None if np.isnan(longer.share) else longer.share, "n_longer": longer.n,
            "self_preference": preference.value if preference else None,
            "self_preference_low": preference.ci_low if preference else None,
            "self_preference_high": preference.ci_high if preference else None,
            "self_preference_model": preference.model if preference else None,
            **_usage(part, price), **_variance(part)}


def _variance(part: pd.DataFrame) -> dict[str, object]:
    """flip_rate and grade_sd from judge_variance (the one computation of them); None for a judge asked once."""
    row = judge_variance(part).iloc[0]
    return {"flip_rate": None if np.isnan(row["flip_rate"]) else float(row["flip_rate"]),
            "grade_sd": None if np.isnan(row["grade_sd"]) else float(row["grade_sd"])}


def _longer(part: pd.DataFrame) -> LongerShare:
    """How often the judge preferred the longer answer: stats.judge_accuracy.longer_share (the labelled table's
    number) over its pairwise judgments with a preference (above 1.5: the candidate; 1.5: a tie, left out)."""
    sided = part[part["preference"].notna() & part["length"].notna() & part["opponent_length"].notna()]
    preference = sided["preference"].to_numpy(dtype=float)
    choices = ["A" if p > 1.5 else "B" if p < 1.5 else None for p in preference]
    return longer_share(choices, sided["length"].tolist(), sided["opponent_length"].tolist())


def _strongest(rows: Sequence[SelfPreference]) -> SelfPreference | None:
    measured = [row for row in rows if row.value is not None]
    return max(measured, key=lambda row: (row.value, row.model)) if measured else None


RECORDED_PRICE = "recorded"  # priced_as for a judge whose files record what each judgment cost (AlpacaEval's)


def _usage(part: pd.DataFrame, price: PriceEntry | None) -> dict[str, object]:
    """Tokens, cost and time per 1,000 judgments, over the judgments that record their requests (or, in other
    harnesses' files, their time). A cost the files record (AlpacaEval's price_per_example) is taken as it is,
    over the judgments that record one; else the tokens at ``price``."""
    recorded = part[part["judge_calls"].notna() | part["judge_latency_s"].notna()]
    tokens = recorded[recorded["judge_prompt_tokens"].notna() | recorded["judge_completion_tokens"].notna()]
    prompt = int(tokens["judge_prompt_tokens"].fillna(0).sum())
    completion = int(tokens["judge_completion_tokens"].fillna(0).sum())
    costs = part["judge_cost_usd"].dropna() if "judge_cost_usd" in part else pd.Series(dtype=float)
    cost, priced_as = None, None
    if len(costs):
        cost, priced_as = float(costs.sum()) * PER / len(costs), RECORDED_PRICE
    elif len(tokens):
        cost = (price.price.cost(prompt, completion) if price else 0.0) * PER / len(tokens)
        priced_as = price.model if price else None
    return {"prompt_tokens_per_1000": prompt * PER / len(tokens) if len(tokens) else None,
            "completion_tokens_per_1000": completion * PER / len(tokens) if len(tokens) else None,
            "cost_per_1000_usd": cost, "priced_as": priced_as,
            "seconds_per_1000": float(recorded["judge_latency_s"].fillna(0).sum()) * PER / len(recorded)
            if len(recorded) else None}


_ENDPOINT_FIELDS = {f.name for f in fields(Endpoint)}


def judge_prices(paths: Sequence[str | Path], table: PriceTable | None = None) -> dict[str, PriceEntry | None]:
    """Judge label -> the entry of ``table`` (default: the built-in one) that prices its model, for the judges
    that judgebench runs among ``paths`` recorded (their config.json names each judge's endpoint); the first run
    naming a judge decides. Judges of other harnesses' files are not here: their files record no tokens."""
    table = builtin_prices() if table is None else table
    found: dict[str, PriceEntry | None] = {}
    for path in paths:
        for run in store.run_dirs(Path(path)):
            for judge in store.read_config(run).get("judges") or []:
                endpoint = judge.get("endpoint") if isinstance(judge, dict) else None
                if isinstance(endpoint, dict) and isinstance(judge.get("name"), str) and judge["name"] not in found:
                    known = {k: v for k, v in endpoint.items() if k in _ENDPOINT_FIELDS}
                    known["replicas"] = tuple(known.get("replicas") or ())
                    found[judge["name"]] = table.for_endpoint(Endpoint(**known))
    return found
