"""Judging: prompts (jinja2), one strategy per task kind, verdict parsers."""
