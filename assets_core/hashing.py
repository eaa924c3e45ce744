"""Unambiguous hashing: every part is length-prefixed, so ("ab", "c") and ("a", "bc") never collide."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping


def structured_hash(parts: Iterable[str | bytes]) -> str:
    """SHA-256 over ``len:part`` frames of each part, as hex."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(b"%d:" % len(data))
        digest.update(data)
    return digest.hexdigest()


def mapping_hash(tag: str, mapping: Mapping[str, str]) -> str:
    """Hash a str->str mapping independent of insertion order, tagged with what it is."""
    parts: list[str] = [tag, str(len(mapping))]
    for key in sorted(mapping):
        parts.append(key)
        parts.append(mapping[key])
    return structured_hash(parts)


def short(version: str | None, length: int = 12) -> str:
    """A version shortened for display (``-`` when absent)."""
    return "-" if not version else version[:length]
