"""Publishing: text tables, plots (Figures; saving is the caller's job), the static leaderboard site."""
