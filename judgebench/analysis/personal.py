"""Does a judge with a person's preference profile agree with that person's own votes better than the generic
judge? (`judgebench personal`.)

The votes: one voter's pairwise votes (an arena database's counted votes, or a pairwise labels export with a
``voter`` column: formats.labels). Each judge configuration (protocol, judge) of the judgments gives its own outcome
on a voted battle (item, the two models, turn): a pairwise or battles judgment its verdict (a combined preference
above 1.5 for the model, below for the opponent, 1.5 a tie), a single or rubric judgment its two scores (the
higher score wins; equal scores are a tie). Agreement: the share of the voter's votes on which the judge's outcome
is the voter's (a tie agreeing with a tie), with a 95% percentile bootstrap interval over the votes. The profile's
judge (protocol ``profile-NAME``, tasks.profile) is compared with every other configuration on the votes both
decide: the mean of (profile agrees - other agrees) with a paired bootstrap interval (stats.rubric).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..constants import DEFAULT_BOOTSTRAP
from ..errors import DataError
from ..stats.rubric import paired_difference
from .aggregate import interval
from .agreement import pairwise_labels

TIE = "tie"
AGREEMENT_TABLE = ["benchmark", "protocol", "judge", "profile", "n_votes", "n_ties", "agreement", "ci_low",
                   "ci_high"]
DIFFERENCE_TABLE = ["benchmark", "profile_judge", "protocol", "judge", "n_votes", "profile_agreement", "agreement",
                    "difference", "ci_low", "ci_high"]


@dataclass(frozen=True)
class PersonalReport:
    """One voter's votes beside each judge configuration (``agreement``: ``AGREEMENT_TABLE``) and the profile's
    judge against each other one (``differences``: ``DIFFERENCE_TABLE``)."""

    voter: str
    n_votes: int
    agreement: pd.DataFrame
    differences: pd.DataFrame

    def to_json(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        return {"voter": self.voter, "n_votes": self.n_votes, "agreement": records(self.agreement),
                "differences": records(self.differences)}


def voter_votes(labels: pd.DataFrame, voter: str) -> pd.DataFrame:
    """A voter's pairwise votes (formats.labels.read_labels) as item_id, model_a, model_b, turn, winner (a model's
    name or "tie"), benchmark (None where the labels name none)."""
    if "voter" not in labels.columns or labels["voter"].isna().all():
        raise DataError("the votes name no voter: give an arena database, or a labels file with a voter column")
    mine = labels[labels["voter"].astype(str) == voter]
    if mine.empty:
        known = sorted(labels["voter"].dropna().astype(str).unique())
        raise DataError(f"no counted vote by voter {voter!r}; the voters are: {', '.join(known[:20])}")
    votes = pairwise_labels(mine).reset_index(drop=True)
    votes["benchmark"] = mine["benchmark"].astype(str).tolist() if "benchmark" in mine.columns else None
    return votes


def _outcome(first: str, second: str, better: float) -> str:
    return first if better > 0 else second if better < 0 else TIE


def judge_outcomes(frame: pd.DataFrame) -> dict[tuple[str, str, str], dict[tuple[str, frozenset[str], int], str]]:
    """(benchmark, protocol, judge) -> {(item, the two models, turn): the winner's name or "tie"}: from pairwise
    verdicts where the judgments have them, else from two scores of the same item. A battle judged twice (both
    sides' judgments) keeps its first verdict; failed judgments give none."""
    found: dict[tuple[str, str, str], dict[tuple[str, frozenset[str], int], str]] = {}
    ok = frame[frame["error"].isna()]
    pairs = ok[ok["opponent"].notna() & ok["preference"].notna()]
    for key, group in pairs.groupby(["benchmark", "protocol", "judge"], sort=True):
        mine = found.setdefault(tuple(map(str, key)), {})  # type: ignore[arg-type]
        for item, model, opponent, turn, preference in zip(group["item_id"], group["model"], group["opponent"],
                                                           group["turn"], group["preference"], strict=True):
            battle = (str(item), frozenset((str(model), str(opponent))), int(turn))
            mine.setdefault(battle, _outcome(str(model), str(opponent), float(preference) - 1.5))
    scored = ok[ok["opponent"].isna() & ok["score"].notna()]
    for key, group in scored.groupby(["benchmark", "protocol", "judge"], sort=True):
        mine = found.setdefault(tuple(map(str, key)), {})  # type: ignore[arg-type]
        by_item: dict[tuple[str, int], dict[str, float]] = {}
        for item, model, turn, score in zip(group["item_id"], group["model"], group["turn"], group["score"],
                                            strict=True):
            by_item.setdefault((str(item), int(turn)), {})[str(model)] = float(score)
        for (item, turn), scores in by_item.items():
            models = sorted(scores)
            for i, a in enumerate(models):
                for b in models[i + 1:]:
                    mine.setdefault((item, frozenset((a, b)), turn), _outcome(a, b, scores[a] - scores[b]))
    return found


def personal_report(frame: pd.DataFrame, votes: pd.DataFrame, voter: str, profile_protocol: str,
                    n_bootstrap: int = DEFAULT_BOOTSTRAP) -> PersonalReport:
    """The voter's ``votes`` (``voter_votes``) beside every judge configuration of a judgments frame, and the
    profile's judges (``profile_protocol``) against the others (see the module doc). Votes of another benchmark
    than a judgment's are not compared with it."""
    outcomes = judge_outcomes(frame)
    battles = [(str(i), frozenset((str(a), str(b))), int(t)) for i, a, b, t in
               zip(votes["item_id"], votes["model_a"], votes["model_b"], votes["turn"], strict=True)]
    benchmarks = votes["benchmark"].tolist() if votes["benchmark"].notna().all() else [None] * len(votes)
    winners = votes["winner"].astype(str).tolist()
    hits: dict[tuple[str, str, str], np.ndarray] = {}  # per configuration, per vote: 1 agrees, 0 not, nan unjudged
    rows = []
    for (benchmark, protocol, judge), theirs in sorted(outcomes.items()):
        found = np.full(len(votes), np.nan)
        for n, (battle, vote_benchmark, winner) in enumerate(zip(battles, benchmarks, winners, strict=True)):
            if vote_benchmark not in (None, benchmark) or battle not in theirs:
                continue
            found[n] = float(theirs[battle] == winner)
        judged = found[~np.isnan(found)]
        if not len(judged):
            continue
        hits[(benchmark, protocol, judge)] = found
        ties = sum(theirs[b] == TIE for b, f in zip(battles, found, strict=True) if not np.isnan(f))
        low, high = interval(judged, n_bootstrap)
        rows.append((benchmark, protocol, judge, protocol == profile_protocol, len(judged), ties,
                     float(judged.mean()), low, high))
    agreement = pd.DataFrame(rows, columns=AGREEMENT_TABLE)
    if agreement.empty:
        raise DataError(f"no judgment decides a battle voter {voter!r} voted on: the judgments need the voted items "
                        "and both models' answers (or their pairwise verdicts), of the votes' benchmark")
    if not agreement["profile"].any():
        raise DataError(f"no judgment of protocol {profile_protocol!r} decides a voted battle: judge the voted items "
                        "with `judgebench run --profile` for each voted model, and give those runs too")
    differences = []
    for ours, other in ((m, t) for m in hits if m[1] == profile_protocol for t in hits if t[1] != profile_protocol):
        if ours[0] != other[0]:
            continue
        both = ~np.isnan(hits[ours]) & ~np.isnan(hits[other])
        a, b = hits[ours][both], hits[other][both]
        mean, low, high = paired_difference(a, b, n_bootstrap)
        differences.append((ours[0], ours[2], other[1], other[2], int(both.sum()),
                            float(a.mean()) if len(a) else None, float(b.mean()) if len(b) else None,
                            None if np.isnan(mean) else mean, low, high))
    return PersonalReport(voter, len(votes), agreement, pd.DataFrame(differences, columns=DIFFERENCE_TABLE))
