"""Asset keys: ``/``-separated ASCII identifiers, so a key is always a safe relative storage path."""

from __future__ import annotations

import re

from .errors import DefinitionError

MAX_KEY_LENGTH = 200
_SEGMENT = r"[A-Za-z_][A-Za-z0-9_]*"
_KEY_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")


def key_problem(key: object) -> str | None:
    """Why ``key`` is not a valid asset key, or None when it is."""
    if not isinstance(key, str):
        return f"asset key must be a string, got {type(key).__name__}"
    if len(key) > MAX_KEY_LENGTH:
        return f"asset key {key[:40]!r}... is {len(key)} characters; the limit is {MAX_KEY_LENGTH}"
    if not _KEY_RE.fullmatch(key):
        return (
            f"invalid asset key {key!r}: keys are '/'-separated ASCII identifiers "
            "(letters, digits, '_'), e.g. 'raw/orders'; pass name='...' to choose one"
        )
    return None


def validate_key(key: object, what: str = "asset") -> str:
    """Return ``key`` if valid, else raise a DefinitionError naming ``what`` it belongs to."""
    problem = key_problem(key)
    if problem is not None or not isinstance(key, str):
        raise DefinitionError(f"{what}: {problem}")
    return key


def asset_of(key: str) -> str:
    """The asset a planned key names: the key without the ``NAME=VALUE`` segments of a partition
    (``clean_events/partition=2026-01-05`` -> ``clean_events``); an asset key has no ``=``."""
    return "/".join(part for part in key.split("/") if "=" not in part)
