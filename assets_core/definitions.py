"""Declaring assets: ``@asset``, ``source_asset`` and the ``Definitions`` bundle.

Every mistake is caught here, at import of the user's module, with the function named and the fix said.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, overload

from . import k8s_grammar
from .errors import DefinitionError
from .keys import validate_key
from .partitions import (
    MAPPINGS,
    AnyPartitions,
    CustomMapping,
    MultiPartitions,
    PartitionMapping,
    StaticPartitions,
    TimePartitions,
)
from .timeouts import FORMS, parse_timeout

F = TypeVar("F", bound=Callable[..., Any])

IO_MANAGERS = ("auto", "parquet", "json", "pickle")  # built in; any other name is a resource (resources.py)
RESOURCE_NAMES = ("cpu", "memory", "gpu")
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AssetInput:
    """One function parameter fed by an upstream asset's stored value."""

    param: str
    key: str
    annotation: Any


@dataclass(frozen=True, slots=True)
class Resources:
    """Container resources requested for the asset's step (strings as Kubernetes writes them)."""

    cpu: str | None = None
    memory: str | None = None
    gpu: int | None = None

    def as_dict(self) -> dict[str, str | int]:
        return {k: v for k, v in (("cpu", self.cpu), ("memory", self.memory), ("gpu", self.gpu)) if v is not None}


_NO_RESOURCES = Resources()


@dataclass(frozen=True, slots=True, eq=False)
class AssetDef:
    """A declared asset: a function whose parameters name its upstream assets."""

    key: str
    fn: Callable[..., Any]
    inputs: tuple[AssetInput, ...]
    deps: tuple[str, ...] = ()
    group: str = "default"
    description: str | None = None
    code_version: str | None = None
    io_manager: str = "auto"
    metadata: Mapping[str, Any] = field(default_factory=dict)
    resources: Resources = Resources()
    retries: int = 0
    timeout: int | None = None  # seconds one attempt may run; None: the project's default (timeouts.py)
    image: str | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, str], ...] = ()
    return_annotation: Any = None
    partitions: AnyPartitions | None = None
    partition_mapping: Mapping[str, PartitionMapping] = field(default_factory=dict)  # by upstream key
    resource_params: tuple[str, ...] = ()  # parameters fed a resource, not data (set when the module is loaded)

    @property
    def upstream_keys(self) -> tuple[str, ...]:
        """Every upstream key (data inputs, then order-only deps), without repeats."""
        return tuple(dict.fromkeys([i.key for i in self.inputs] + list(self.deps)))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly, e.g. in a unit test of the user's own."""
        return self.fn(*args, **kwargs)


@dataclass(frozen=True, slots=True, eq=False)
class SourceAsset:
    """Data made outside the graph. Its data version is read from the data itself (or ``version``)."""

    key: str
    path: Path | None = None
    version: Callable[[], str | None] | None = None
    read: Callable[[], Any] | None = None
    group: str = "sources"
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    partitions: AnyPartitions | None = None


@dataclass(frozen=True)
class Definitions:
    """Everything a module declares, when it wants to be explicit rather than rely on discovery."""

    assets: Sequence[AssetDef | SourceAsset] = ()
    schedules: Sequence[Any] = field(default=())
    resources: Sequence[Any] = field(default=())
    checks: Sequence[Any] = field(default=())  # asset checks (``@asset_check``)


def is_builtin_io_manager(name: str) -> bool:
    """Whether ``name`` is one of the built-in file formats (else it names an IO manager resource)."""
    return name in IO_MANAGERS


def _where(fn: Callable[..., Any]) -> str:
    """How errors name the function; the loader adds the user's file and line in front."""
    return f"@asset {getattr(fn, '__qualname__', repr(fn))}"


def _check_str_mapping(value: object, what: str, where: str) -> Mapping[str, Any]:
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise DefinitionError(f"{where}: {what} must be a dict with string keys, got {value!r}")
    return MappingProxyType(dict(value))


def _resources(value: object, where: str) -> Resources:
    if value is None:
        return _NO_RESOURCES
    if not isinstance(value, Mapping):
        raise DefinitionError(f"{where}: resources must be a dict like {{'cpu': '1', 'memory': '2Gi'}}")
    unknown = sorted(map(repr, set(value) - set(RESOURCE_NAMES)))
    if unknown:
        raise DefinitionError(f"{where}: unknown resource {unknown[0]}; use {', '.join(RESOURCE_NAMES)}")
    cpu, memory, gpu = value.get("cpu"), value.get("memory"), value.get("gpu")
    for name, val in (("cpu", cpu), ("memory", memory)):
        if val is not None and (isinstance(val, bool) or not isinstance(val, (str, int, float))):
            raise DefinitionError(f"{where}: resources[{name!r}] must be a string like '500m' or '2Gi'")
        if isinstance(val, float) and not math.isfinite(val):
            raise DefinitionError(f"{where}: resources[{name!r}] must be finite")
    if gpu is not None and (isinstance(gpu, bool) or not isinstance(gpu, int) or gpu < 0):
        raise DefinitionError(f"{where}: resources['gpu'] must be a whole number of GPUs, e.g. 1")
    resources = Resources(None if cpu is None else str(cpu), None if memory is None else str(memory), gpu)
    for name, text in (("cpu", resources.cpu), ("memory", resources.memory)):
        problem = None if text is None else k8s_grammar.quantity_problem(text)
        if problem:
            raise DefinitionError(f"{where}: resources[{name!r}] {text!r} {problem}")
    return resources


def _placement(options: dict[str, Any], where: str) -> tuple[Mapping[str, str], tuple[Mapping[str, Any], ...]]:
    """``node_selector`` (label keys and values) and ``tolerations``, by Kubernetes' rules: they are copied
    into the pod spec of the asset's Argo step."""
    selector = _check_str_mapping(options["node_selector"], "node_selector", where)
    for key, value in selector.items():
        problem = k8s_grammar.label_key_problem(key)
        if problem:
            raise DefinitionError(f"{where}: node_selector key {key!r} {problem}")
        problem = "must be a string" if not isinstance(value, str) else k8s_grammar.label_value_problem(value)
        if problem:
            raise DefinitionError(f"{where}: node_selector[{key!r}] = {value!r} {problem}")
    given = options["tolerations"] or ()
    if not isinstance(given, (list, tuple)):
        raise DefinitionError(f"{where}: tolerations must be a list of dicts")
    tolerations = tuple(_check_str_mapping(t, "each toleration", where) for t in given)
    for toleration in tolerations:
        problem = k8s_grammar.toleration_problem(toleration)
        if problem:
            raise DefinitionError(
                f"{where}: toleration {dict(toleration)!r} {problem}, e.g. "
                "{'key': 'gpu', 'operator': 'Exists', 'effect': 'NoSchedule'}"
            )
    return selector, tolerations


def _signature(fn: Callable[..., Any]) -> inspect.Signature:
    """The signature with string annotations (``from __future__ import annotations``) resolved."""
    try:
        return inspect.signature(fn, eval_str=True)
    except NameError:
        return inspect.signature(fn)


def _inputs(signature: inspect.Signature, ins: Mapping[str, str] | None, where: str) -> tuple[AssetInput, ...]:
    if ins is not None and (not isinstance(ins, Mapping) or not all(isinstance(k, str) for k in ins)):
        raise DefinitionError(f"{where}: ins= must map parameter names to asset keys, e.g. ins={{'df': 'raw/orders'}}")
    ins = dict(ins or {})
    inputs = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionError(
                f"{where}: *args/**kwargs cannot name upstream assets; list each upstream as a parameter"
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise DefinitionError(f"{where}: parameter {param.name!r} is positional-only; remove the '/'")
        key = ins.pop(param.name, param.name)
        annotation = None if param.annotation is param.empty else param.annotation
        inputs.append(AssetInput(param.name, validate_key(key, f"{where} input {param.name!r}"), annotation))
    if ins:
        raise DefinitionError(f"{where}: ins= names {sorted(ins)[0]!r}, which is not a parameter of the function")
    return tuple(inputs)


def _make_asset(fn: Callable[..., Any], options: dict[str, Any]) -> AssetDef:
    if not callable(fn) or isinstance(fn, (AssetDef, type)):
        raise DefinitionError(f"@asset decorates a plain function, got {fn!r}")
    where = _where(fn)
    key = validate_key(options["name"] if options["name"] is not None else fn.__name__, where)
    deps_in = options["deps"] or ()
    if isinstance(deps_in, (str, bytes)) or not isinstance(deps_in, Iterable):
        raise DefinitionError(f"{where}: deps= must be a list of asset names or assets, e.g. deps=['orders']")
    deps = tuple(validate_key(d.key if isinstance(d, (AssetDef, SourceAsset)) else d, f"{where} deps") for d in deps_in)
    retries = options["retries"]
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise DefinitionError(f"{where}: retries must be a whole number from 0 to 100, got {retries!r}")
    timeout = options["timeout"]
    if timeout is not None:
        try:
            timeout = parse_timeout(timeout)
        except ValueError:
            raise DefinitionError(f"{where}: timeout must be {FORMS}, from 1s to 30 days; got {timeout!r}") from None
    io_manager = options["io_manager"] or "auto"
    if not isinstance(io_manager, str) or not io_manager.isidentifier():
        raise DefinitionError(
            f"{where}: io_manager must be one of {', '.join(IO_MANAGERS)} or the name of an IO manager resource, "
            f"got {io_manager!r}"
        )
    for name in ("group", "description", "code_version", "image"):
        value = options[name]
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise DefinitionError(f"{where}: {name} must be a non-empty string, got {value!r}")
    group = options["group"] or "default"
    validate_key(group, f"{where} group")
    image = options["image"]
    problem = None if image is None else k8s_grammar.image_problem(image)
    if problem:
        raise DefinitionError(f"{where}: image {image!r} {problem}")
    node_selector, tolerations = _placement(options, where)
    try:
        signature = _signature(fn)  # once: inspect.signature is the main cost of declaring an asset
    except (TypeError, ValueError) as exc:
        raise DefinitionError(f"{where}: cannot read the function's parameters ({exc})") from None
    return_annotation = signature.return_annotation
    inputs = _inputs(signature, options["ins"], where)
    partitions = _partitions(options["partitions"], where)
    return AssetDef(
        key=key,
        fn=fn,
        inputs=inputs,
        deps=deps,
        group=group,
        description=options["description"] or inspect.getdoc(fn),
        code_version=options["code_version"],
        io_manager=io_manager,
        metadata=_check_str_mapping(options["metadata"], "metadata", where),
        resources=_resources(options["resources"], where),
        retries=retries,
        timeout=timeout,
        image=image,
        node_selector=node_selector,
        tolerations=tolerations,
        return_annotation=None if return_annotation is inspect.Signature.empty else return_annotation,
        partitions=partitions,
        partition_mapping=_partition_mapping(options["partition_mapping"], inputs, deps, where),
    )


def _partitions(value: object, where: str) -> AnyPartitions | None:
    if value is None or isinstance(value, (TimePartitions, StaticPartitions, MultiPartitions)):
        return value
    raise DefinitionError(
        f"{where}: partitions= takes daily_partitions(...), hourly_partitions(...), monthly_partitions(...), "
        f"static_partitions([...]) or multi_partitions(...), got {value!r}"
    )


def _partition_mapping(
    value: object, inputs: tuple[AssetInput, ...], deps: tuple[str, ...], where: str
) -> Mapping[str, PartitionMapping]:
    """``partition_mapping={param or key: window(7) | all_partitions() | a function}``, by upstream key."""
    if value is None:
        return _EMPTY
    if not isinstance(value, Mapping):
        raise DefinitionError(f"{where}: partition_mapping= must be a dict like {{'clean_events': window(7)}}")
    keys = {i.param: i.key for i in inputs} | {d: d for d in deps}
    mapped: dict[str, PartitionMapping] = {}
    for name, given in value.items():
        if name not in keys:
            raise DefinitionError(
                f"{where}: partition_mapping= names {name!r}, which is not an upstream of the asset; "
                f"use one of {', '.join(sorted(keys)) or '(none)'}"
            )
        if isinstance(given, MAPPINGS):
            mapped[keys[name]] = given
        elif callable(given):
            mapped[keys[name]] = CustomMapping(given, getattr(given, "__name__", ""))
        else:
            raise DefinitionError(
                f"{where}: partition_mapping[{name!r}] must be window(N), all_partitions(), identity() or a "
                f"function from a partition key to upstream keys, got {given!r}"
            )
    return MappingProxyType(mapped)


@overload
def asset(fn: F, /) -> AssetDef: ...


@overload
def asset(
    *,
    name: str | None = None,
    ins: Mapping[str, str] | None = None,
    deps: Sequence[str | AssetDef | SourceAsset] | None = None,
    group: str | None = None,
    description: str | None = None,
    code_version: str | None = None,
    io_manager: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    resources: Mapping[str, str | int | float] | None = None,
    retries: int = 0,
    timeout: str | int | None = None,
    image: str | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, str]] | None = None,
    partitions: AnyPartitions | None = None,
    partition_mapping: Mapping[str, PartitionMapping | Callable[[str], Iterable[str]]] | None = None,
) -> Callable[[F], AssetDef]: ...


def asset(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    ins: Mapping[str, str] | None = None,
    deps: Sequence[str | AssetDef | SourceAsset] | None = None,
    group: str | None = None,
    description: str | None = None,
    code_version: str | None = None,
    io_manager: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    resources: Mapping[str, str | int | float] | None = None,
    retries: int = 0,
    timeout: str | int | None = None,
    image: str | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Sequence[Mapping[str, str]] | None = None,
    partitions: AnyPartitions | None = None,
    partition_mapping: Mapping[str, PartitionMapping | Callable[[str], Iterable[str]]] | None = None,
) -> AssetDef | Callable[[Callable[..., Any]], AssetDef]:
    """Declare an asset. Each parameter is an upstream asset of the same name (``ins`` renames one).

    ``deps`` adds order-only upstreams whose data is not passed in. ``code_version`` overrides the
    automatic version (a hash of the function's syntax tree and of the user's helpers it calls).
    ``timeout`` (``"90s"``, ``"30m"``, ``"1h30m"`` or seconds) stops an attempt that runs longer and fails it
    "timed out after ..."; without it the project's ``[tool.lakeplan] timeout`` applies, if any.
    ``partitions`` splits the asset into slices built one by one; ``partition_mapping`` says which
    partitions of an upstream one partition reads (default: the same one; see docs/partitions.md).
    """
    options = dict(
        name=name,
        ins=ins,
        deps=deps,
        group=group,
        description=description,
        code_version=code_version,
        io_manager=io_manager,
        metadata=metadata,
        resources=resources,
        retries=retries,
        timeout=timeout,
        image=image,
        node_selector=node_selector,
        tolerations=tolerations,
        partitions=partitions,
        partition_mapping=partition_mapping,
    )
    if fn is not None:
        return _make_asset(fn, options)
    return lambda f: _make_asset(f, options)


def source_asset(
    key: str,
    *,
    path: str | Path | None = None,
    version: Callable[[], str | None] | None = None,
    read: Callable[[], Any] | None = None,
    group: str | None = None,
    description: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    partitions: AnyPartitions | None = None,
) -> SourceAsset:
    """Declare data made outside the graph: a file or directory at ``path``, or your own ``version``/``read``.

    A relative ``path`` is resolved against the directory of the module that declares it. Its data version
    is a hash of the content unless ``version`` says otherwise.
    """
    where = f"source_asset({key!r})"
    validate_key(key, where)
    if path is None and (version is None or read is None):
        raise DefinitionError(f"{where}: give path='data/file.csv', or both version= and read= callables")
    for name, fn in (("version", version), ("read", read)):
        if fn is not None and not callable(fn):
            raise DefinitionError(f"{where}: {name}= must be a callable taking no arguments")
    resolved: Path | None = None
    if path is not None:
        if not isinstance(path, (str, Path)) or not str(path):
            raise DefinitionError(f"{where}: path must be a non-empty string or Path, got {path!r}")
        resolved = Path(path)
        if not resolved.is_absolute():
            resolved = _caller_dir() / resolved
    checked = _partitions(partitions, where)
    placeholder = path is not None and "{partition}" in str(path)
    names_each = isinstance(checked, MultiPartitions) and all(f"{{{n}}}" in str(path) for n, _ in checked.dimensions)
    if checked is not None and path is not None and not (placeholder or names_each):
        raise DefinitionError(
            f"{where}: a partitioned source's path names its partition, e.g. 'events/{{partition}}.csv'"
            + (
                " or each dimension, e.g. 'events/{" + "}/{".join(n for n, _ in checked.dimensions) + "}.csv'"
                if isinstance(checked, MultiPartitions)
                else ""
            )
        )
    if checked is not None and path is None:
        raise DefinitionError(
            f"{where}: a partitioned source is read from files, one per partition; give "
            "path='events/{partition}.csv' instead of version=/read="
        )
    if checked is None and placeholder:
        raise DefinitionError(f"{where}: path has '{{partition}}' but the source has no partitions=; declare them")
    grp = group or "sources"
    validate_key(grp, f"{where} group")
    return SourceAsset(
        key=key,
        path=resolved,
        version=version,
        read=read,
        group=grp,
        description=description,
        metadata=_check_str_mapping(metadata, "metadata", where),
        partitions=checked,
    )


def _caller_dir() -> Path:
    """Directory of the user's module calling ``source_asset`` (two frames up)."""
    frame = inspect.currentframe()
    caller = frame.f_back.f_back if frame and frame.f_back else None
    filename = caller.f_globals.get("__file__") if caller else None
    return Path(filename).resolve().parent if filename else Path.cwd()
