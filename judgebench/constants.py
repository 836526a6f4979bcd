"""Names and defaults that the command line's help shows, kept apart from the modules that use them so that
`judgebench --help` loads no reader and no statistics (pandas, scipy). Those modules import them from here."""

from __future__ import annotations

# The input formats, each read by its module in judgebench.formats ("auto" detects one per path).
FORMATS = ("judgebench", "alpaca-eval", "fastchat", "arena-hard", "arena", "scalerlab-judgebench")

# Bootstrap resamples of win-rate and grade intervals, shared by every surface (run, stats, site, load).
DEFAULT_BOOTSTRAP = 1000
# Bootstrap resamples of the diagnostics' intervals (saturation's separability; self-preference takes at most
# SELF_PREFERENCE_BOOTSTRAP of them), whatever the scores use: `run`'s summary.json, `judgebench diagnose`, the site
# and `judgebench.load()` once printed three different intervals for the same judgments (200, 500 and 500 resamples).
DIAGNOSTIC_BOOTSTRAP = 500
SELF_PREFERENCE_BOOTSTRAP = 200
# How many of the criteria a panel's judges disagree on most `rubric-report` lists by default and the site's rubric
# page lists (the JSON and the CSVs hold them all).
RUBRIC_TOP_DISAGREEMENTS = 10
# The seed of every bootstrap, so the same judgments give the same intervals on every surface and every run.
BOOTSTRAP_SEED = 0

# How long one attempt may take once it is sent, its whole reply included. Local servers set it: a CPU-only
# llama.cpp server of a 7B model on 2 cores reads a 2,000-token judge prompt and writes 512 tokens in about 3
# minutes; the embedded 135M model in seconds. Requests waiting for a free slot are not sent yet, so they do not
# count (run.replicas caps what is in flight at the server's slots).
DEFAULT_TIMEOUT_S = 300.0
# How long a request may take in all, its attempts and the waits between them: room for a retry after one attempt
# that ran out of --timeout.
DEFAULT_MAX_ELAPSED_S = 600.0
