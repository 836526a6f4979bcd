"""Names and defaults that the command line's help shows, kept apart from the modules that use them so that
`judgebench --help` loads no reader and no statistics (pandas, scipy). Those modules import them from here."""

from __future__ import annotations

# The input formats, each read by its module in judgebench.formats ("auto" detects one per path).
FORMATS = ("judgebench", "alpaca-eval", "fastchat", "arena-hard", "arena")

# Bootstrap resamples of win-rate and grade intervals, shared by every surface (run, stats, site, load).
DEFAULT_BOOTSTRAP = 1000
