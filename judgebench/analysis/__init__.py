"""Analysis: judgments -> scores, diagnostics, agreement with labels, battles, leaderboard rows. Typed, no I/O
(results.load reads files for notebooks)."""
