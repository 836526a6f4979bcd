"""Judges side by side: each judge's Bradley-Terry ranking of the same benchmark's battles, and how far each
agrees with the reference ranking (the human votes' where there are any). Pure: a judgments frame in, typed
comparisons out."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..stats.battle_ranking import BattleRanking, games_frame, rank_battles
from ..stats.correlation import RankCorrelation, ranking_correlation

HUMAN = "human"
MIN_MODELS = 3  # fewer models in common give no rank correlation worth printing
AGREE_BOOTSTRAP = 500  # resamples of the correlations' intervals: `judgebench agree`'s default


@dataclass(frozen=True)
class JudgeRanking:
    """One judge's ranking of a benchmark's battles; ``agreement``: Spearman/Kendall of its scores against the
    reference judge's over the models both ranked (None for the reference itself, or with too few models in
    common: ``n_common`` says how many)."""

    judge: str
    ranking: BattleRanking
    n_games: int
    n_common: int
    agreement: RankCorrelation | None


@dataclass(frozen=True)
class JudgeComparison:
    """A benchmark whose battles more than one judge judged. reference: the judge the others are compared with
    ("human" when people voted, else the judge with the most games); models: every ranked model, in the
    reference's order then the others' by name."""

    benchmark: str
    reference: str
    models: tuple[str, ...]
    judges: tuple[JudgeRanking, ...]


def _agreement(reference: pd.DataFrame, games: pd.DataFrame, n_bootstrap: int) -> tuple[int, RankCorrelation | None]:
    """(models in common, Spearman/Kendall of the two games' Bradley-Terry rankings): stats.correlation's
    ranking_correlation, the judge's games first and the reference's second, as `judgebench agree` calls it."""
    common = (set(reference["model_a"]) | set(reference["model_b"])) & (set(games["model_a"]) | set(games["model_b"]))
    if len(common) < MIN_MODELS:
        return len(common), None
    _, correlation = ranking_correlation(games, reference, n_bootstrap=n_bootstrap)
    return len(common), correlation


def compare_judges(frame: pd.DataFrame, n_bootstrap: int = AGREE_BOOTSTRAP,
                   n_bootstrap_scores: int = 0) -> list[JudgeComparison]:
    """One comparison per benchmark with battles (judgments against another model) from two or more judges.
    ``n_bootstrap``: resamples of both sets of games for the correlations' intervals (`agree`'s default);
    ``n_bootstrap_scores``: resamples of games for each Bradley-Terry score's interval (none by default: each is
    a refit, half a minute for 200 on AlpacaEval's 40,000 games, and the comparison needs only the scores)."""
    comparisons = []
    for benchmark, by_benchmark in frame.groupby("benchmark", sort=True):
        games = {str(judge): games_frame(group) for judge, group in by_benchmark.groupby("judge", sort=True)}
        games = {judge: g for judge, g in games.items() if not g.empty}
        if len(games) < 2:
            continue
        reference = HUMAN if HUMAN in games else min(games, key=lambda judge: (-len(games[judge]), judge))
        rankings = {judge: rank_battles(g, n_bootstrap=n_bootstrap_scores) for judge, g in games.items()}
        order = [m.model for m in rankings[reference].raw]
        others = sorted({m.model for r in rankings.values() for m in r.raw} - set(order))
        judges = []
        for judge in [reference, *sorted(set(games) - {reference})]:
            n_common, agreement = ((len(order), None) if judge == reference
                                   else _agreement(games[reference], games[judge], n_bootstrap))
            judges.append(JudgeRanking(judge, rankings[judge], len(games[judge]), n_common, agreement))
        comparisons.append(JudgeComparison(str(benchmark), reference, (*order, *others), tuple(judges)))
    return comparisons
