"""Automatic code versions: a hash of the function's normalized syntax tree and of every function,
class and constant of the user's own code that it reaches, transitively.

Comments, docstrings, decorators and formatting do not change a version; editing a helper the asset
calls does, and editing an unrelated function does not. Each reachable object is hashed on its own
(its "component"), and the asset's version hashes the sorted set of components, so the result does not
depend on traversal order or caching, and a later diff can name the function that changed.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import sys
import tempfile
import types
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .definitions import AssetDef
from .hashing import structured_hash

_PRIMITIVES = (int, float, complex, str, bytes, bool, type(None))
_SCHEME = "lakeplan-code-v1"
_MISSING = object()


@dataclass(frozen=True, slots=True)
class CodeVersion:
    """An asset's code version and the per-object hashes it was made from (empty when explicit)."""

    version: str
    components: dict[str, str]


_MAX_CONSTANT_ITEMS = 1000


def _constant_text(value: object, budget: list[int] | None = None) -> str | None:
    """Canonical text of a constant (primitives, and lists/tuples/sets/dicts of them), else None.

    Sets and dicts are rendered sorted, so the text does not depend on hash randomization or insertion
    order and is the same in every process; too large a container is not a constant.
    """
    budget = [_MAX_CONSTANT_ITEMS] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        return None
    if isinstance(value, _PRIMITIVES):
        return repr(value)
    if isinstance(value, dict):
        pairs = [(_constant_text(k, budget), _constant_text(v, budget)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "dict{" + ",".join(sorted(f"{k}:{v}" for k, v in pairs)) + "}"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_constant_text(v, budget) for v in value]
        if any(i is None for i in items):
            return None
        texts = [i for i in items if i is not None]
        if isinstance(value, (set, frozenset)):
            texts.sort()
        return f"{type(value).__name__}[{','.join(texts)}]"
    return None


def _strip(tree: ast.AST) -> None:
    """Remove docstrings and decorators in place: they document or register code, they do not run it."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            node.decorator_list = []
            body = node.body
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]


@dataclass(frozen=True, slots=True)
class _Code:
    """What versioning needs from one function's or class's syntax tree: the hash of its normalized
    tree and the dotted names it reads from outside itself."""

    digest: str
    chains: tuple[tuple[str, ...], ...]


class _ParsedFile:
    """One source file analysed once: functions by first line (decorators included), classes by
    qualified name. A pure function of the source text, so it can be cached by content (``_FileCache``)."""

    def __init__(self, functions: dict[int, _Code], classes: dict[str, _Code]) -> None:
        self.functions = functions
        self.classes = classes

    @classmethod
    def analyse(cls, source: str, filename: str) -> _ParsedFile:
        tree = ast.parse(source, filename)
        functions: dict[int, ast.AST] = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[min([node.lineno] + [d.lineno for d in node.decorator_list])] = node
        classes: dict[str, ast.ClassDef] = {}
        _index_classes(tree, "", classes)
        _strip(tree)
        return cls(
            {line: _function_code(node) for line, node in functions.items()},
            {name: _class_code(node) for name, node in classes.items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "functions": [[line, c.digest, c.chains] for line, c in self.functions.items()],
            "classes": [[name, c.digest, c.chains] for name, c in self.classes.items()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> _ParsedFile:
        def code(digest: str, chains: list[list[str]]) -> _Code:
            return _Code(digest, tuple(tuple(c) for c in chains))

        return cls(
            {line: code(digest, chains) for line, digest, chains in data["functions"]},
            {name: code(digest, chains) for name, digest, chains in data["classes"]},
        )


def _index_classes(node: ast.AST, prefix: str, classes: dict[str, ast.ClassDef]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            name = prefix + child.name
            classes[name] = child
            _index_classes(child, name + ".", classes)
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            _index_classes(child, prefix + child.name + ".<locals>.", classes)
        elif isinstance(child, (ast.stmt, ast.ExceptHandler, ast.match_case)):
            _index_classes(child, prefix, classes)  # expressions hold no class statements


def _function_code(node: ast.AST) -> _Code:
    local = _local_names(node)
    chains = tuple(c for c in _referenced_names(node) if c[0] not in local)
    return _Code(structured_hash(["def", ast.dump(node, annotate_fields=False)]), chains)


def _class_code(node: ast.ClassDef) -> _Code:
    return _Code(structured_hash(["class", ast.dump(node, annotate_fields=False)]), tuple(_referenced_names(node)))


class _FileCache:
    """Analysed files on disk under ``directory``, one entry per source path, valid while the source text
    (and the Python version, which shapes the syntax tree) is unchanged. Reading it replaces parsing and
    hashing thousands of functions on every load; any problem with it just means analysing again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @staticmethod
    def _key(source: str) -> str:
        return structured_hash([_SCHEME, f"{sys.version_info[0]}.{sys.version_info[1]}", source])

    def _entry(self, filename: str) -> Path:
        return self.directory / (structured_hash(["file", filename])[:32] + ".json")

    def get(self, filename: str, source: str) -> _ParsedFile | None:
        try:
            data = json.loads(self._entry(filename).read_text(encoding="utf-8"))
            return _ParsedFile.from_json(data) if data.get("key") == self._key(source) else None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, filename: str, source: str, parsed: _ParsedFile) -> None:
        entry = self._entry(filename)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.directory, suffix=".tmp", delete=False) as handle:
                json.dump({"key": self._key(source), **parsed.to_json()}, handle)
            os.replace(handle.name, entry)
        except OSError:
            return  # a read-only project still works, only slower


def _code_fingerprint(code: types.CodeType) -> Iterator[str]:
    """Fallback for code without readable source (exec, REPL): bytecode, names and constants."""
    yield code.co_code.hex()
    yield repr(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_fingerprint(const)
        else:
            yield repr(const)


def _local_names(node: ast.AST) -> set[str]:
    """Parameters and assigned names inside a function: they shadow globals of the same name."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is not node:
            names.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in sub.names)
    declared_global = {n for sub in ast.walk(node) if isinstance(sub, ast.Global) for n in sub.names}
    return names - declared_global


def _referenced_names(node: ast.AST) -> list[tuple[str, ...]]:
    """Dotted names read by the code, e.g. ('helpers', 'clean') for ``helpers.clean(x)``."""
    chains: list[tuple[str, ...]] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute):
            parts: list[str] = []
            cur: ast.AST = sub
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name):
                chains.append((cur.id, *reversed(parts)))
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
            chains.append((sub.id,))
    return chains


class CodeVersioner:
    """Computes automatic code versions, parsing each source file once.

    ``is_user_file`` decides which files are the user's own code (followed transitively); everything
    else (the standard library, installed packages, lakeplan itself) is treated as a fixed dependency.
    """

    def __init__(self, is_user_file: Callable[[str], bool], cache_dir: Path | None = None) -> None:
        self._is_user_file = is_user_file
        self._cache = _FileCache(cache_dir) if cache_dir is not None else None
        self._files: dict[str, _ParsedFile | None] = {}
        self._own: dict[int, tuple[str, str, list[object]]] = {}

    def version(self, asset: AssetDef) -> CodeVersion:
        """The asset's code version: explicit if declared, otherwise the hash of its reachable code."""
        if asset.code_version is not None:
            return CodeVersion(asset.code_version, {})
        components: dict[str, str] = {}
        root_name, root_hash, _ = self._component(asset.fn)
        stack: list[object] = [asset.fn]
        seen: set[int] = set()
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            name, digest, refs = self._component(obj)
            components[name] = digest
            stack.extend(refs)
        parts = [_SCHEME, root_name, root_hash]
        for name in sorted(components):
            parts += (name, components[name])
        return CodeVersion(structured_hash(parts), components)

    def _parsed(self, filename: str) -> _ParsedFile | None:
        if filename not in self._files:
            self._files[filename] = self._analyse(filename)
        return self._files[filename]

    def _analyse(self, filename: str) -> _ParsedFile | None:
        """The file's analysis, from the cache while its text is unchanged; None when it cannot be parsed."""
        try:
            source = Path(filename).read_text(encoding="utf-8")
        except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
            return None
        cached = self._cache.get(filename, source) if self._cache else None
        if cached is not None:
            return cached
        try:
            parsed = _ParsedFile.analyse(source, filename)
        except (SyntaxError, ValueError):
            return None
        if self._cache:
            self._cache.put(filename, source, parsed)
        return parsed

    def _component(self, obj: object) -> tuple[str, str, list[object]]:
        """(qualified name, hash of the object's own code, user objects it references)."""
        if isinstance(obj, _Constant):  # made afresh per lookup, so never cached by id
            return obj.name, structured_hash(["const", obj.text]), []
        cached = self._own.get(id(obj))
        if cached is not None:
            return cached
        if isinstance(obj, type):
            result = self._class_component(obj)
        elif isinstance(obj, types.FunctionType):
            result = self._function_component(obj)
        else:
            raise TypeError(f"cannot version {obj!r}")
        self._own[id(obj)] = result
        return result

    def _function_component(self, fn: types.FunctionType) -> tuple[str, str, list[object]]:
        code = fn.__code__
        name = f"{fn.__module__}.{fn.__qualname__}"
        parsed = self._parsed(code.co_filename)
        found = parsed.functions.get(code.co_firstlineno) if parsed else None
        if found is not None:
            digest, chains = found.digest, found.chains
        else:
            digest = structured_hash(["bytecode", *_code_fingerprint(code)])
            chains = tuple((n,) for n in code.co_names)  # globals only: locals live in co_varnames
        # Closure variables shadow globals. A ChainMap, not a merged copy: the globals of a module with
        # thousands of assets would be copied once per function.
        closure: dict[str, Any] = {}
        if fn.__closure__:
            for var, cell in zip(code.co_freevars, fn.__closure__, strict=True):
                try:
                    closure[var] = cell.cell_contents
                except ValueError:  # an empty cell: the variable is not bound yet
                    continue
        return name, digest, self._resolve(chains, ChainMap(closure, fn.__globals__), fn.__module__)

    def _class_component(self, cls: type) -> tuple[str, str, list[object]]:
        name = f"{cls.__module__}.{cls.__qualname__}"
        module = sys.modules.get(cls.__module__)
        filename = getattr(module, "__file__", None)
        parsed = self._parsed(filename) if filename else None
        found = parsed.classes.get(cls.__qualname__) if parsed else None
        if found is None:
            return name, structured_hash(["class", name]), []
        namespace = vars(module) if module else {}
        return name, found.digest, self._resolve(found.chains, namespace, cls.__module__)

    def _resolve(self, chains: tuple[tuple[str, ...], ...], namespace: Mapping[str, Any], module: str) -> list[object]:
        """The user-code objects (functions, classes, primitive constants) the names point at."""
        found: dict[int, object] = {}
        for chain in chains:
            if chain[0] not in namespace:
                continue  # a local variable, a parameter, or a builtin
            value = namespace[chain[0]]
            if value is getattr(builtins, chain[0], _MISSING):
                continue
            owner, name = module, chain[0]
            for attr in chain[1:]:
                if not isinstance(value, types.ModuleType):
                    break
                owner, name = value.__name__, attr
                value = getattr(value, attr, _MISSING)
            user = self._user_object(value)
            if user is not None:
                found[id(user)] = user
            elif (text := _constant_text(value)) is not None and self._is_user_module(owner):
                const = _Constant(f"{owner}.{name}", text)
                found[id(const)] = const
        return list(found.values())

    def _is_user_module(self, module: str) -> bool:
        filename = getattr(sys.modules.get(module), "__file__", None)
        return isinstance(filename, str) and self._is_user_file(filename)

    def _user_object(self, value: object) -> object | None:
        """The function or class behind ``value`` when it is the user's own code, else None."""
        if isinstance(value, AssetDef):
            value = value.fn
        if isinstance(value, (types.FunctionType, type)):
            filename = (
                value.__code__.co_filename
                if isinstance(value, types.FunctionType)
                else getattr(sys.modules.get(value.__module__), "__file__", None)
            )
            if filename and self._is_user_file(filename):
                return value
        return None


@dataclass(frozen=True, slots=True)
class _Constant:
    """A module-level constant read by user code, as its canonical text (see ``_constant_text``)."""

    name: str
    text: str


def user_file_predicate(project_root: Path) -> Callable[[str], bool]:
    """Files under the project root that are neither installed packages nor lakeplan itself."""
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
