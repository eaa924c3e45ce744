"""Asset checks: ``@asset_check`` declares a test of an asset's stored value, ``CheckResult`` is its verdict.

A check runs right after its asset is built (in the same step, so in worker processes and Argo pods too;
see check_step.py). A failed **blocking** check of severity ``error`` keeps the new version from becoming
current. Mistakes are caught here, at import of the user's module, or when the graph is built (unknown
asset, a name used twice).
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import DefinitionError
from .keys import validate_key

SEVERITIES = ("error", "warn")
MAX_NAME = 200  # lp_check_results.check_name


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check returns: ``passed``, JSON-able ``metadata`` shown with the result, and ``severity``
    (``"error"``, the default, or ``"warn"``: a failed warning never blocks, even from a blocking check)."""

    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    severity: str = "error"

    def __post_init__(self) -> None:
        if not isinstance(self.passed, bool):
            raise DefinitionError(
                f"CheckResult(passed=...) must be True or False, got {self.passed!r}; e.g. passed=bad == 0"
            )
        if self.severity not in SEVERITIES:
            raise DefinitionError(f"CheckResult(severity=...) must be 'error' or 'warn', got {self.severity!r}")
        if not isinstance(self.metadata, Mapping) or not all(isinstance(k, str) for k in self.metadata):
            raise DefinitionError(f"CheckResult(metadata=...) must be a dict with string keys, got {self.metadata!r}")
        for name, value in self.metadata.items():
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError):
                finite = not isinstance(value, float) or math.isfinite(value)
                what = "is not a finite number" if not finite else f"({type(value).__name__}) is not JSON-able"
                raise DefinitionError(
                    f"CheckResult(metadata={{{name!r}: ...}}): {value!r} {what}; pass numbers, strings, lists or dicts"
                ) from None


@dataclass(frozen=True, slots=True, eq=False)
class AssetCheck:
    """A declared check: ``fn`` takes the asset's value (parameter ``param``) and returns a CheckResult."""

    name: str
    asset_key: str
    fn: Callable[..., Any]
    param: str
    annotation: Any = None
    blocking: bool = False
    description: str | None = None
    code_version: str | None = None  # explicit, like @asset(code_version=...); else hashed from the code

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly, e.g. in a unit test of the user's own."""
        return self.fn(*args, **kwargs)


def _make_check(fn: Callable[..., Any], asset: object, options: dict[str, Any]) -> AssetCheck:
    where = f"@asset_check {getattr(fn, '__qualname__', repr(fn))}"
    if not callable(fn) or isinstance(fn, (AssetCheck, type)) or not hasattr(fn, "__code__"):
        raise DefinitionError(f"@asset_check decorates a plain function, got {fn!r}")
    try:
        signature = inspect.signature(fn, eval_str=True)
    except NameError:
        signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    if len(params) != 1 or params[0].kind not in (params[0].POSITIONAL_OR_KEYWORD, params[0].KEYWORD_ONLY):
        raise DefinitionError(
            f"{where}: a check takes exactly one parameter, the asset's value, e.g. def {fn.__name__}(orders): ..."
        )
    param = params[0]
    key = getattr(asset, "key", asset) if asset is not None else param.name
    if not isinstance(key, str):
        raise DefinitionError(f"{where}: asset= must be an asset's name or the asset itself, got {asset!r}")
    key = validate_key(key, f"{where} asset")
    returns = signature.return_annotation
    if returns not in (inspect.Signature.empty, CheckResult, "CheckResult"):
        shown = getattr(returns, "__name__", returns)
        raise DefinitionError(f"{where}: a check returns CheckResult(passed=...), but it is annotated -> {shown}")
    if not isinstance(options["blocking"], bool):
        raise DefinitionError(f"{where}: blocking must be True or False, got {options['blocking']!r}")
    name = options["name"] if options["name"] is not None else fn.__name__
    validate_key(name, f"{where} name")
    if "/" in name or len(name) > MAX_NAME:
        raise DefinitionError(
            f"{where}: check name {name!r} must be at most {MAX_NAME} characters, without '/'; use name='...'"
        )
    code_version = options["code_version"]
    if code_version is not None and (not isinstance(code_version, str) or not code_version.strip()):
        raise DefinitionError(f"{where}: code_version must be a non-empty string, got {code_version!r}")
    return AssetCheck(
        name=name,
        asset_key=key,
        fn=fn,
        param=param.name,
        annotation=None if param.annotation is param.empty else param.annotation,
        blocking=options["blocking"],
        description=options["description"] or inspect.getdoc(fn),
        code_version=code_version,
    )


def asset_check(
    *,
    asset: object = None,
    name: str | None = None,
    blocking: bool = False,
    description: str | None = None,
    code_version: str | None = None,
) -> Callable[[Callable[..., Any]], AssetCheck]:
    """Declare a check of ``asset`` (a name or the asset; default: the parameter's name). The function takes
    the asset's value, as a dependent would read it, and returns ``CheckResult``. ``blocking=True``: a failed
    result of severity ``error`` (or an exception) keeps the new version from becoming current, and its
    dependents are not built. The check is named by its function (``name=`` renames it)."""
    options = {"name": name, "blocking": blocking, "description": description, "code_version": code_version}
    return lambda fn: _make_check(fn, asset, options)


def validate_checks(checks: Sequence[AssetCheck], assets: Collection[str], sources: Collection[str]) -> list[str]:
    """Every problem with ``checks`` against the graph's keys: an unknown or source asset, a repeated name."""
    import difflib

    problems: list[str] = []
    seen: dict[tuple[str, str], AssetCheck] = {}
    for check in checks:
        where = f"@asset_check {check.name}"
        if check.asset_key in sources:
            problems.append(
                f"{where}: {check.asset_key!r} is a source; checks run after an asset is built, so check an "
                "asset that reads it"
            )
        elif check.asset_key not in assets:
            close = difflib.get_close_matches(check.asset_key, list(assets), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "declare it with @asset"
            problems.append(f"{where} checks unknown asset {check.asset_key!r}; {hint}")
        earlier = seen.setdefault((check.asset_key, check.name), check)
        if earlier is not check:
            problems.append(
                f"asset {check.asset_key!r} has two checks named {check.name!r}; rename one with name='...'"
            )
    return problems


def by_asset(checks: Sequence[AssetCheck]) -> Mapping[str, tuple[AssetCheck, ...]]:
    """The checks of each asset, in declaration order."""
    found: dict[str, list[AssetCheck]] = {}
    for check in checks:
        found.setdefault(check.asset_key, []).append(check)
    return MappingProxyType({key: tuple(items) for key, items in found.items()})
