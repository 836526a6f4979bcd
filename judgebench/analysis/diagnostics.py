"""Judge diagnostics over a judgments frame: position bias, panel agreement, self-preference, saturation.

Pure: a frame in, a typed ``Diagnostics`` out. Flags are typed (``Flag`` with a ``FlagKind``), so badges and
tests select them by kind, benchmark, judge and model, never by the wording of a message; the thresholds are
in thresholds.py. `judgebench run` prints the report after every run; `judgebench diagnose` computes it for any
runs or judgment files.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from ..constants import DIAGNOSTIC_BOOTSTRAP, SELF_PREFERENCE_BOOTSTRAP
from ..judging.kinds import JudgingKind, kind_of
from ..lazy import on_first_use
from ..stats.agreement import cohen_kappa, fleiss_kappa
from ..stats.grouped import sorted_codes
from ..stats.position_bias import PositionBias, position_bias
from ..stats.saturation import SaturationSection, saturation_of
from ..stats.self_preference import SelfPreference, leave_one_judge_out, self_preference, unmeasured_self_preference
from . import thresholds
from .columns import Table
from .records import canonical_order

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = on_first_use("pandas")


class FlagKind(str, enum.Enum):
    SATURATED = "saturated"
    LOW_SEPARABILITY = "low separability"
    LOW_POSITION_CONSISTENCY = "low position consistency"
    SELF_PREFERENCE = "self-preference"
    SAME_FAMILY = "same family as judge"


@dataclass(frozen=True)
class Flag:
    """A diagnostic worth a look. ``model`` / ``category`` are None when the flag concerns the whole judge or
    benchmark."""

    kind: FlagKind
    benchmark: str
    judge: str
    message: str
    model: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class JudgeSaturation:
    benchmark: str
    judge: str
    overall: SaturationSection
    per_category: tuple[SaturationSection, ...]


@dataclass(frozen=True)
class KappaPair:
    judges: tuple[str, str]
    n: int
    cohen_kappa: float | None
    exact_agreement: float


@dataclass(frozen=True)
class RankingAgreement:
    judges: tuple[str, str]
    n_models: int
    spearman: float | None


@dataclass(frozen=True)
class PanelAgreement:
    """Two or more judges on the same judgments. ``aggregate``: the panel's verdict per model (the mean grade
    over judges, or the win rate of the majority verdict: ``aggregate_kind``)."""

    benchmark: str
    judges: tuple[str, ...]
    pairs: tuple[KappaPair, ...]
    fleiss_kappa: float | None
    n_complete: int
    ranking_spearman: tuple[RankingAgreement, ...]
    aggregate: tuple[tuple[str, float], ...]
    aggregate_kind: str


@dataclass(frozen=True)
class LeaveOneJudgeOut:
    benchmark: str
    judge: str
    ranking: tuple[str, ...]


@dataclass(frozen=True)
class Diagnostics:
    flags: tuple[Flag, ...] = ()
    position_bias: tuple[PositionBias, ...] = ()
    position_bias_by_category: tuple[PositionBias, ...] = ()
    position_bias_by_pair: tuple[PositionBias, ...] = ()
    saturation: tuple[JudgeSaturation, ...] = ()
    self_preference: tuple[tuple[str, SelfPreference], ...] = ()
    leave_one_judge_out: tuple[LeaveOneJudgeOut, ...] = ()
    panel_agreement: tuple[PanelAgreement, ...] = field(default=())

    def flags_for(self, benchmark: str, judge: str, model: str) -> tuple[Flag, ...]:
        """The flags that concern one model's row: the judge's and the model's own, not a category's."""
        return tuple(f for f in self.flags if f.benchmark == benchmark and f.judge == judge
                     and f.model in (None, model) and f.category is None)

    def to_json(self) -> dict[str, Any]:
        """Strict JSON (NaN -> null), for --json and summary.json."""
        cleaned: dict[str, Any] = _clean(asdict(self))
        return cleaned


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (np.floating, float)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def panel_agreement(benchmark: str, frame: pd.DataFrame) -> PanelAgreement | None:
    """Agreement of two or more judges on the same judgments (of one kind), and the panel's aggregate (over every
    model the judgments concern: both models of a battle)."""
    judges = sorted(frame["judge"].unique())
    if len(judges) < 2:
        return None
    kind = kind_of(str(frame["kind"].iloc[0]))
    data = frame.assign(label=kind.label(frame), value=kind.value(frame)).dropna(subset=["label"])
    sided = kind.both_sides(frame)
    sided = sided.assign(label=kind.label(sided), value=kind.value(sided)).dropna(subset=["label"])
    # Every judge gets a column, also one whose verdicts all failed to parse (its column is then empty).
    wide = data.pivot_table(index=["item_id", "turn", "model", "opponent"], columns="judge", values="label",
                            aggfunc="first", dropna=False).reindex(columns=judges)
    wide = wide.dropna(how="all")
    pairs = []
    for a, b in combinations(judges, 2):
        both = wide[[a, b]].dropna()
        if both.empty:
            continue
        pairs.append(KappaPair((a, b), len(both), cohen_kappa(list(both[a]), list(both[b]),
                                                              weights="quadratic" if kind.has_grades else None),
                               float((both[a] == both[b]).mean())))
    complete = wide[judges].dropna()
    fleiss = None
    if len(complete):
        categories = sorted({v for j in judges for v in complete[j]})
        table = np.array([[sum(1 for j in judges if row[j] == c) for c in categories]
                          for _, row in complete.iterrows()])
        fleiss = fleiss_kappa(table)
    per_model = sided.groupby(["judge", "model"])["value"].mean().unstack("model").reindex(index=judges)
    rank_corr = []
    if len(judges) > 1:  # scipy.stats (about a second to import) only where a panel's rankings are compared
        from scipy.stats import spearmanr
    for a, b in combinations(judges, 2):
        shared = per_model.loc[[a, b]].dropna(axis=1)
        rho = spearmanr(shared.loc[a], shared.loc[b]).statistic if shared.shape[1] >= 3 else None
        rank_corr.append(RankingAgreement((a, b), int(shared.shape[1]),
                                          None if rho is None or np.isnan(rho) else float(rho)))
    if kind.has_grades:
        means = wide.astype(float).mean(axis=1).groupby(level="model").mean()
        aggregate = tuple((str(m), float(v)) for m, v in means.items())
        aggregate_kind = "mean score over judges"
    else:
        def majority(row: pd.Series) -> str | None:
            counts = row.dropna().value_counts()
            if counts.empty or (len(counts) > 1 and counts.iloc[0] == counts.iloc[1]):
                return "tie"
            return str(counts.index[0])

        sided_wide = sided.pivot_table(index=["item_id", "turn", "model", "opponent"], columns="judge",
                                       values="label", aggfunc="first", dropna=False).reindex(columns=judges)
        points = sided_wide.dropna(how="all").apply(majority, axis=1).map({"win": 1.0, "tie": 0.5, "loss": 0.0})
        aggregate = tuple((str(m), float(100 * v)) for m, v in points.groupby(level="model").mean().items())
        aggregate_kind = "win rate of the majority verdict"
    return PanelAgreement(benchmark, tuple(judges), tuple(pairs), fleiss, len(complete), tuple(rank_corr),
                          aggregate, aggregate_kind)


def _saturation_flags(benchmark: str, judge: str, section: SaturationSection) -> list[Flag]:
    where = f"its {section.category} grades" if section.category else "its grades"
    flags = []
    for shares in section.per_model:
        if shares.n < thresholds.MIN_GRADES or shares.share_max is None:
            continue
        if shares.share_max >= thresholds.SHARE_AT_MAX:
            message = (f"saturated: {shares.model} gets the top grade {section.high} on {shares.share_max:.0%} "
                       f"of {where}")
        elif shares.share_top2 is not None and shares.share_top2 >= thresholds.SHARE_AT_TOP_TWO:
            message = (f"saturated: {shares.model} gets {section.high - 1} or {section.high} on "
                       f"{shares.share_top2:.0%} of {where}")
        else:
            continue
        flags.append(Flag(FlagKind.SATURATED, benchmark, judge, message, shares.model, section.category))
    n_models = len([s for s in section.per_model if s.n])
    if (section.category is None and section.separability is not None and n_models >= 3
            and section.separability <= thresholds.MIN_SEPARABILITY):
        flags.append(Flag(FlagKind.LOW_SEPARABILITY, benchmark, judge,
                          f"low separability: only {section.separability:.0%} of model pairs have non-overlapping "
                          "95% intervals"))
    return flags


def _judge_saturation(benchmark: str, judge: str, grades: Table, n_bootstrap: int) -> JudgeSaturation:
    # Each judgment carries its task's scale; files without one (none of ours) are graded 1-10.
    highs, lows = grades["scale_high"], grades["scale_low"]
    high = int(np.nanmax(highs)) if (~np.isnan(highs)).any() else 10
    # A rubric's scale is [0, 1]: its top grade is a full score, and it has no "top two" values.
    low = float(np.nanmin(lows)) if (~np.isnan(lows)).any() else None
    overall = saturation_of(grades["model"], grades["score"], high, n_bootstrap=n_bootstrap, low=low)
    per_category = tuple(saturation_of(part["model"], part["score"], high, category=str(category),
                                       n_bootstrap=n_bootstrap, low=low)
                         for (category,), part in grades.groups("category"))
    return JudgeSaturation(benchmark, judge, overall, per_category)


def _saturation(benchmark: str, judge: str, grades: Table, n_bootstrap: int) -> tuple[JudgeSaturation, list[Flag]]:
    """A judge's saturation on one benchmark, and its flags."""
    result = _judge_saturation(benchmark, judge, grades, n_bootstrap)
    return result, [flag for section in (result.overall, *result.per_category)
                    for flag in _saturation_flags(benchmark, judge, section)]


def diagnoses_table(kind: JudgingKind, n_judges: int) -> bool:
    """Whether ``diagnose_table`` gives a group's diagnostics: one judge (no panel to compare), and a kind whose
    judgments are of one model in one order (no position bias; every value its own model's)."""
    return n_judges <= 1 and not kind.has_orders and not kind.compares_models


def diagnose_table(table: Table, families: Mapping[str, Sequence[str]] | None = None,
                   n_bootstrap: int = DIAGNOSTIC_BOOTSTRAP) -> Diagnostics:
    """``diagnose`` of a table in the canonical order (analysis.columns.Table.of_store), no frame built, where every
    (benchmark, kind) group is one ``diagnoses_table`` gives: its saturation and its self-preference rows (with one
    judge, each a same-family note)."""
    table = table.where(table["failure"] != "pending")
    flags: list[Flag] = []
    saturation: list[JudgeSaturation] = []
    preference: list[tuple[str, SelfPreference]] = []
    for (benchmark, kind_name), part in table.groups("benchmark", "kind"):
        benchmark = str(benchmark)
        kind = kind_of(str(kind_name))
        judges = sorted_codes(part["judge"])[1]
        if not diagnoses_table(kind, len(judges)):
            raise ValueError(f"diagnose_table: {len(judges)} judges of kind {kind.name} need diagnose's frame")
        if kind.has_grades:
            for (judge,), grades in part.groups("judge"):
                result, found = _saturation(benchmark, str(judge), grades, n_bootstrap)
                saturation.append(result)
                flags += found
        for row in unmeasured_self_preference(judges, sorted_codes(part["model"])[1], families):
            preference.append((benchmark, row))
            flags.append(Flag(FlagKind.SAME_FAMILY, benchmark, row.judge, row.note or "", row.model))
    return Diagnostics(tuple(flags), saturation=tuple(saturation), self_preference=tuple(preference))


def diagnose(frame: pd.DataFrame, families: Mapping[str, Sequence[str]] | None = None,
             n_bootstrap: int = DIAGNOSTIC_BOOTSTRAP) -> Diagnostics:
    """All diagnostics, per benchmark and task kind. Judgments still waiting in provider batches (run --batch) say
    nothing about a judge yet and are left out."""
    # Intervals resample rows by position: the same judgments in any order give the same diagnostics.
    frame = canonical_order(frame[frame["failure"] != "pending"])
    flags: list[Flag] = []
    bias: list[PositionBias] = []
    bias_by_category: list[PositionBias] = []
    bias_by_pair: list[PositionBias] = []
    saturation: list[JudgeSaturation] = []
    preference: list[tuple[str, SelfPreference]] = []
    leave_out: list[LeaveOneJudgeOut] = []
    panels: list[PanelAgreement] = []
    # Per benchmark, not per protocol: two judges of different protocols grading the same answers (our judge and
    # AlpacaEval's GPT-4 annotations) are compared as a panel. Scores are never mixed: analysis.scores splits them.
    for (benchmark, kind_name), part in frame.groupby(["benchmark", "kind"], sort=True):
        benchmark = str(benchmark)
        kind = kind_of(str(kind_name))
        if kind.has_orders:
            overall = position_bias(part, ["benchmark", "judge"])
            bias += overall
            bias_by_category += position_bias(part, ["benchmark", "judge", "category"])
            bias_by_pair += position_bias(part, ["benchmark", "judge", "model", "opponent"])
            flags += [Flag(FlagKind.LOW_POSITION_CONSISTENCY, benchmark, str(row.judge),
                           f"low position consistency: {row.consistent:.0%} of {row.n} questions get the same "
                           f"verdict in both orders (biased to first {row.biased_first:.0%}, to second "
                           f"{row.biased_second:.0%})")
                      for row in overall if row.error < 1.0 and row.consistent < thresholds.LOW_CONSISTENCY]
        if kind.has_grades:
            for judge, grades in part.groupby("judge", sort=True):
                result, found = _saturation(benchmark, str(judge), Table.of_frame(grades), n_bootstrap)
                saturation.append(result)
                flags += found
        sided = kind.both_sides(part)
        valued = sided.assign(value=kind.value(sided))
        for row in self_preference(valued, families, n_bootstrap=min(n_bootstrap, SELF_PREFERENCE_BOOTSTRAP)):
            preference.append((benchmark, row))
            if row.value is None:
                flags.append(Flag(FlagKind.SAME_FAMILY, benchmark, row.judge, row.note or "", row.model))
            elif row.ci_low is not None and row.ci_low > 0:
                flags.append(Flag(FlagKind.SELF_PREFERENCE, benchmark, row.judge,
                                  f"favours its own family's {row.model} by {row.value:+.2f} (95% CI "
                                  f"{row.ci_low:+.2f} to {row.ci_high:+.2f})", row.model))
        leave_out += [LeaveOneJudgeOut(benchmark, judge, tuple(models))
                      for judge, models in leave_one_judge_out(valued).items()]
        agreement = panel_agreement(benchmark, part)
        if agreement is not None:
            panels.append(agreement)
    return Diagnostics(tuple(flags), tuple(bias), tuple(bias_by_category), tuple(bias_by_pair), tuple(saturation),
                       tuple(preference), tuple(leave_out), tuple(panels))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def format_report(report: Diagnostics) -> str:
    """The readable form: flags first, then one short block per diagnostic."""
    lines = ["Flags:"] + ([f"  ! {f.benchmark} (judge {f.judge}): {f.message}"
                          + (f" [{f.category}]" if f.category else "") for f in report.flags] or ["  (none)"])
    for row in report.position_bias:
        lines.append(f"\nPosition bias, {row.benchmark}, judge {row.judge} (consistent / biased to first / to "
                     f"second / error): {row.consistent:.1%} / {row.biased_first:.1%} / {row.biased_second:.1%} / "
                     f"{row.error:.1%}  (n={row.n})")
    for sat in report.saturation:
        lines.append(f"\nSaturation, {sat.benchmark}, judge {sat.judge} (scale top {sat.overall.high}): "
                     f"separability {_pct(sat.overall.separability)}")
        for shares in sat.overall.per_model:
            if shares.n:
                top2 = "" if shares.share_top2 is None else f", top two {_pct(shares.share_top2)}"
                lines.append(f"  {shares.model}: top grade {_pct(shares.share_max)}{top2} (n={shares.n})")
    for benchmark, preference in report.self_preference:
        if preference.value is not None:
            low = "-" if preference.ci_low is None else f"{preference.ci_low:+.3f}"
            high = "-" if preference.ci_high is None else f"{preference.ci_high:+.3f}"
            lines.append(f"\nSelf-preference, {benchmark}: {preference.judge} on {preference.model}: "
                         f"{preference.value:+.3f} [{low}, {high}] vs {', '.join(preference.compared_with)}")
    for agreement in report.panel_agreement:
        fleiss = "-" if agreement.fleiss_kappa is None else f"{agreement.fleiss_kappa:.3f}"
        lines.append(f"\nPanel agreement, {agreement.benchmark}: Fleiss' kappa {fleiss} over "
                     f"{agreement.n_complete} judgments")
        for pair in agreement.pairs:
            kappa = "-" if pair.cohen_kappa is None else f"{pair.cohen_kappa:.3f}"
            lines.append(f"  {pair.judges[0]} vs {pair.judges[1]}: Cohen's kappa {kappa}, "
                         f"exact agreement {pair.exact_agreement:.0%} (n={pair.n})")
        aggregate = ", ".join(f"{m} {v:.2f}" for m, v in agreement.aggregate)
        lines.append(f"  panel ({agreement.aggregate_kind}): {aggregate}")
    return "\n".join(lines)
