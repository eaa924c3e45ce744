"""Valid, stable, collision-free Argo/Kubernetes names for asset keys and manifests.

``daily_revenue`` becomes ``daily-revenue``: lowercase with ``_`` as ``-`` is used as is whenever turning
``-`` back into ``_`` gives the key again. Otherwise (``/``, capitals, ``__``, a leading ``_``, a long key)
the name gets ``--`` and a hash of the key: plain names never contain ``--``, so the two kinds cannot
collide, and plain names map back to exactly one key. The real key always travels as the ``asset``
parameter of the task.
"""

from __future__ import annotations

import re

from assets_core.hashing import structured_hash

TASK_NAME_LIMIT = 63  # Argo allows 128 for task names; 63 keeps them valid Kubernetes labels too
HASH_LENGTH = 10
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")
TASK_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def sanitize(text: str, limit: int) -> str:
    """Lowercase letters and digits joined by single ``-``, at most ``limit`` characters ("x" if nothing is left)."""
    return _NOT_ALLOWED.sub("-", text.lower()).strip("-")[:limit].rstrip("-") or "x"


def task_name(key: str) -> str:
    """The DAG task name of an asset key."""
    plain = sanitize(key, TASK_NAME_LIMIT)
    if plain.replace("-", "_") == key:
        return plain
    digest = structured_hash(["argo-task-name", key])[:HASH_LENGTH]
    base = sanitize(key, TASK_NAME_LIMIT - HASH_LENGTH - 4)
    if base[0].isdigit():  # Argo evaluates ``depends`` as an expression: names must start like identifiers
        base = "k-" + base
    return f"{base}--{digest}"


def resource_name(text: str, limit: int = 52) -> str:
    """A Kubernetes object name (DNS label) from free text; 52 leaves room for Argo's suffixes on CronWorkflows."""
    return sanitize(text, limit)
