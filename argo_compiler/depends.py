"""Argo ``depends`` expressions, read by the controller's rules: parsed (rejecting what Argo rejects) and evaluated.

The controller finds task names with ``taskNameRegex`` and expands a bare ``A`` to
``(A.Succeeded || A.Skipped || A.Daemoned)`` (workflow/common/ancestry.go: GetTaskDependencies,
expandDependency); results must be one of ``ValidateTaskResults``' list; then it replaces every ``-`` by ``_``
and evaluates the text with expr-lang (workflow/controller/dag.go: evaluateDependsLogic ->
util/expr/argoexpr.EvalBool), so each name must become an expr identifier that is not an operator or literal
(names.EXPR_RESERVED). ``&&`` binds tighter than ``||``, ``!`` tightest, as in expr-lang's parser.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .names import EXPR_RESERVED, expr_identifier

RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned", "AnySucceeded", "AllFailed")
BARE = ("Succeeded", "Skipped", "Daemoned")  # what a bare task name means (expandDependency)
_TOKEN = re.compile(r"\s*(&&|\|\||[()!]|[a-zA-Z0-9][-a-zA-Z0-9]*(?:\.[A-Z][a-zA-Z]+)?)")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")  # expr-lang's lexer: identifier() on IsAlpha / IsAlphaNumeric
_CONJUNCTION = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*(?: && [a-zA-Z0-9][-a-zA-Z0-9]*)*")  # what lakeplan writes


def _identifier_problem(name: str) -> str | None:
    identifier = expr_identifier(name)
    if identifier in EXPR_RESERVED or not _IDENTIFIER.fullmatch(identifier):
        return f"task name {name!r} is not an identifier in Argo's depends language (expr-lang)"
    return None


@dataclass(frozen=True)
class Ref:
    task: str
    result: str | None  # None: a bare name


@dataclass(frozen=True)
class Op:
    op: str  # "!", "&&" or "||"
    args: tuple[Expr, ...]


Expr = Ref | Op


def _tokens(expression: str) -> list[str]:
    tokens, at = [], 0
    while at < len(expression.rstrip()):
        match = _TOKEN.match(expression, at)
        if match is None:
            raise ValueError(f"unexpected {expression[at:].strip()[:20]!r} in depends {expression!r}")
        tokens.append(match.group(1))
        at = match.end()
    return tokens


def parse(expression: str) -> Expr | None:
    """The expression's tree (None when empty); ValueError naming the problem when Argo would refuse it."""
    tokens = _tokens(expression)
    if not tokens:
        return None
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise ValueError(f"depends {expression!r} ends too early")
        position += 1
        return tokens[position - 1]

    def binary(op: str) -> Expr:
        parts = [conjunction() if op == "||" else unary()]
        while peek() == op:
            take()
            parts.append(conjunction() if op == "||" else unary())
        return parts[0] if len(parts) == 1 else Op(op, tuple(parts))

    def conjunction() -> Expr:
        return binary("&&")

    def unary() -> Expr:
        token = take()
        if token == "!":
            return Op("!", (unary(),))
        if token == "(":
            inner = binary("||")
            if take() != ")":
                raise ValueError(f"unbalanced parentheses in depends {expression!r}")
            return inner
        if token in ("&&", "||", ")"):
            raise ValueError(f"unexpected {token!r} in depends {expression!r}")
        name, _, result = token.partition(".")
        if result and result not in RESULTS:
            raise ValueError(f"task result {result!r} for task {name!r} is invalid")
        problem = _identifier_problem(name)
        if problem:
            raise ValueError(problem)
        return Ref(name, result or None)

    tree = binary("||")
    if position != len(tokens):
        raise ValueError(f"unexpected {tokens[position]!r} in depends {expression!r}")
    return tree


def names(expression: str) -> list[str]:
    """Task names an expression refers to, in order of appearance (ValueError if Argo would refuse it)."""
    if _CONJUNCTION.fullmatch(expression):  # bare names joined by &&: no tree needed (10k tasks in a compile)
        words = expression.split(" && ")
        if not any(map(_identifier_problem, words)):
            return words
    found: list[str] = []

    def walk(node: Expr | None) -> None:
        if isinstance(node, Ref):
            found.append(node.task)
        elif isinstance(node, Op):
            for arg in node.args:
                walk(arg)

    walk(parse(expression))
    return found


def holds(expression: str, phases: Mapping[str, str]) -> bool:
    """Whether ``depends`` is met, given each referenced task's node phase (Succeeded, Failed, Error, Skipped,
    Omitted) as evaluateDependsLogic builds its scope (``Errored`` is phase ``Error``)."""

    def value(node: Expr) -> bool:
        if isinstance(node, Ref):
            phase = phases[node.task]
            wanted = BARE if node.result is None else (node.result,)
            return any(phase == ("Error" if r == "Errored" else r) for r in wanted)
        if node.op == "!":
            return not value(node.args[0])
        results = (value(arg) for arg in node.args)
        return all(results) if node.op == "&&" else any(results)

    tree = parse(expression)
    return True if tree is None else value(tree)
