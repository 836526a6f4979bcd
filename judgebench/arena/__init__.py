"""The human arena: invited voters vote on anonymous battles between models' answers (``judgebench arena``).

store: the SQLite database; pool: the answers shown; issue: which battle next; hygiene: identity leaks,
consistency, caps; app: the web page and JSON API (needs the ``arena`` extra: starlette, uvicorn)."""
