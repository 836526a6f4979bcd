"""A personal report (analysis.personal) -> the plain text `judgebench personal` prints. Formatting only."""

from __future__ import annotations

from ..analysis.personal import PersonalReport
from .rubric_tables import _ci, _num
from .tables import render_table


def format_personal(report: PersonalReport) -> str:
    parts = [f"voter {report.voter}: {report.n_votes} counted votes",
             "agreement with the voter's votes (share decided as the voter did, ties included; 95% bootstrap over "
             "votes)",
             render_table(["benchmark", "protocol", "judge", "profile", "votes", "judge ties", "agreement", "95% CI"],
                     [[r.benchmark, r.protocol, r.judge, "yes" if r.profile else "", str(r.n_votes), str(r.n_ties),
                       _num(r.agreement, 2), _ci(r.ci_low, r.ci_high)] for r in report.agreement.itertuples()])]
    if report.differences.empty:
        parts.append("no other judge decides the same votes: nothing to compare the profile's judge with")
    else:
        parts.append("profile's judge minus each other judge, on the votes both decide (paired 95% bootstrap)")
        parts.append(render_table(["benchmark", "profile judge", "vs protocol", "vs judge", "votes", "profile", "other",
                              "difference", "95% CI"],
                             [[r.benchmark, r.profile_judge, r.protocol, r.judge, str(r.n_votes),
                               _num(r.profile_agreement, 2), _num(r.agreement, 2), _num(r.difference, 3),
                               _ci(r.ci_low, r.ci_high)] for r in report.differences.itertuples()]))
    return "\n\n".join(parts)
