"""Score rows -> the plain-text tables that `judgebench run`, `stats` and `show` print (the same table for the
same rows, whichever command prints it)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..analysis.flags import agreement_text, flag_notes, lc_text
from ..formats.identity import benchmark_label
from ..judging.kinds import kind_of
from ..types import ScoreRow

if TYPE_CHECKING:
    import pandas as pd

    # (For the agreement tables' signatures only: a run's score tables need none of analysis.agreement's statistics.)
    from ..analysis.agreement import ModelAgreement, PairwiseAgreement, RankingAgreement, ScoreAgreement


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pair(low: float | None, high: float | None, digits: int) -> str:
    return "-" if low is None or high is None else f"[{low:.{digits}f}, {high:.{digits}f}]"


def _interval(row: ScoreRow, digits: int) -> str:
    return _pair(row.ci_low, row.ci_high, digits)


def render_table(header: list[str], body: list[list[str]]) -> str:
    """A plain-text table: the header, a rule, and each row, columns padded to their widest cell. Every text table
    judgebench prints is drawn by this one function (publish.calibrated, costs and battle_tables too)."""
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in body]
    return "\n".join(lines)


def _grades_table(rows: Sequence[ScoreRow]) -> str:
    turns = sorted({t for r in rows for t, _ in r.per_turn})
    categories = sorted({c for r in rows for c, _ in r.per_category})
    header = ["benchmark", "judge", "model", "score", "95% CI", "expected", *(f"turn {t}" for t in turns),
              *categories, "judged", "failed", "parse failures", "empty"]
    body = []
    for r in rows:
        per_turn, per_category = dict(r.per_turn), dict(r.per_category)
        body.append([benchmark_label(r.benchmark, r.protocol), r.judge, r.model, _num(r.score, 3), _interval(r, 2),
                     _num(r.expected_score),
                     *(_num(per_turn.get(t)) for t in turns), *(_num(per_category.get(c)) for c in categories),
                     str(r.n_judged), str(r.n_failed), str(r.n_parse_failures), str(r.n_empty)])
    return render_table(header, body)


def _comparisons_table(rows: Sequence[ScoreRow]) -> str:
    header = ["benchmark", "judge", "model", "reference", "LC win rate", "LC 95% CI", "win rate", "95% CI", "SE",
              "order agree", "wins", "draws", "losses", "judged", "failed", "parse failures", "empty", "avg len"]
    body = [[benchmark_label(r.benchmark, r.protocol), r.judge, r.model, r.opponent or "-", lc_text(r),
             _pair(r.lc_ci_low, r.lc_ci_high, 1),
             _num(r.score), _interval(r, 1), _num(r.standard_error), agreement_text(r), str(r.n_wins),
             str(r.n_draws), str(r.n_losses), str(r.n_judged), str(r.n_failed), str(r.n_parse_failures),
             str(r.n_empty), _num(r.avg_length, 0)] for r in rows]
    notes = _notes(rows)
    return "\n".join([render_table(header, body), *notes])


def _notes(rows: Sequence[ScoreRow]) -> list[str]:
    """The rows' flags in words (analysis.flags), each naming its model and, where several judged, its judge."""
    several = len({r.judge for r in rows}) > 1
    return sorted({f"note: {r.model}{f' (judge {r.judge})' if several else ''}: {note}"
                   for r in rows for note in flag_notes(r)})


def _battles_table(rows: Sequence[ScoreRow]) -> str:
    header = ["benchmark", "judge", "model", "BT score", "95% CI", "anchor", "wins", "draws", "losses", "order agree",
              "judged", "failed", "parse failures", "empty", "avg len"]
    body = [[benchmark_label(r.benchmark, r.protocol), r.judge, r.model, _num(r.score), _interval(r, 1),
             r.opponent or "-", str(r.n_wins),
             str(r.n_draws), str(r.n_losses), agreement_text(r), str(r.n_judged), str(r.n_failed),
             str(r.n_parse_failures), str(r.n_empty), _num(r.avg_length, 0)] for r in rows]
    notes = _notes(rows)
    return "\n".join([render_table(header, body), *notes])


def format_scores(rows: Sequence[ScoreRow]) -> str:
    """One table per kind of judgment (grades; comparisons with a reference; battles between candidates), in the
    rows' order."""
    graded = [r for r in rows if kind_of(r.kind).has_grades]
    battles = [r for r in rows if kind_of(r.kind).compares_models]
    compared = [r for r in rows if not kind_of(r.kind).has_grades and not kind_of(r.kind).compares_models]
    tables = (([_grades_table(graded)] if graded else []) + ([_comparisons_table(compared)] if compared else [])
              + ([_battles_table(battles)] if battles else []))
    return "\n\n".join(tables) if tables else "(no judgments)"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _ci(pair: tuple[float | None, float | None]) -> str:
    return "-" if pair[0] is None or pair[1] is None else f"[{pair[0]:.2f}, {pair[1]:.2f}]"


def format_agreement(items: Sequence[PairwiseAgreement], rankings: Sequence[RankingAgreement]) -> str:
    """`judgebench agree` with pairwise labels: per judge and category, then the rankings' correlations."""
    header = ["judge", "category", "agree with ties (S1)", "n", "agree without ties (S2)", "n", "Cohen's kappa"]
    body = []
    for a in items:
        body.append([a.judge, "all", _share(a.s1), str(a.n_s1), _share(a.s2), str(a.n_s2), _num(a.cohen_kappa)])
        body += [[a.judge, category, _share(c.s1), str(c.n_s1), _share(c.s2), str(c.n_s2), _num(c.cohen_kappa)]
                 for category, c in a.per_category]
    lines = [render_table(header, body)]
    lines += [f"note: {a.judge}: {a.n_unmatched} label(s) match no judgment of this judge (another item, pair of "
              "models or turn)" for a in items if a.n_unmatched]
    if rankings:
        header = ["judge", "models", "Spearman", "95% CI", "Kendall", "95% CI", "judge's games", "labels' games"]
        lines += ["", "Bradley-Terry ranking of each judge against the labels' ranking:", render_table(header, [
            [r.judge, str(len(r.models)), _num(r.spearman), _ci(r.spearman_ci), _num(r.kendall), _ci(r.kendall_ci),
             str(r.n_judge_games), str(r.n_label_games)] for r in rankings])]
    else:
        lines.append("(no rank correlation: no judge shares three models with the labels)")
    return "\n".join(lines)


def format_model_agreement(agreement: ModelAgreement, label_column: str) -> str:
    """`judgebench agree --label-column`: the judge's ranking of the models against the labels' column."""
    header = ["models", "Spearman", "95% CI", "Kendall", "95% CI"]
    body = [[str(agreement.n), _num(agreement.spearman), _ci(agreement.spearman_ci), _num(agreement.kendall),
             _ci(agreement.kendall_ci)]]
    return "\n".join([f"The judge's ranking of the models against the labels' {label_column!r}:",
                      render_table(header, body),
                      f"models: {', '.join(agreement.models)}"])


def format_score_agreement(agreement: ScoreAgreement) -> str:
    """`judgebench agree` with grade labels: Spearman and quadratic-weighted kappa over the grades."""
    header = ["grades", "Spearman", "Cohen's kappa (quadratic)", "Brier (expected)", "ECE (expected)"]
    table = render_table(header, [[str(agreement.n), _num(agreement.spearman), _num(agreement.cohen_kappa_quadratic),
                              _num(agreement.brier, 3), _num(agreement.ece, 3)]])
    if agreement.n_calibration:
        table += (f"\nBrier / ECE: the judge's expected grade (,logprobs) against the labels' over "
                  f"{agreement.n_calibration} grades, both on [0, 1] by the scale")
    return table


def _finite(value: Any) -> float | None:
    """A frame's number, or None where it holds none (None or NaN)."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _agreement_text(row: Any, key: str) -> str:
    value = _finite(row.get(key))
    if value is None:
        return "-"
    low, high = _finite(row.get(f"{key}_low")), _finite(row.get(f"{key}_high"))
    interval = _pair(None if low is None else 100 * low, None if high is None else 100 * high, 1)
    return f"{100 * value:.1f} {interval}" if interval != "-" else f"{100 * value:.1f}"


def _three(value: float) -> str:
    return f"{value:.3f}"


def _count(value: float) -> str:
    return f"{value:.0f}"


# The judges-against-labels table (analysis.judge_labels.label_frame), as `judgebench judges --labels` prints it and
# the site's Judges page shows it (`leaderboard --labels`): (header, the frame's column, how its cell reads, what it
# means). The agreements' cells carry their interval; a cell of None shows the value of its column as it is.
LABEL_CELLS: tuple[tuple[str, str, Any, str], ...] = (
    ("judge", "judge", str, "The judge configuration."),
    ("labels", "labels", str, "The label set: a labels file, or the reference judge whose verdicts are the labels."),
    ("n", "n", _count, "Labels matched by the judge's verdicts."),
    ("S1 with ties [95% CI]", "s1", "s1", "Share of labels the judge agrees with, a tie a verdict of its own (%)."),
    ("S2 without ties [95% CI]", "s2", "s2", "The same over the labels where neither side is a tie (%)."),
    ("kappa", "cohen_kappa", _three, "Cohen's kappa over first / second model / tie."),
    ("ties: labels", "label_ties", _share, "How often the labels call a tie."),
    ("ties: judge", "judge_ties", _share, "How often the judge does, on the same labels."),
    ("consistency", "consistency", _share, "Position consistency: same verdict in both orders, over the matched "
                                           "verdicts asked in both."),
    ("prefers longer", "prefers_longer", _share, "How often the judge chose the longer answer (decided labels, "
                                                 "different lengths)."),
    ("labels longer", "labels_longer", _share, "How often the labels did, on the same pairs."),
    ("Brier", "brier", _three, "Brier score of the judge's probability, where its verdict carries one."),
    ("ECE", "ece", _three, "Expected calibration error (10 bins) of that probability."),
)


def label_cells(row: Any) -> list[tuple[float | str | None, str]]:
    """One judge against one label set (a row of analysis.judge_labels.label_frame) as (its value, the text shown)
    per ``LABEL_CELLS`` column."""
    cells: list[tuple[float | str | None, str]] = []
    for _, key, show, _ in LABEL_CELLS:
        if show is str:
            cells.append((str(row.get(key)), str(row.get(key))))
            continue
        value = _finite(row.get(key))
        text = _agreement_text(row, show) if isinstance(show, str) else "-" if value is None else show(value)
        cells.append((value, text))
    return cells


def format_label_judges(frame: pd.DataFrame) -> str:
    """`judgebench judges --labels`: analysis.judge_labels' frame, one row per judge and label set (``LABEL_CELLS``):
    agreement with ties (S1) and without (S2) in % with 95% intervals, Cohen's kappa, the labels' and the judge's
    tie rates, position consistency, the length bias beside the labels' own, and Brier / ECE where the judge's
    verdict is a probability."""
    header = [h for h, _, _, _ in LABEL_CELLS]
    body = [[text for _, text in label_cells(row)] for _, row in frame.iterrows()]
    notes = ["S1: share of labels the judge agrees with, a tie being a verdict of its own; S2: over the labels where "
             "neither side is a tie (MT-Bench paper); kappa: Cohen's over first / second / tie; prefers longer / "
             "labels longer: over the same decided pairs of different lengths; Brier and ECE (10 bins): the judge's "
             "preference read as a probability, against the labels that are not ties"]
    return "\n".join([render_table(header, body), *notes])


def format_judges(frame: pd.DataFrame) -> str:
    """`judgebench judges`: analysis.judge_accuracy's frame, one row per judge: accuracy in % with its 95% interval,
    overall and per source group, position consistency, and how often the longer response was preferred."""
    from ..analysis.judge_accuracy import GROUPS

    groups = [g for g in GROUPS if g.lower() in frame.columns]

    def cell(row: pd.Series, key: str) -> str:
        value = _finite(row.get(key))
        if value is None:
            return "-"
        interval = _pair(_finite(row.get(f"{key}_low")), _finite(row.get(f"{key}_high")), 1)
        return f"{value:.2f} {interval}" if interval != "-" else f"{value:.2f}"

    header = ["judge", "orders", "pairs", "accuracy [95% CI]", *groups, "consistency", "prefers longer (labels)",
              "no decision"]
    body = [[str(row["judge"]), str(row["orders"]), str(row["n_pairs"]), cell(row, "accuracy"),
             *(cell(row, g.lower()) for g in groups), _share(_finite(row["consistency"])),
             f"{_share(_finite(row['prefers_longer']))} ({_share(_finite(row['labels_longer']))})",
             _share(_finite(row["no_decision"]))]
            for _, row in frame.iterrows()]
    notes = ["accuracy: JudgeBench's metric (both orders: a pair is correct when the orders agreeing with the label "
             "outnumber those against it; a one-order judge: its decision is the label), in %"]
    return "\n".join([render_table(header, body), *notes])


def _tokens(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


# The judges' profile table (analysis.judge_profiles), as `judgebench judges` prints it and the site's Judges page
# shows it: (header, the frame's column, how its cell reads, what it means).
PROFILE_CELLS: tuple[tuple[str, str, Any, str], ...] = (
    ("judge", "judge", str, "The judge configuration."),
    ("judgments", "n_judgments", lambda v: f"{v:.0f}", "Its judgments (both orders of a pair are one)."),
    ("failed", "failure_rate", _share, "Share of judgments without a value."),
    ("parse failures", "parse_failure_rate", _share, "Share of judgments whose reply did not parse."),
    ("consistency", "consistency", _share, "Position consistency: same verdict in both orders."),
    ("both orders", "n_both_orders", lambda v: f"{v:.0f}", "Questions asked in both orders."),
    ("prefers longer", "prefers_longer", _share, "Share of decided pairs of different lengths won by the longer "
                                                 "answer."),
    ("pairs", "n_longer", lambda v: f"{v:.0f}", "Decided pairs with answers of different lengths."),
    ("self-preference", "self_preference", _signed, "Largest preference for its own family's model, against other "
                                                    "families' judges (difference in differences)."),
    ("95% CI", "self_preference_low", None, "Bootstrap interval of the self-preference."),
    ("prompt tok/1k", "prompt_tokens_per_1000", _tokens, "Prompt tokens per 1,000 judgments."),
    ("completion tok/1k", "completion_tokens_per_1000", _tokens, "Completion tokens per 1,000 judgments."),
    ("USD/1k", "cost_per_1000_usd", _usd, "Cost per 1,000 judgments: as the files record it (AlpacaEval's "
                                          "price per example), else from tokens at the price table's price (0: no "
                                          "price entry)."),
    ("s/1k", "seconds_per_1000", lambda v: f"{v:,.1f}", "Judge seconds per 1,000 judgments."),
    ("flip rate", "flip_rate", _share, "Repeated asks: share of prompts whose replies disagree."),
    ("grade SD", "grade_sd", lambda v: f"{v:.3f}", "Repeated asks: mean SD of a prompt's grades."),
)


def profile_cells(row: Any) -> list[tuple[float | str | None, str]]:
    """One judge's profile (a row of analysis.judge_profiles' frame) as (its value, the text shown) per
    ``PROFILE_CELLS`` column."""
    cells: list[tuple[float | str | None, str]] = []
    for _, key, show, _ in PROFILE_CELLS:
        raw = row.get(key)
        value: float | str | None = str(raw) if key == "judge" else _finite(raw)
        if show is None:  # the self-preference interval: both ends in one cell
            text = _pair(_finite(row.get("self_preference_low")), _finite(row.get("self_preference_high")), 3)
        else:
            text = "-" if value is None else show(value)
        if key == "self_preference" and row.get("self_preference_model") and value is not None:
            text += f" ({row['self_preference_model']})"
        cells.append((value, text))
    return cells


def format_judge_profiles(frame: pd.DataFrame) -> str:
    """`judgebench judges` without labels: analysis.judge_profiles' frame, one row per judge, in its ranking."""
    header = [h for h, _, _, _ in PROFILE_CELLS]
    body = [[text for _, text in profile_cells(row)] for _, row in frame.iterrows()]
    notes = ["ranked by position consistency, then parse failures; cost as AlpacaEval's files record it, else at the "
             "price table's prices (--prices), 0 where no entry prices the judge's model"]
    if frame.empty or frame["flip_rate"].isna().all():
        notes.append("flip rate, grade SD: no prompt was asked more than once")
    return "\n".join([render_table(header, body), *notes])
