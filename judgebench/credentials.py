"""Keys never leave the environment: every string judgebench writes (results, cache, logs, error messages) passes
through ``redact``, which replaces the value of any environment variable that holds a secret."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

# Variables whose values are secrets by their name; a variable an endpoint names with key_env counts too.
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)
# Values shorter than this are left alone: they cannot be told from ordinary text.
_MIN_LENGTH = 8
_named: set[str] = set()
# redact() runs on every line written, so the secrets are worked out again only when the environment (or the set
# of named variables) has changed since the last time: comparing the raw environment is far cheaper than
# decoding and matching every variable on every call.
_memo: tuple[object, list[tuple[str, str]]] | None = None


def register(variable: str | None) -> None:
    """Treat ``variable``'s value as a secret even if its name does not say so."""
    if variable:
        _named.add(variable)


def _fingerprint() -> object:
    raw = getattr(os.environ, "_data", None)  # CPython's undecoded mapping behind os.environ
    items = tuple(raw.items()) if isinstance(raw, dict) else tuple(os.environ.items())
    return (items, frozenset(_named))


def _secrets() -> list[tuple[str, str]]:
    global _memo
    fingerprint = _fingerprint()
    if _memo is not None and _memo[0] == fingerprint:
        return _memo[1]
    found = _find_secrets()
    _memo = (fingerprint, found)
    return found


def _find_secrets() -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for name, value in os.environ.items():
        if not (name in _named or _SECRET_NAME.search(name)):
            continue
        # The value as set, and stripped: a key that ends in a newline is printed both ways by HTTP libraries.
        for variant in {value, value.strip()}:
            if len(variant) >= _MIN_LENGTH:
                found[variant] = name
    # Longest first, so a key that contains another is replaced whole.
    return sorted(found.items(), key=lambda item: -len(item[0]))


def redact(text: str) -> str:
    """``text`` with every secret value replaced by ``[redacted NAME]``."""
    return _replaced(text, _secrets())


def redactor() -> Callable[[str], str]:
    """``redact`` for many strings at once (a batch of records): the secrets are worked out once, as they are now,
    not once per string."""
    secrets = _secrets()
    if not secrets:
        return _unchanged
    return lambda text: _replaced(text, secrets)


def _unchanged(text: str) -> str:
    return text


def _replaced(text: str, secrets: list[tuple[str, str]]) -> str:
    for value, name in secrets:
        if value in text:
            text = text.replace(value, f"[redacted {name}]")
    return text
