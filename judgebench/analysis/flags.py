"""The flags on headline numbers, in words: a weak LC win rate (ScoreRow.lc_weak) and a win rate whose ties come
from the judge's two orders disagreeing (ScoreRow.order_biased). One marker and one note per flag, the same in
the text tables (`run`, `stats`), the Markdown download and the site."""

from __future__ import annotations

from typing import Protocol

from ..stats.position_bias import LOW_CONSISTENCY

# The markers beside a flagged number, in every text table and on the site (publish.tables, publish.pages, the
# Markdown download); the notes say why.
WEAK_MARK = "(weak)"
BIASED_MARK = "(biased)"


class Flagged(Protocol):
    """What the flags are read from: a ScoreRow, or a leaderboard row made from one (frozen: read-only)."""

    @property
    def model(self) -> str: ...
    @property
    def length_controlled_winrate(self) -> float | None: ...
    @property
    def lc_weak(self) -> bool: ...
    @property
    def lc_note(self) -> str | None: ...
    @property
    def order_agreement(self) -> float | None: ...
    @property
    def order_biased(self) -> bool: ...


def lc_text(row: Flagged) -> str:
    """The LC win rate, with WEAK_MARK when its difficulty table is too thin for a headline."""
    value = "-" if row.length_controlled_winrate is None else f"{row.length_controlled_winrate:.2f}"
    return value + (f" {WEAK_MARK}" if row.lc_weak else "")


def agreement_text(row: Flagged) -> str:
    """The order agreement in percent, with BIASED_MARK when most ties come from disagreeing orders."""
    if row.order_agreement is None:
        return "-"
    return f"{100 * row.order_agreement:.0f}%" + (f" {BIASED_MARK}" if row.order_biased else "")


def flag_notes(row: Flagged) -> list[str]:
    """Why a row's numbers are flagged, in words: one note per flag (the LC's note where it is not flagged)."""
    notes = []
    if row.lc_weak:
        notes.append(f"LC {WEAK_MARK}: {row.lc_note}; ranked by the win rate instead")
    elif row.lc_note:
        notes.append(f"LC {row.lc_note}")
    if row.order_biased and row.order_agreement is not None:
        notes.append(f"order agreement {BIASED_MARK} {100 * row.order_agreement:.0f}%, below "
                     f"{100 * LOW_CONSISTENCY:.0f}%: most ties are the judge's two orders disagreeing (position "
                     "bias), not answers of equal quality; the win rate measures the judge, not the model")
    return notes
