"""`judgebench calibrate`: per judge and quantity, each model's judge-only, labels-only and PPI++ estimate."""

from __future__ import annotations

from ..analysis.calibrated import Calibrated, Calibration, Estimate
from .tables import render_table

# How each quantity is printed: win rates as percentages, strengths (logits) and grades as numbers.
SCALE = {"win rate": (100.0, 1, "%"), "pair win rate": (100.0, 1, "%"), "strength": (1.0, 2, ""),
         "mean grade": (1.0, 2, "")}


def _estimate(e: Estimate | None, quantity: str) -> str:
    if e is None:
        return "-"
    factor, digits, unit = SCALE[quantity]
    return (f"{factor * e.value:.{digits}f}{unit} "
            f"[{factor * e.low:.{digits}f}, {factor * e.high:.{digits}f}]")


def _row(c: Calibrated) -> list[str]:
    name = c.model if c.opponent is None else f"{c.model} vs {c.opponent}"
    return [name, _estimate(c.judge_only, c.quantity), _estimate(c.labels_only, c.quantity),
            _estimate(c.ppi, c.quantity), f"{c.lam:.2f}", str(c.n_labelled), str(c.n_items),
            "-" if c.effective_labels is None else f"{c.effective_labels:.0f}"]


def format_calibration(calibration: Calibration) -> str:
    """One table per judge and quantity; 95% intervals; effective labels: the labels the labels-only estimate
    would need to be as precise as PPI++."""
    header = ["model", "judge only", "labels only", "PPI++", "lambda", "labelled", "items", "effective labels"]
    lines: list[str] = []
    groups: dict[tuple[str, str], list[Calibrated]] = {}
    for c in calibration.estimates:
        groups.setdefault((c.judge, c.quantity), []).append(c)
    for (judge, quantity), rows in groups.items():
        title = f"{judge}: {quantity} (95% intervals)"
        if rows[0].reference:
            title += f", Bradley-Terry logit against {rows[0].reference} (= 0)"
            if rows[0].method != "ppi-python":
                title += "; labels with ties: judgebench's own PPI++ logistic (ppi-python's takes labels of 0 or 1)"
        if quantity == "pair win rate":
            title += ", the first model's against the second"
        lines += [""] if lines else []
        lines += [title, render_table(header, [_row(c) for c in rows])]
    unmatched = [f"{judge}: {n} labelled battle(s) or answer(s) match no judgment" for judge, n in
                 calibration.n_unmatched if n]
    lines += [f"note: {text}" for text in unmatched]
    return "\n".join(lines)
