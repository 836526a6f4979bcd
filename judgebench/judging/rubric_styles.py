"""The variants of the rubric kind (``judge.style``), one class each, found through ``STYLES``: what a criterion
of the style carries (points, levels), how its verdicts are asked for and read, and how they make a score. The
task loader (tasks.rubric), the lint (tasks.rubric_lint) and the kind (judging.rubric) ask the style; none of
them branches on its name.

- ``points`` (HealthBench): criteria with nonzero points, negative for what an answer must not do; met or not.
- ``checklist`` (WildBench): yes/no questions worth one point each (a question may be written alone).
- ``score`` (Prometheus 2): one criterion per item with a description per level; the judge picks a level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from ..errors import DataError
from ..stats.rubric import level_score, rubric_score
from ..types import Criterion, CriterionVerdict, Verdict
from .rubric_verdicts import criteria_schema, met_schema, parse_criteria_json, parse_met_json, parse_met_text
from .verdicts import parse_score_json, parse_score_text, score_schema


class PointsStyle:
    """Criteria with points, each met or not (see the module doc)."""

    name: ClassVar[str] = "points"
    # A criterion must give its points (else every one is worth a point and gives none).
    needs_points: ClassVar[bool] = True
    # A criterion may be written as its text alone (a checklist's question).
    plain_text: ClassVar[bool] = False
    # A criterion describes its levels, lowest first, and the judge picks one.
    has_levels: ClassVar[bool] = False

    def groups(self, criteria: Sequence[Criterion], per_criterion: bool) -> list[tuple[Criterion, ...]]:
        """The criteria of each request for an item, in order: all in one, or one per request."""
        return [(c,) for c in criteria] if per_criterion else [tuple(criteria)]

    def schema(self, criteria: Sequence[Criterion], per_criterion: bool) -> dict[str, Any]:
        return met_schema() if per_criterion else criteria_schema([c.id for c in criteria])

    def read(self, text: str, criteria: Sequence[Criterion], per_criterion: bool, *, json: bool, truncated: bool,
             answers: Sequence[str]) -> Verdict:
        """A reply that passed the kind's checks -> the verdicts of ``criteria`` (judging.rubric_verdicts)."""
        if per_criterion:
            ident = criteria[0].id
            return (parse_met_json(text, ident, truncated=truncated, answers=answers) if json
                    else parse_met_text(text, ident, truncated=truncated))
        return parse_criteria_json(text, [c.id for c in criteria], whole=json, truncated=truncated, answers=answers)

    def verdicts(self, criteria: Sequence[Criterion], verdicts: Sequence[Verdict]) -> tuple[CriterionVerdict, ...]:
        """Every criterion's verdict from the requests' (None where none was read)."""
        met = {ident: value for v in verdicts for ident, value in v.criteria}
        return tuple(CriterionVerdict(c.id, met.get(c.id), c.points, c.tags, c.text, c.scope) for c in criteria)

    def score(self, criteria: Sequence[Criterion], verdicts: Sequence[CriterionVerdict]) -> float:
        """The item's score from its criteria's complete verdicts (stats.rubric.rubric_score)."""
        return rubric_score([(c.points, bool(c.met)) for c in verdicts])

    def nothing_met(self, criteria: Sequence[Criterion]) -> tuple[CriterionVerdict, ...]:
        """The verdicts of an answer that meets nothing (an empty one)."""
        return tuple(CriterionVerdict(c.id, False, c.points, c.tags, c.text, c.scope) for c in criteria)


class ChecklistStyle(PointsStyle):
    """Yes/no questions worth a point each."""

    name = "checklist"
    needs_points = False
    plain_text = True


class ScoreStyle(PointsStyle):
    """One criterion with a description per level; the score is (level - 1) / (levels - 1)."""

    name = "score"
    needs_points = False
    has_levels = True

    def groups(self, criteria: Sequence[Criterion], per_criterion: bool) -> list[tuple[Criterion, ...]]:
        return [tuple(criteria)]  # one criterion: one request in either mode

    def schema(self, criteria: Sequence[Criterion], per_criterion: bool) -> dict[str, Any]:
        return score_schema(1, len(criteria[0].levels))

    def read(self, text: str, criteria: Sequence[Criterion], per_criterion: bool, *, json: bool, truncated: bool,
             answers: Sequence[str]) -> Verdict:
        high = len(criteria[0].levels)
        return (parse_score_json(text, 1, high, truncated=truncated, answers=answers) if json
                else parse_score_text(text, 1, high, truncated=truncated))

    def verdicts(self, criteria: Sequence[Criterion], verdicts: Sequence[Verdict]) -> tuple[CriterionVerdict, ...]:
        level = next((int(v.score) for v in verdicts if v.ok and v.score is not None), None)
        return tuple(CriterionVerdict(c.id, None, c.points, c.tags, c.text, c.scope, level) for c in criteria)

    def score(self, criteria: Sequence[Criterion], verdicts: Sequence[CriterionVerdict]) -> float:
        (criterion,), (verdict,) = criteria, verdicts
        if verdict.level is None:
            raise ValueError("a score rubric's verdict without its level")
        return level_score(verdict.level, len(criterion.levels))

    def nothing_met(self, criteria: Sequence[Criterion]) -> tuple[CriterionVerdict, ...]:
        return tuple(CriterionVerdict(c.id, None, c.points, c.tags, c.text, c.scope, 1) for c in criteria)


STYLES: dict[str, PointsStyle] = {style.name: style for style in (PointsStyle(), ChecklistStyle(), ScoreStyle())}


def style_of(name: str) -> PointsStyle:
    try:
        return STYLES[name]
    except KeyError:
        raise DataError(f"unknown rubric style {name!r}; known styles: {', '.join(STYLES)}") from None
