"""Automatic code versions: a hash of the function's normalized syntax tree and of every function,
class, value and constant of the user's own code that it reaches, transitively.

Code is reached through names the function reads (globals, closures, imports inside the function),
through values held at module level (containers of functions, ``functools.partial``, lambdas, instances
of the user's classes), default argument values, the user's own decorators and class attributes. A
reference that cannot be resolved statically (``getattr(module, name)``, ``globals()[...]``,
``importlib.import_module(expr)``) takes the whole user module it could reach, and says so.

Comments, docstrings and formatting do not change a version; editing a helper the asset reaches does,
and editing an unrelated function does not. Each reachable object is hashed on its own (a "part"), and
the asset's version hashes the sorted set of parts, so the result does not depend on traversal order or
caching, and a later diff (or ``lakeplan plan --explain``) can name what changed.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import sys
import types
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .code_cache import FileCache
from .code_syntax import Chain, Code, ParsedFile
from .definitions import AssetDef
from .hashing import structured_hash
from .step_log import stdout_to_stderr

_PRIMITIVES = (int, float, complex, str, bytes, bool, type(None))
# Part of every automatic version: unchanged while the same code gives the same hashes, so upgrading
# lakeplan does not make every asset stale (the analysis cache has its own key, code_syntax.ANALYSIS).
_SCHEME = "lakeplan-code-v1"
_MISSING = object()
_MAX_CONSTANT_ITEMS = 1000
_MAX_UNWRAP = 20
_LIBRARY_CODE = (types.FunctionType, types.BuiltinFunctionType, types.MethodWrapperType, type)


class Versioned(Protocol):
    """What has a code version: an asset or an asset check (its function, and an explicit version if given)."""

    @property
    def fn(self) -> Callable[..., Any]: ...

    @property
    def code_version(self) -> str | None: ...


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ costs ~1 us per field, per part
class CodePart:
    """One thing a code version is made of: a function, class, constant, module-level value or (taken
    conservatively, with the reason) a whole module, with the hash of its own code."""

    name: str
    kind: str
    digest: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class CodeVersion:
    """An asset's code version and the parts it was made from (empty when explicit)."""

    version: str
    components: dict[str, str]
    parts: tuple[CodePart, ...] = ()


def _constant_text(value: object) -> str | None:
    """Canonical text of a constant (primitives, and lists/tuples/sets/dicts of them), else None.

    Sets and dicts are rendered sorted, so the text does not depend on hash randomization or insertion
    order and is the same in every process; too large a container is not a constant.
    """
    return _render(value, [_MAX_CONSTANT_ITEMS], None)


def _render(value: object, budget: list[int], leaf: Callable[[object], str | None] | None) -> str | None:
    """Canonical text of plain data; anything else is rendered by ``leaf`` (None: not renderable)."""
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if isinstance(value, _PRIMITIVES):
        return repr(value)
    if isinstance(value, dict):
        pairs = [(_render(k, budget, leaf), _render(v, budget, leaf)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "dict{" + ",".join(sorted(f"{k}:{v}" for k, v in pairs)) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_render(v, budget, leaf) for v in value]
        if any(i is None for i in items):
            return None
        texts = [i for i in items if i is not None]
        if isinstance(value, (set, frozenset)):
            texts.sort()
        return f"{type(value).__name__}[{','.join(texts)}]"
    return leaf(value) if leaf is not None else None


def _code_fingerprint(code: types.CodeType) -> Iterator[str]:
    """Fallback for code without readable source (exec, REPL): bytecode, names and constants."""
    yield code.co_code.hex()
    yield repr(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_fingerprint(const)
        else:
            yield repr(const)


@dataclass(frozen=True, slots=True)
class _Constant:
    """A constant read by user code (module-level or closed over), as its canonical text."""

    name: str
    text: str


@dataclass(frozen=True, slots=True)
class _Binding:
    """A module-level name of the user's code bound to something other than a function, class or plain
    constant (a container of functions, a partial, an instance ...)."""

    module: str
    name: str


@dataclass(frozen=True, slots=True)
class _WholeModule:
    """A user module taken whole because something reaches into it in a way no static reading resolves."""

    module: str
    reason: str


@dataclass(frozen=True, slots=True)
class _Unimportable:
    """A user module that an import inside a function names but that fails to import while versioning:
    taken as its source text, so editing it (e.g. fixing it) still changes the version."""

    module: str
    reason: str


@dataclass(eq=False, slots=True)
class _Value:
    """A value closed over by a function that is neither code nor a plain constant."""

    name: str
    value: object


@dataclass(slots=True)
class _Scope:
    """Where a piece of code looks names up: imports inside it, then its closure, then its module."""

    module: str
    namespace: Mapping[str, Any]
    closure: Mapping[str, Any]
    imports: Mapping[str, tuple[str | None, str, object]]
    where: str


_NO_IMPORTS: dict[str, _Found] = {}
# Set by the import system: where a module's file is, not what its code does.
_WHERE_CODE_LIVES = frozenset({"__file__", "__cached__", "__path__", "__spec__", "__loader__", "__builtins__"})
_OWN_NODES = frozenset({_Constant, _Binding, _WholeModule, _Unimportable, _Value})


def _key(node: _Node) -> object:
    """Identity of a node: its value for the nodes above, its id for functions and classes (whose own
    ``__eq__``/``__hash__`` a user's metaclass may define)."""
    return node if type(node) in _OWN_NODES else id(node)


_Node = object  # a function, a class, or one of _Constant, _Binding, _WholeModule, _Value
_Found = tuple[str | None, str, object]  # (module that holds the name or None for a closure, name, value)


class CodeVersioner:
    """Computes automatic code versions, parsing each source file once.

    ``is_user_file`` decides which files are the user's own code (followed transitively); everything
    else (the standard library, installed packages, lakeplan itself) is treated as a fixed dependency.
    """

    def __init__(self, is_user_file: Callable[[str], bool], cache_dir: Path | None = None) -> None:
        self._is_user_file = is_user_file
        self._cache = FileCache(cache_dir) if cache_dir is not None else None
        self._files: dict[str, ParsedFile | None] = {}
        self._parts: dict[object, tuple[CodePart, list[_Node]]] = {}
        self._user_tops: dict[str, bool] = {}
        self._decorators: dict[tuple[str, Chain], bool] = {}
        self._failed: dict[str, str] = {}  # user module -> why it could not be imported

    def version(self, asset: Versioned) -> CodeVersion:
        """The code version of an asset (or an asset check): explicit if declared, otherwise the hash of its
        reachable code."""
        if asset.code_version is not None:
            return CodeVersion(asset.code_version, {})
        root, _ = self._part(asset.fn)
        found: list[CodePart] = []
        stack: list[_Node] = [asset.fn]
        seen: set[object] = set()
        while stack:
            node = stack.pop()
            key = _key(node)
            if key in seen:
                continue
            seen.add(key)
            part, refs = self._part(node)
            found.append(part)
            stack.extend(refs)
        parts = _merge(found)
        hashed = [_SCHEME, root.name, root.digest]
        for part in parts:
            hashed += (part.name, part.digest)
        return CodeVersion(structured_hash(hashed), {p.name: p.digest for p in parts}, parts)

    def _parsed(self, filename: str) -> ParsedFile | None:
        if filename not in self._files:
            self._files[filename] = self._analyse(filename)
        return self._files[filename]

    def _parsed_module(self, module: str) -> ParsedFile | None:
        filename = getattr(sys.modules.get(module), "__file__", None)
        return self._parsed(filename) if isinstance(filename, str) and self._is_user_file(filename) else None

    def _analyse(self, filename: str) -> ParsedFile | None:
        """The file's analysis: from the cache while its text is unchanged, else made again from the blocks
        whose text the cache has and the others analysed afresh; None when it cannot be parsed."""
        try:
            source = Path(filename).read_text(encoding="utf-8")
        except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
            return None
        try:
            return self._cache.analyse(filename, source) if self._cache else ParsedFile.analyse(source, filename)
        except (SyntaxError, ValueError):
            return None

    # -- parts -----------------------------------------------------------------------------------

    def _part(self, node: _Node) -> tuple[CodePart, list[_Node]]:
        """A node's own part and the nodes it references."""
        cached = self._parts.get(_key(node))
        if cached is not None:
            return cached
        if isinstance(node, _Constant):  # made afresh per lookup, cheap: not cached
            return CodePart(node.name, "constant", structured_hash(["const", node.text])), []
        if isinstance(node, _Value):
            refs: list[_Node] = []
            return CodePart(node.name, "value", structured_hash(["value", self._describe(node.value, refs)])), refs
        key = _key(node)
        if isinstance(node, _Binding):
            result = self._binding_part(node)
        elif isinstance(node, _WholeModule):
            result = self._module_part(node)
        elif isinstance(node, _Unimportable):
            result = CodePart(node.module, "module", self._source_digest(node.module), node.reason), []
        elif isinstance(node, type):
            result = self._class_part(node)
        elif isinstance(node, types.FunctionType):
            result = self._function_part(node)
        else:
            raise TypeError(f"cannot version {node!r}")
        self._parts[key] = result
        return result

    def _function_part(self, fn: types.FunctionType) -> tuple[CodePart, list[_Node]]:
        code = fn.__code__
        name = f"{fn.__module__}.{fn.__qualname__}"
        parsed = self._parsed(code.co_filename)
        table = (parsed.lambdas if code.co_name == "<lambda>" else parsed.functions) if parsed else {}
        found = table.get(code.co_firstlineno)
        if found is None:
            digest = structured_hash(["bytecode", *_code_fingerprint(code)])
            found = Code(digest, tuple((n,) for n in code.co_names))  # globals only: locals are co_varnames
        # Closure variables shadow globals. A ChainMap, not a merged copy: the globals of a module with
        # thousands of assets would be copied once per function.
        closure: dict[str, Any] = {}
        if fn.__closure__:
            for var, cell in zip(code.co_freevars, fn.__closure__, strict=True):
                try:
                    closure[var] = cell.cell_contents
                except ValueError:  # an empty cell: the variable is not bound yet
                    continue
        package = fn.__globals__.get("__package__")
        scope = self._scope(fn.__module__, fn.__globals__, closure, found, package, name)
        refs, extra = self._resolve(found, scope)
        if "<locals>" in fn.__qualname__:  # defaults were evaluated in the enclosing call: only values tell
            extra.append(self._describe((fn.__defaults__, fn.__kwdefaults__), refs))
        digest = structured_hash([found.digest, *extra]) if extra else found.digest
        return CodePart(name, "function", digest), refs

    def _class_part(self, cls: type) -> tuple[CodePart, list[_Node]]:
        name = f"{cls.__module__}.{cls.__qualname__}"
        parsed = self._parsed_module(cls.__module__)
        found = parsed.classes.get(cls.__qualname__) if parsed else None
        if parsed is None or found is None:
            return CodePart(name, "class", structured_hash(["class", name])), []
        module = sys.modules[cls.__module__]
        scope = self._scope(cls.__module__, vars(module), {}, found, module.__package__, name)
        refs, extra = self._resolve(found, scope)
        mutations = parsed.bindings.get(cls.__qualname__)  # e.g. ``Rates.bonus = 3`` after the class
        if mutations is not None:
            more, more_extra = self._resolve(mutations, scope)
            refs += more
            extra += [mutations.digest, *more_extra]
        digest = structured_hash([found.digest, *extra]) if extra else found.digest
        return CodePart(name, "class", digest), refs

    def _binding_part(self, binding: _Binding) -> tuple[CodePart, list[_Node]]:
        """A module-level value: the statements that bind or change it, and what it holds at load time."""
        value = vars(sys.modules[binding.module]).get(binding.name, _MISSING)
        module, name = self._home(binding.module, binding.name)
        refs: list[_Node] = []
        described = "<unbound>" if value is _MISSING else self._describe(value, refs)
        parsed = self._parsed_module(module)
        code = parsed.bindings.get(name) if parsed else None
        if code is None:
            reason = f"{binding.name} is bound by code that cannot be read statically (a star import or globals())"
            refs.append(_WholeModule(binding.module, reason))
            return CodePart(f"{module}.{name}", "value", structured_hash(["value", described])), refs
        namespace = vars(sys.modules[module])
        scope = self._scope(module, namespace, {}, code, namespace.get("__package__"), f"{module}.{name}")
        more, extra = self._resolve(code, scope)
        digest = structured_hash(["value", described, code.digest, *extra])
        return CodePart(f"{module}.{name}", "value", digest), refs + more

    def _module_part(self, whole: _WholeModule) -> tuple[CodePart, list[_Node]]:
        """A whole module: the hash of every top-level statement, and every function, class and value it
        defines (followed as usual)."""
        module = sys.modules[whole.module]
        parsed = self._parsed_module(whole.module)
        digest = parsed.module_digest if parsed else structured_hash(["module", whole.module])
        scope = _Scope(whole.module, vars(module), {}, {}, whole.module)
        refs: list[_Node] = []
        for name, value in list(vars(module).items()):
            if not (name.startswith("__") or isinstance(value, types.ModuleType)):
                refs += self._classify((whole.module, name, value), scope)
        return CodePart(whole.module, "module", digest, whole.reason), refs

    # -- resolving names -------------------------------------------------------------------------

    def _scope(
        self,
        module: str,
        namespace: dict[str, Any],
        closure: dict[str, Any],
        code: Code,
        package: str | None,
        where: str,
    ) -> _Scope:
        imports = _NO_IMPORTS
        if code.imports:
            imports = {
                local: self._import(form, lvl, mod, name, package) for local, form, lvl, mod, name in code.imports
            }
        names = ChainMap(closure, namespace) if closure else namespace
        return _Scope(module, names, closure, imports, where)

    def _resolve(self, code: Code, scope: _Scope) -> tuple[list[_Node], list[str]]:
        """The nodes the code reaches, and the hashes of its decorators that are the user's own code."""
        refs: list[_Node] = []
        for chain in code.chains:
            found = self._find(chain, scope)
            if found is not None:
                refs += self._classify(found, scope)
        for dynamic in code.dynamic:
            refs += self._dynamic(dynamic, scope)
        extra: list[str] = []
        for decorator in code.decorators:
            if self._decorator_counts(decorator.callee, scope):
                extra.append(decorator.digest)
                for chain in decorator.chains:
                    if (found := self._find(chain, scope)) is not None:
                        refs += self._classify(found, scope)
        return refs, extra

    def _decorator_counts(self, callee: Chain, scope: _Scope) -> bool:
        """A decorator counts unless it names code outside the user's (``@asset``, ``@functools.cache``);
        one that is not a plain name, or cannot be found, counts. Cached per module: thousands of assets
        share ``@asset``."""
        if not callee:
            return True
        key = (scope.module, callee)
        cacheable = callee[0] not in scope.imports and callee[0] not in scope.closure
        if cacheable and key in self._decorators:
            return self._decorators[key]
        found = self._find(callee, scope)
        counts = found is None or self._user_object(found[2]) is not None
        if cacheable:
            self._decorators[key] = counts
        return counts

    def _find(self, chain: Chain, scope: _Scope) -> _Found | None:
        """What a dotted name points at: attributes are followed through modules, then stop."""
        head = chain[0]
        found: _Found
        if head in scope.imports:
            found = scope.imports[head]
        elif head in scope.closure:
            found = (None, head, scope.closure[head])
        elif head in scope.namespace:
            value = scope.namespace[head]
            if value is getattr(builtins, head, _MISSING):
                return None
            found = (scope.module, head, value)
        else:
            return None  # a local variable, a parameter, or a builtin
        owner, name, value = found
        for attr in chain[1:]:
            if not isinstance(value, types.ModuleType):
                break
            owner, name, value = value.__name__, attr, getattr(value, attr, _MISSING)
        return None if value is _MISSING else (owner, name, value)

    def _classify(self, found: _Found, scope: _Scope) -> list[_Node]:
        """The node(s) for a value found under a name: code is followed, plain data is a constant,
        other module-level values of the user's code are bindings, a user module used as a value is
        taken whole."""
        owner, name, value = found
        if name in _WHERE_CODE_LIVES:
            return []  # the same code checked out elsewhere (another clone, another pod) keeps its version
        if isinstance(value, _Unimportable):
            return [value]
        if isinstance(value, types.ModuleType):
            if self._is_user_module(value.__name__):
                return [_WholeModule(value.__name__, f"module {value.__name__} is used as a value in {scope.where}")]
            return []
        user = self._user_object(value)
        if user is not None:
            # A function made at run time (a lambda, a closure, a decorated one): the statement that
            # binds it says with what, e.g. ``triple = make_scaler(3)``.
            made = owner is not None and getattr(user, "__qualname__", name) != name
            parsed = self._parsed_module(owner) if made and owner is not None else None
            return [user, _Binding(owner, name)] if parsed and owner and name in parsed.bindings else [user]
        if isinstance(value, _LIBRARY_CODE):
            return []  # a function or class of an installed package: a fixed dependency
        text = _constant_text(value)
        user_owner = owner is not None and self._is_user_module(owner)
        if text is not None:
            return [_Constant(f"{owner or scope.module}.{name}", text)] if owner is None or user_owner else []
        if owner is None:
            return [_Value(f"{scope.where}.<closure>.{name}", value)]
        if not user_owner or self._imported_from_library(owner, name):
            return []
        return [_Binding(owner, name)]

    def _imported_from_library(self, module: str, name: str) -> bool:
        """Whether a global is bound only by ``from package import name`` of an installed package."""
        home, original = self._home(module, name)
        parsed = self._parsed_module(home)
        return parsed is not None and original not in parsed.bindings and original in parsed.imported

    def _dynamic(self, dynamic: Chain, scope: _Scope) -> list[_Node]:
        """Whole modules for references no static reading resolves (see ``_Reads``)."""
        kind, *rest = dynamic
        where = scope.where
        if kind == "globals":
            reason = f"globals(), vars(), eval or exec in {where} can reach any name of its module"
            return [_WholeModule(scope.module, reason)] if self._is_user_module(scope.module) else []
        if kind == "getattr":
            found = self._find(tuple(rest), scope)
            target = found[2] if found else None
            if isinstance(target, types.ModuleType) and self._is_user_module(target.__name__):
                reason = f"getattr({'.'.join(rest)}, ...) in {where}: the attribute is not known statically"
                return [_WholeModule(target.__name__, reason)]
            user = self._user_object(target if isinstance(target, type) else type(target))
            return [user] if user is not None else []  # a class (or an instance's): its whole body counts
        if kind == "module":
            name = rest[0]
            package = scope.namespace.get("__package__")
            absolute = self._absolute(len(name) - len(name.lstrip(".")), name.lstrip("."), package)
            loaded = self._load(absolute) if absolute else None
            if loaded is None or not self._is_user_module(loaded.__name__):
                return []
            reason = f"import_module({name!r}) in {where}: what is used from the module is not known statically"
            return [_WholeModule(loaded.__name__, reason)]
        prefix = rest[0]
        reason = f"import_module() of a computed name in {where} could import any user module"
        if prefix:
            reason += f" starting with {prefix!r}"
        return [
            _WholeModule(name, reason)
            for name in sorted(sys.modules)
            if name.startswith(prefix) and self._is_user_module(name)
        ]

    def _home(self, module: str, name: str) -> tuple[str, str]:
        """Where a global of the user's code is bound: through ``from m import name`` (or the module's
        last ``from m import *`` that provides it) to m's statement."""
        for _ in range(_MAX_UNWRAP):
            parsed = self._parsed_module(module)
            if parsed is None or name in parsed.bindings:
                break
            source = parsed.imported.get(name) or parsed.imported.get("*")
            if source is None:
                break
            level, origin, original = source
            target = self._absolute(level, origin, getattr(sys.modules.get(module), "__package__", None))
            if (
                target is None
                or not self._is_user_module(target)
                or (original == "*" and name not in vars(sys.modules[target]))
            ):
                break
            module, name = target, name if original == "*" else original
        return module, name

    # -- imports ---------------------------------------------------------------------------------

    def _import(self, form: str, level: int, module: str, name: str, package: str | None) -> _Found:
        """What an import inside a function binds, importing the user's module if needed (as the
        function would when it runs); installed packages not yet imported are not imported here."""
        target = self._absolute(level, module, package)
        loaded = self._load(target) if target is not None else None
        if target is None or loaded is None:
            failed = self._failed.get(target or "")
            return (None, name, _MISSING if failed is None else _Unimportable(target or "", failed))
        if form == "top":
            top = target.split(".")[0]
            return (top, top, sys.modules.get(top, _MISSING))
        if form == "as":
            return (target, target, loaded)
        value = getattr(loaded, name, _MISSING)
        if value is _MISSING:
            submodule = f"{target}.{name}"
            failed = self._failed.get(submodule) if self._load(submodule) is None else None
            value = sys.modules.get(submodule, _MISSING) if failed is None else _Unimportable(submodule, failed)
        return (target, name, value)

    @staticmethod
    def _absolute(level: int, module: str, package: str | None) -> str | None:
        if not level:
            return module
        try:
            return importlib.util.resolve_name("." * level + module, package)
        except (ImportError, ValueError):
            return None

    def _load(self, name: str) -> types.ModuleType | None:
        loaded = sys.modules.get(name)
        if loaded is not None or not self._is_user_package(name.split(".")[0]):
            return loaded
        try:
            with stdout_to_stderr():  # what it prints as it loads: stdout is lakeplan's (--json)
                return importlib.import_module(name)
        except Exception as exc:  # the user's module fails to import: running the asset will say so
            self._failed[name] = f"could not be imported while versioning ({type(exc).__name__}: {exc})"
            return None

    def _source_digest(self, module: str) -> str:
        """The hash of a module's source file, found without importing it."""
        try:
            spec = importlib.util.find_spec(module)
            origin = spec.origin if spec else None
            text = Path(origin).read_bytes() if origin else b""
        except (ImportError, ValueError, OSError):
            text = b""
        return structured_hash(["source", module, text])

    def _is_user_package(self, top: str) -> bool:
        """Whether a top-level module not yet imported is the user's own code (found without importing)."""
        if top not in self._user_tops:
            try:
                spec = importlib.util.find_spec(top)
            except (ImportError, ValueError):
                spec = None
            places = list(spec.submodule_search_locations or []) if spec else []
            if spec and spec.origin:
                places.append(spec.origin)
            self._user_tops[top] = any(self._is_user_file(str(Path(p) / "__init__.py")) for p in places)
        return self._user_tops[top]

    def _is_user_module(self, module: str) -> bool:
        filename = getattr(sys.modules.get(module), "__file__", None)
        return isinstance(filename, str) and self._is_user_file(filename)

    # -- values ----------------------------------------------------------------------------------

    def _user_object(self, value: object) -> types.FunctionType | type | None:
        """The function or class behind ``value`` when it is the user's own code, else None. Assets and
        wrappers (``functools.cache``, anything with ``__wrapped__``) stand for the code they wrap."""
        for _ in range(_MAX_UNWRAP):
            if isinstance(value, AssetDef):
                value = value.fn
            elif not isinstance(value, (types.FunctionType, type)):
                value = inspect.getattr_static(value, "__wrapped__", None)
                if value is None:
                    return None
            else:
                break
        if isinstance(value, types.FunctionType):
            filename: object = value.__code__.co_filename
        elif isinstance(value, type):
            filename = getattr(sys.modules.get(value.__module__), "__file__", None)
        else:
            return None
        return value if isinstance(filename, str) and self._is_user_file(filename) else None

    def _describe(self, value: object, refs: list[_Node]) -> str:
        """Canonical text of a value as code sees it: plain data as itself, the user's functions and
        classes by name (added to ``refs``), partials and bound methods by what they hold, instances of the
        user's classes by their class, anything else by its type."""
        budget = [_MAX_CONSTANT_ITEMS]

        def leaf(item: object) -> str | None:
            user = self._user_object(item)
            if user is not None:
                refs.append(user)
                label = f"{user.__module__}.{user.__qualname__}"
                if "<" in label:  # lambdas and local functions share names: tell them apart by code
                    label += "@" + self._part(user)[0].digest
                return "code:" + label
            if isinstance(item, functools.partial):
                inner = [_render(x, budget, leaf) for x in (item.func, item.args, item.keywords)]
                return None if None in inner else f"partial({','.join(str(i) for i in inner)})"
            if isinstance(item, (types.MethodType, staticmethod, classmethod)):
                owner = getattr(item, "__self__", None)
                inner = [_render(x, budget, leaf) for x in (owner, item.__func__)]
                return None if None in inner else f"{type(item).__name__}({','.join(str(i) for i in inner)})"
            kind = type(item)
            if isinstance(item, types.ModuleType):
                return f"module:{item.__name__}"
            if self._user_object(kind) is not None:
                # An instance of the user's class: its class, not its state, which may differ from process
                # to process (ids, clocks); the statement that binds it says how it is made.
                refs.append(kind)
                return f"obj:{kind.__module__}.{kind.__qualname__}"
            if callable(item):
                return f"ext:{getattr(item, '__module__', '?')}.{getattr(item, '__qualname__', kind.__qualname__)}"
            return f"<{kind.__module__}.{kind.__qualname__}>"

        return _render(value, budget, leaf) or "<too large>"


def _merge(parts: list[CodePart]) -> tuple[CodePart, ...]:
    """Parts sorted by name; names shared by different code (lambdas, local functions) get the hash
    appended, and the reasons of a module taken whole for several reasons are joined."""
    if len({p.name for p in parts}) == len(parts):  # the usual case: nothing to merge
        return tuple(sorted(parts, key=_name))
    by_name: dict[str, dict[str, CodePart]] = {}
    for part in parts:
        variants = by_name.setdefault(part.name, {})
        known = variants.get(part.digest)
        if known is not None and part.reason and known.reason and part.reason not in known.reason:
            part = dataclasses.replace(known, reason=f"{known.reason}; {part.reason}")
        elif known is not None:
            continue
        variants[part.digest] = part
    merged = [
        dataclasses.replace(part, name=f"{name}#{digest[:12]}") if len(variants) > 1 else part
        for name, variants in by_name.items()
        for digest, part in variants.items()
    ]
    return tuple(sorted(merged, key=_name))


def _name(part: CodePart) -> str:
    return part.name


@functools.cache
def user_file_predicate(project_root: Path) -> Callable[[str], bool]:
    """Files under the project root that are neither installed packages nor lakeplan itself. One predicate
    per root for the process: it remembers each file's answer, so a worker's or a test's every run, every
    workspace and every failure's traceback do not resolve the same paths again."""
    root = str(project_root.resolve()) + "/"
    own = str(Path(__file__).resolve().parent.parent) + "/"
    excluded = ("/site-packages/", "/dist-packages/", "/.venv/")
    own_packages = tuple(own + p + "/" for p in ("assets_core", "io_managers", "argo_compiler"))
    cache: dict[str, bool] = {}

    def is_user_file(filename: str) -> bool:
        result = cache.get(filename)
        if result is None:
            path = str(Path(filename).resolve())
            result = (
                path.startswith(root) and not any(e in path for e in excluded) and not path.startswith(own_packages)
            )
            cache[filename] = result
        return result

    return is_user_file
