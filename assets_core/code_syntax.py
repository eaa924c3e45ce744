"""What the source of one file says about its code, for code versions: per function, class, lambda
and module-level name, the hash of its normalized syntax tree (docstrings, comments and formatting left
out), the names it reads, the imports inside it, its decorators, and the references no static reading
resolves. A pure function of the source text, cached on disk by content (``FileCache``).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .hashing import structured_hash

# Keys the per-file cache: change it whenever what ``ParsedFile.analyse`` computes changes.
ANALYSIS = "lakeplan-analysis-v3"

Chain = tuple[str, ...]


def _children(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes`` as a list: without a generator per node, walking trees costs half as much."""
    found: list[ast.AST] = []
    for name in node._fields:
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            found.append(value)
        elif isinstance(value, list):
            found += [item for item in value if isinstance(item, ast.AST)]
    return found


def _walk(node: ast.AST) -> list[ast.AST]:
    """The nodes ``ast.walk`` yields, in its (breadth-first) order, as a list."""
    nodes = [node]
    for current in nodes:  # a list iterator sees what is appended while it runs
        nodes += _children(current)
    return nodes


def _strip_docstrings(nodes: list[ast.AST]) -> None:
    """Remove docstrings in place: they document code, they do not run it."""
    for node in nodes:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]


class Decorator(NamedTuple):
    """A decorator expression: its hash, the dotted name it calls (empty when not a plain name) and the
    names it reads. It counts only when that name is the user's own code (code_version decides)."""

    digest: str
    callee: Chain
    chains: tuple[Chain, ...]


class Code(NamedTuple):
    """What versioning needs from one piece of syntax: the hash of its normalized tree, the dotted names
    it reads from outside itself, the imports inside it (local name, form, level, module, name), its own
    decorators, and the references no static reading resolves (see ``_Reads``). A NamedTuple: tens of
    thousands are read from the cache on every load."""

    digest: str
    chains: tuple[Chain, ...]
    imports: tuple[tuple[str, str, int, str, str], ...] = ()
    decorators: tuple[Decorator, ...] = ()
    dynamic: tuple[Chain, ...] = ()

    def to_json(self, decorators: dict[Decorator, int]) -> list[Any]:
        """As a list without trailing empty fields; decorators as indexes into the file's table (most
        functions of a file share the same one, e.g. ``@asset``)."""
        indexes = [decorators.setdefault(d, len(decorators)) for d in self.decorators]
        data: list[Any] = [self.digest, self.chains, self.imports, indexes, self.dynamic]
        while len(data) > 2 and not data[-1]:
            data.pop()
        return data

    @classmethod
    def from_json(cls, data: list[Any], decorators: list[Decorator]) -> Code:
        digest, chains, imports, indexes, dynamic = (*data, [], [], [])[:5]
        return cls(
            digest,
            _chains(chains),
            tuple((a, b, int(c), d, e) for a, b, c, d, e in imports) if imports else (),
            tuple(decorators[i] for i in indexes) if indexes else (),
            _chains(dynamic),
        )


def _chains(data: Iterable[Iterable[str]]) -> tuple[Chain, ...]:
    return tuple(map(tuple, data)) if data else ()


@dataclass
class _Reads:
    """Names read by a piece of code, and its dynamic references: ``("getattr", *chain)`` for
    ``getattr(x, expr)``, ``("globals",)`` for ``globals()``/``vars()``/``eval``/``exec``, ``("module",
    name)`` for ``import_module("name")`` and ``("import", prefix)`` for ``import_module(expr)``."""

    chains: list[Chain] = field(default_factory=list)
    dynamic: list[Chain] = field(default_factory=list)


def _dotted(node: ast.AST) -> Chain | None:
    """``a.b.c`` as ('a', 'b', 'c'); None for anything but a dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return (node.id, *reversed(parts)) if isinstance(node, ast.Name) else None


def _string_prefix(node: ast.AST) -> str:
    """The constant text an expression's string value starts with (e.g. of f"pkg.{name}": "pkg.")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values:
        return _string_prefix(node.values[0])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _string_prefix(node.left)
    return ""


def _reads(roots: Iterable[ast.AST]) -> _Reads:
    """Dotted names read under ``roots`` (``helpers.clean`` gives ('helpers', 'clean') only, so a bare
    module name means the module itself is used as a value), and the dynamic references."""
    found = _Reads()
    stack = list(roots)
    while stack:
        node = stack.pop()
        chain = _dotted(node) if isinstance(node, (ast.Attribute, ast.Name)) else None
        if chain is not None:
            if not isinstance(node, ast.Name) or isinstance(node.ctx, ast.Load):
                found.chains.append(chain)
            continue
        if isinstance(node, ast.Call) and _dynamic_call(node, found):
            continue
        stack += _children(node)
    return found


def _dynamic_call(call: ast.Call, found: _Reads) -> bool:
    """Record a call that reaches code by a computed name; True when its arguments are handled here."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    args = call.args
    if name == "getattr" and isinstance(func, ast.Name) and len(args) >= 2 and (target := _dotted(args[0])):
        attr = args[1]
        if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
            found.chains.append((*target, attr.value))
        else:
            found.dynamic.append(("getattr", *target))
            found.chains.extend(_reads([attr]).chains)
        found.chains.extend(_reads(args[2:]).chains)
        return True
    if isinstance(func, ast.Name) and name in ("globals", "vars", "eval", "exec") and (name != "vars" or not args):
        found.dynamic.append(("globals",))
    elif name in ("import_module", "__import__") and args:
        first = args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.dynamic.append(("module", first.value))
        else:
            found.dynamic.append(("import", _string_prefix(first)))
    return False


def _imports(nodes: list[ast.AST]) -> tuple[tuple[str, str, int, str, str], ...]:
    """Imports among ``nodes`` (a walk of a definition): (local name, form, level, module, imported name), where
    form is "from" (``from m import n``), "as" (``import a.b as z``: the module) or "top" (``import a.b``: a)."""
    found: list[tuple[str, str, int, str, str]] = []
    for sub in nodes:
        if isinstance(sub, ast.ImportFrom):
            found += [(a.asname or a.name, "from", sub.level, sub.module or "", a.name) for a in sub.names]
        elif isinstance(sub, ast.Import):
            for a in sub.names:
                form = "as" if a.asname else "top"
                found.append((a.asname or a.name.split(".")[0], form, 0, a.name, ""))
    return tuple(found)


def _own_decorators(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> tuple[Decorator, ...]:
    return tuple(
        _named_decorator(expr.id) if isinstance(expr, ast.Name) else _decorator(expr) for expr in node.decorator_list
    )


def _decorator(expr: ast.expr) -> Decorator:
    callee = _dotted(expr.func if isinstance(expr, ast.Call) else expr) or ()
    digest = structured_hash(["decorator", ast.dump(expr, annotate_fields=False)])
    return Decorator(digest, callee, tuple(_reads([expr]).chains))


@functools.cache
def _named_decorator(name: str) -> Decorator:
    """A bare ``@name`` (thousands of functions share ``@asset``): its decorator depends on the name alone."""
    return _decorator(ast.Name(name, ast.Load()))


def _dump_undecorated(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    """The node's tree without its own decorators (they count separately), nested ones kept."""
    saved, node.decorator_list = node.decorator_list, []
    try:
        return ast.dump(node, annotate_fields=False)
    finally:
        node.decorator_list = saved


def _body(node: ast.AST) -> list[ast.AST]:
    """A definition's children except its own decorators."""
    own = getattr(node, "decorator_list", [])
    return [c for c in _children(node) if not any(c is d for d in own)]


def _function_code(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Code:
    nodes = _walk(node)
    local = _local_names(node, nodes)
    imports = _imports(nodes)
    imported = {i[0] for i in imports}
    reads = _reads(_body(node))
    chains = tuple(c for c in reads.chains if c[0] not in local or c[0] in imported)
    digest = structured_hash(["def", _dump_undecorated(node)])
    return Code(digest, chains, imports, _own_decorators(node), tuple(reads.dynamic))


def _class_code(node: ast.ClassDef) -> Code:
    reads = _reads(_body(node))
    digest = structured_hash(["class", _dump_undecorated(node)])
    return Code(digest, tuple(reads.chains), _imports(_walk(node)), _own_decorators(node), tuple(reads.dynamic))


def _lambda_code(nodes: list[ast.Lambda]) -> Code:
    """All lambdas that start on one line (a code object names only its first line)."""
    local = set().union(*(_local_names(n, _walk(n)) for n in nodes))
    reads = _reads(nodes)
    chains = tuple(c for c in reads.chains if c[0] not in local)
    digest = structured_hash(["lambda", *(ast.dump(n, annotate_fields=False) for n in nodes)])
    return Code(digest, chains, (), (), tuple(reads.dynamic))


def _top_level(tree: ast.Module) -> Iterator[ast.stmt]:
    """Module-level statements, including those inside top-level if/try/with/for/while/match blocks."""
    stack: list[ast.stmt] = list(reversed(tree.body))
    while stack:
        stmt = stack.pop()
        yield stmt
        nested: list[ast.stmt] = []
        if isinstance(stmt, (ast.If, ast.For, ast.While)):
            nested = [*stmt.body, *stmt.orelse]
        elif isinstance(stmt, ast.With):
            nested = stmt.body
        elif isinstance(stmt, (ast.Try, ast.TryStar)):
            nested = [*stmt.body, *(s for h in stmt.handlers for s in h.body), *stmt.orelse, *stmt.finalbody]
        elif isinstance(stmt, ast.Match):
            nested = [s for case in stmt.cases for s in case.body]
        stack.extend(reversed(nested))


def _bound_names(stmt: ast.stmt) -> set[str]:
    """Global names a module-level statement binds or mutates (``X = ...``, ``X[k] = ...``,
    ``X.attr = ...``, ``X.append(...)``, ``for X in ...``, ``with ... as X``)."""
    targets: list[ast.AST] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign, ast.For)):
        targets = [stmt.target]
    elif isinstance(stmt, ast.With):
        targets = [i.optional_vars for i in stmt.items if i.optional_vars is not None]
    elif isinstance(stmt, ast.Delete):
        targets = list(stmt.targets)
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        targets = [func.value] if isinstance(func, ast.Attribute) else []
    names: set[str] = set()
    for target in targets:
        for sub in _walk(target):
            while isinstance(sub, (ast.Attribute, ast.Subscript, ast.Starred)):
                sub = sub.value
            if isinstance(sub, ast.Name):
                names.add(sub.id)
    return names


class ParsedFile:
    """One source file analysed once: functions by first line (decorators included), lambdas by line,
    classes by qualified name, the module-level statements that bind each global, where imported names
    come from, and a hash of the whole module. A pure function of the source text, so it can be cached
    by content (``FileCache``)."""

    def __init__(
        self,
        functions: dict[int, Code],
        classes: dict[str, Code],
        lambdas: dict[int, Code],
        bindings: dict[str, Code],
        imported: dict[str, tuple[int, str, str]],
        module_digest: str,
    ) -> None:
        self.functions = functions
        self.classes = classes
        self.lambdas = lambdas
        self.bindings = bindings
        self.imported = imported  # global name -> (level, module, name), "*" for a star import's name
        self.module_digest = module_digest

    @classmethod
    def analyse(cls, source: str, filename: str) -> ParsedFile:
        tree = ast.parse(source, filename)
        nodes = _walk(tree)
        _strip_docstrings(nodes)
        functions: dict[int, Code] = {}
        by_line: dict[int, list[ast.Lambda]] = {}
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[min([node.lineno] + [d.lineno for d in node.decorator_list])] = _function_code(node)
            elif isinstance(node, ast.Lambda):
                by_line.setdefault(node.lineno, []).append(node)
        classes: dict[str, ast.ClassDef] = {}
        _index_classes(tree, "", classes)
        class_codes = {name: _class_code(node) for name, node in classes.items()}
        statements: dict[str, list[ast.stmt]] = {}
        imported: dict[str, tuple[int, str, str]] = {}
        top_digests: list[str] = []
        for stmt in _top_level(tree):
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                line = min([stmt.lineno] + [d.lineno for d in stmt.decorator_list])
                code = class_codes[stmt.name] if isinstance(stmt, ast.ClassDef) else functions[line]
                top_digests += [code.digest, *(d.digest for d in code.decorators)]
                continue
            top_digests.append(structured_hash([ast.dump(stmt, annotate_fields=False)]))
            if isinstance(stmt, ast.ImportFrom):
                for a in stmt.names:
                    imported[a.asname or a.name] = (stmt.level, stmt.module or "", a.name)
            for name in _bound_names(stmt):
                statements.setdefault(name, []).append(stmt)
        bindings = {}
        for name, stmts in statements.items():
            reads = _reads(stmts)
            digest = structured_hash(["binding", *(ast.dump(s, annotate_fields=False) for s in stmts)])
            bindings[name] = Code(digest, tuple(reads.chains), (), (), tuple(reads.dynamic))
        return cls(
            functions,
            class_codes,
            {line: _lambda_code(nodes) for line, nodes in by_line.items()},
            bindings,
            imported,
            structured_hash(["module", *top_digests]),
        )

    def to_json(self) -> dict[str, Any]:
        table: dict[Decorator, int] = {}
        data = {
            "functions": [[line, c.to_json(table)] for line, c in self.functions.items()],
            "classes": [[name, c.to_json(table)] for name, c in self.classes.items()],
            "lambdas": [[line, c.to_json(table)] for line, c in self.lambdas.items()],
            "bindings": [[name, c.to_json(table)] for name, c in self.bindings.items()],
            "imported": [[name, *source] for name, source in self.imported.items()],
            "module_digest": self.module_digest,
        }
        return {"decorators": list(table), **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ParsedFile:
        table = [Decorator(d, tuple(c), _chains(ch)) for d, c, ch in data["decorators"]]
        return cls(
            {int(line): Code.from_json(c, table) for line, c in data["functions"]},
            {name: Code.from_json(c, table) for name, c in data["classes"]},
            {int(line): Code.from_json(c, table) for line, c in data["lambdas"]},
            {name: Code.from_json(c, table) for name, c in data["bindings"]},
            {name: (int(level), module, orig) for name, level, module, orig in data["imported"]},
            str(data["module_digest"]),
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


class FileCache:
    """Analysed files on disk under ``directory``, one entry per source path, valid while the source text
    (and the Python version, which shapes the syntax tree, and lakeplan's version and analysis) is unchanged. Reading
    it replaces parsing and hashing thousands of functions on every load; any problem with it just means
    analysing again.

    An entry is two lines: a header (the key its source gives and the hash of the second line) and the
    analysis as JSON. An entry whose key or hash does not match (another source text, a torn or corrupted
    write) is never read, so a stale or damaged cache cannot make changed code look unchanged.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @staticmethod
    def _key(source: str) -> str:
        from . import __version__  # here: this module is imported while the package's __init__ runs

        python = f"{sys.version_info[0]}.{sys.version_info[1]}"
        return structured_hash([ANALYSIS, __version__, python, source])

    def _entry(self, filename: str) -> Path:
        return self.directory / (structured_hash(["file", filename])[:32] + ".json")

    def get(self, filename: str, source: str) -> ParsedFile | None:
        try:
            header, _, body = self._entry(filename).read_bytes().partition(b"\n")
            key, check = json.loads(header)
            if key != self._key(source) or check != hashlib.sha256(body).hexdigest():
                return None
            return ParsedFile.from_json(json.loads(body))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def put(self, filename: str, source: str, parsed: ParsedFile) -> None:
        entry = self._entry(filename)
        body = json.dumps(parsed.to_json(), separators=(",", ":")).encode()
        header = json.dumps([self._key(source), hashlib.sha256(body).hexdigest()]).encode()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("wb", dir=self.directory, suffix=".tmp", delete=False) as handle:
                handle.write(header + b"\n" + body)
            os.replace(handle.name, entry)
        except OSError:
            return  # a read-only project still works, only slower


def _local_names(node: ast.AST, nodes: list[ast.AST]) -> set[str]:
    """Parameters and assigned (or imported) names inside a function (``nodes``: its walk): they shadow
    globals of the same name. Imported names are resolved from their import instead (``Code.imports``)."""
    names: set[str] = set()
    declared_global: set[str] = set()
    for sub in nodes:
        if isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub is not node:
            names.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in sub.names)
        elif isinstance(sub, ast.Global):
            declared_global.update(sub.names)
    return names - declared_global
