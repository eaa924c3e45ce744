"""Valid, stable, collision-free Argo/Kubernetes names for asset keys and manifests.

``daily_revenue`` becomes ``daily-revenue``: lowercase with ``_`` as ``-`` is used as is whenever turning
``-`` back into ``_`` gives the key again and the name is not a word of Argo's ``depends`` language.
Otherwise (``/``, capitals, ``__``, a leading ``_``, a long key, ``in``, ``nil``, ...) the name gets ``--``
and a hash of the key: plain names never contain ``--``, so the two kinds cannot collide, and plain names
map back to exactly one key. The real key always travels as the ``asset`` parameter of the task.
Object names follow the same idea: a name that is not exactly its text gets a hash suffix.
"""

from __future__ import annotations

import re

from assets_core.hashing import structured_hash

TASK_NAME_LIMIT = 63  # Argo allows 128 for task names; 63 keeps them valid Kubernetes labels too
HASH_LENGTH = 10
_NOT_ALLOWED = re.compile(r"[^a-z0-9]+")
TASK_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
# Argo evaluates ``depends`` with expr-lang after replacing '-' by '_' (workflow/controller/dag.go,
# evaluateDependsLogic -> util/expr/argoexpr.EvalBool). These words are operators or literals in expr-lang's
# lexer (parser/lexer/state.go, identifier and not) and parser (parser/parser.go: true, false, nil), so a
# task called ``in`` or ``nil`` breaks every ``depends`` that names it.
EXPR_RESERVED = frozenset(
    {"not", "in", "or", "and", "matches", "contains", "startsWith", "endsWith", "let", "if", "else"}
    | {"true", "false", "nil"}
)


def sanitize(text: str, limit: int) -> str:
    """Lowercase letters and digits joined by single ``-``, at most ``limit`` characters ("x" if nothing is left)."""
    return _NOT_ALLOWED.sub("-", text.lower()).strip("-")[:limit].rstrip("-") or "x"


def expr_identifier(name: str) -> str:
    """The identifier Argo's ``depends`` evaluation sees for a task name."""
    return name.replace("-", "_")


def task_name(key: str) -> str:
    """The DAG task name of an asset key."""
    plain = sanitize(key, TASK_NAME_LIMIT)
    if plain.replace("-", "_") == key and expr_identifier(plain) not in EXPR_RESERVED and not plain[0].isdigit():
        return plain
    digest = structured_hash(["argo-task-name", key])[:HASH_LENGTH]
    base = sanitize(key, TASK_NAME_LIMIT - HASH_LENGTH - 4)
    if base[0].isdigit():  # Argo refuses task names starting with a digit when ``depends`` is used
        base = "k-" + base
    return f"{base}--{digest}"


def resource_name(text: str, limit: int = 52) -> str:
    """A Kubernetes object name (DNS label) from free text, at most ``limit`` characters (52 leaves room for the
    timestamp Argo appends to a CronWorkflow's runs). Text that is not already such a name (``_``, capitals,
    too long) gets a hash of the text, so two different texts never get one name."""
    plain = sanitize(text, limit)
    if plain == text:
        return plain
    digest = structured_hash(["argo-resource-name", text])[:HASH_LENGTH]
    return f"{sanitize(text, limit - HASH_LENGTH - 1)}-{digest}"
