"""An escalation report (analysis.escalation) as the text `judgebench escalate` prints, and as JSON."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from ..analysis.escalation import EscalationReport


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}%"


def _interval(low: float, high: float) -> str:
    return "" if math.isnan(low) else f" [{100 * low:.1f}, {100 * high:.1f}]"


def _usd(value: float) -> str:
    return f"{value:,.4f}" if value < 100 else f"{value:,.2f}"


def format_escalation(report: EscalationReport) -> str:
    """The threshold, coverage, agreement reached (in and out of sample) beside each judge alone, and the costs."""
    choice, out = report.choice, report.held_out
    threshold = "none (nothing escalated)" if choice.threshold is None else f"confidence <= {choice.threshold:.4g}"
    reached = "" if choice.reached else f" (target {_pct(report.target)} NOT reached: the best possible is shown)"
    lines = [
        f"cheap judge:  {report.cheap}",
        f"escalate to:  {report.strong}",
        f"target:       {_pct(report.target)} agreement with the labels, on {choice.n} labelled items",
        f"threshold:    {threshold}{reached}",
        f"coverage:     {_pct(choice.coverage)} of the labelled items decided by the cheap judge alone; "
        f"{report.n_items - report.n_escalated} of all {report.n_items} items ({report.n_escalated} escalated)",
        f"agreement:    {_pct(choice.agreement)}{_interval(*report.interval)} (threshold chosen on these items)",
        f"held out:     {_pct(out.agreement)}{_interval(out.low, out.high)} at coverage {_pct(out.coverage)} "
        f"({out.folds}-fold cross-fitting: each item's threshold chosen on the other items)",
        f"cheap alone:  {_pct(report.cheap_agreement)}",
        f"strong alone: {_pct(report.strong_agreement)}",
    ]
    if report.unpriced:
        names = ", ".join(report.unpriced)
        lines.append(f"cost:         not computed: no price for {names} (add --cost-per-1000 "
                     f"{report.unpriced[0]}=USD for each; the saving needs the prices of both judges)")
    elif report.costs is None:
        lines.append("cost:         no prices (--cost-per-1000 NAME=USD, or judgments that carry tokens)")
    else:
        c = report.costs
        lines += [f"cost per 1,000 items (USD): cheap {_usd(c.cheap)}, strong {_usd(c.strong)}, escalated "
                  f"{_usd(c.escalated)} (cheap on all + strong on {_pct(report.n_escalated / report.n_items)})",
                  f"saving:       {_pct(c.saving)} of judging everything with {report.strong}"]
    return "\n".join(lines)


def escalation_json(report: EscalationReport) -> dict[str, Any]:
    """The report as one JSON object (NaN as null), coverage included."""
    value = asdict(report)
    value["choice"]["coverage"] = report.choice.coverage
    value["coverage_all"] = 1 - report.n_escalated / report.n_items if report.n_items else None
    return _finite(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
