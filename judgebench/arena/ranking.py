"""The human ranking of an arena: Bradley-Terry over the counted votes, read through the same reader and the same
games as ``judgebench stats --battles arena.sqlite``, with the vote counts and the voters' consistency notes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..analysis.battles import BattleGroup, BattleRow, battle_groups
from ..analysis.records import read_judgments
from ..formats.arena_db import VoteCounts, vote_counts
from ..stats.battle_ranking import BATTLE_BOOTSTRAP, Unranked
from . import hygiene
from .store import Vote, read_votes


@dataclass(frozen=True)
class VoterReport:
    """One voter's votes today (UTC) and in all, and their consistency on repeated battles."""

    voter: str
    votes_today: int
    votes_total: int
    consistency: hygiene.Consistency

    def describe(self) -> str:
        return (f"{self.voter}: {self.votes_today} votes today, {self.votes_total} in all; "
                f"{self.consistency.describe()}")


@dataclass(frozen=True)
class ArenaRanking:
    """The ranking page's content: the rows `judgebench stats --battles` prints for the arena (raw and
    style-controlled Bradley-Terry, interval ranks), the vote counts and the consistency notes."""

    anchor: str | None
    models: tuple[BattleRow, ...]
    n_votes: int
    n_counted: int
    n_flagged: int
    n_checks: int
    notes: tuple[str, ...]
    style_note: str | None = None
    # Models whose every vote was left out (flagged) or failed: no score; and why there is no ranking at all.
    unranked: tuple[Unranked, ...] = ()
    empty_note: str | None = None


# The last ranking computed per database, with the votes it was computed from: the page asks every few seconds, and
# a bootstrap over thousands of votes is not redone while no vote has come in.
_LAST: dict[Path, tuple[tuple[int, str, int], ArenaRanking]] = {}


def voter_reports(votes: list[Vote], voters: list[str], today: str | None = None) -> list[VoterReport]:
    """Each voter's report; a consistency check pairs a repeat's vote with the vote on the battle it repeated."""
    today = today or datetime.now(timezone.utc).date().isoformat()
    by_id = {v.battle_id: v for v in votes}
    mine: dict[str, list[Vote]] = defaultdict(list)
    for v in votes:
        mine[v.voter].append(v)
    reports = []
    for name in voters:
        checks = [(hygiene.choice_class(by_id[v.check_of].winner, by_id[v.check_of].model_a,
                                        by_id[v.check_of].model_b),
                   hygiene.choice_class(v.winner, v.model_a, v.model_b))
                  for v in mine[name] if v.check_of is not None and v.check_of in by_id]
        today_count = sum(hygiene.utc_day(datetime.fromisoformat(v.created)) == today for v in mine[name])
        reports.append(VoterReport(name, today_count, len(mine[name]), hygiene.consistency(checks)))
    return reports


def _empty_note(counts: VoteCounts, group: BattleGroup | None) -> str | None:
    """Why the ranking is empty, in words; None when it is not."""
    if group is not None and group.rows:
        return None
    if not counts.n_votes:
        return "no ranking yet: no vote has been cast"
    return (f"no ranking: none of the {counts.n_votes} votes is counted ({counts.n_flagged} flagged because an "
            f"answer gave its model away, {counts.n_checks} consistency repeats)")


def arena_ranking(db: Path, n_bootstrap: int = BATTLE_BOOTSTRAP) -> ArenaRanking:
    """The human ranking of the counted votes: ``analysis.battles.battle_groups`` on the arena's judgments, with
    the bootstrap count `stats --battles` uses by default, so both show the same numbers."""
    votes = read_votes(db)
    state = (len(votes), votes[-1].created if votes else "", n_bootstrap)  # the resamples change the intervals
    cached = _LAST.get(Path(db).resolve())
    if cached is not None and cached[0] == state:
        return cached[1]
    counts = vote_counts(votes)
    voters = sorted({v.voter for v in votes})
    notes = tuple(f"{r.voter}: {r.consistency.describe()}" for r in voter_reports(votes, voters)
                  if r.consistency.n_checks and not r.consistency.better_than_chance)
    # Every vote is read, flagged ones too: a model whose every vote was flagged is listed as unranked, and the
    # anchor is chosen among the models that have a counted vote (stats.battle_ranking.anchor_of).
    groups = battle_groups(read_judgments([db], fmt="arena").frame, n_bootstrap=n_bootstrap) \
        if counts.n_votes > counts.n_checks else []
    group = groups[0] if groups else None
    ranking = ArenaRanking(group.baseline if group else None, group.rows if group else (), counts.n_votes,
                           counts.n_counted, counts.n_flagged, counts.n_checks, notes,
                           " ".join(n for n in (group.style_note, group.separation_note) if n) or None
                           if group else None, group.unranked if group else (), _empty_note(counts, group))
    _LAST[Path(db).resolve()] = (state, ranking)
    return ranking
