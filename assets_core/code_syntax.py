"""What the source of one file says about its code, for code versions: per function, class, lambda
and module-level name, the hash of its normalized syntax tree (docstrings, comments and formatting left
out), the names it reads, the imports inside it, its decorators, and the references no static reading
resolves. A pure function of the source text, made of the analyses of its blocks of module-level
statements, each a pure function of its own text (cached on disk by content: ``code_cache``).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .hashing import structured_hash

# Keys the analysis cache: change it whenever what ``Block.analyse`` computes changes.
ANALYSIS = "lakeplan-analysis-v4"

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

    @classmethod
    def from_json(cls, data: list[Any]) -> Decorator:
        digest, callee, chains = data
        return cls(digest, tuple(callee), _chains(chains))


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
    def from_json(cls, data: list[Any], decorators: Sequence[Decorator]) -> Code:
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


class Statement(NamedTuple):
    """A module-level statement that binds or changes globals (see ``_bound_names``): its tree, the names
    it binds and what it reads. A global's binding is assembled from every statement of the file that binds it."""

    dump: str
    names: tuple[str, ...]
    chains: tuple[Chain, ...]
    dynamic: tuple[Chain, ...]


Top = str | int | tuple[str]  # a statement's hash, a function's first line, or (a class's name,)


class Block(NamedTuple):
    """Consecutive module-level statements analysed on their own (usually one, with its decorators and
    the comments after it), line numbers counted from the block's first line. A file's analysis is
    assembled from its blocks, so an edit analyses again only the blocks whose text it changed."""

    functions: dict[int, Code]
    classes: dict[str, Code]
    lambdas: dict[int, Code]
    tops: tuple[Top, ...]  # what the module's hash is made of, in order (classes resolved file-wide)
    statements: tuple[Statement, ...]
    imported: tuple[tuple[str, int, str, str], ...]  # (global name, level, module, name), in order

    @classmethod
    def analyse(cls, text: str, filename: str, first: bool) -> Block:
        """The analysis of ``text``, the file's first block when ``first`` (only that one can hold the module's
        docstring); a SyntaxError when the text does not parse on its own."""
        tree = ast.parse(text, filename)
        nodes = _walk(tree)
        _strip_docstrings(nodes if first else nodes[1:])  # nodes[0] is the module
        functions: dict[int, Code] = {}
        by_line: dict[int, list[ast.Lambda]] = {}
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions[_first_line(node)] = _function_code(node)
            elif isinstance(node, ast.Lambda):
                by_line.setdefault(node.lineno, []).append(node)
        classes: dict[str, ast.ClassDef] = {}
        _index_classes(tree, "", classes)
        tops: list[Top] = []
        statements: list[Statement] = []
        imported: list[tuple[str, int, str, str]] = []
        for stmt in _top_level(tree):
            if isinstance(stmt, ast.ClassDef):
                tops.append((stmt.name,))
                continue
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                tops.append(_first_line(stmt))
                continue
            dump = ast.dump(stmt, annotate_fields=False)
            tops.append(structured_hash([dump]))
            if isinstance(stmt, ast.ImportFrom):
                imported += [(a.asname or a.name, stmt.level, stmt.module or "", a.name) for a in stmt.names]
            names = _bound_names(stmt)
            if names:
                reads = _reads([stmt])
                statements.append(Statement(dump, tuple(sorted(names)), tuple(reads.chains), tuple(reads.dynamic)))
        return cls(
            functions,
            {name: _class_code(node) for name, node in classes.items()},
            {line: _lambda_code(nodes) for line, nodes in by_line.items()},
            tuple(tops),
            tuple(statements),
            tuple(imported),
        )

    def to_json(self, decorators: dict[Decorator, int]) -> list[Any]:
        """As a list without trailing empty fields; decorators as indexes into the file's table."""
        data: list[Any] = [
            [[line, c.to_json(decorators)] for line, c in self.functions.items()],
            [[name, c.to_json(decorators)] for name, c in self.classes.items()],
            [[line, c.to_json(decorators)] for line, c in self.lambdas.items()],
            self.tops,
            self.statements,
            self.imported,
        ]
        while data and not data[-1]:
            data.pop()
        return data


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> int:
    """A definition's first line, its decorators included: the line its code object names."""
    return min([node.lineno] + [d.lineno for d in node.decorator_list])


BlockData = list[Any]  # a block as ``Block.to_json`` gives it: what the cache keeps and a file is assembled from


class PlacedBlock(NamedTuple):
    """A block of a file: the key its text gives (``block_key``), its first line in the file, its analysis
    as data (decorators as indexes into the file's table)."""

    key: str
    line: int
    data: BlockData


# A module-level statement starts on a line that begins with code (not a space, a comment or a closing
# bracket, nor a clause that continues the statement before: else, elif, except, finally). A decorator's
# statement runs on to its definition: the match takes in the decorator lines, those between them (indented,
# comments, closing brackets, blank) and the definition's first line.
_STATEMENT = re.compile(
    r"^(?=[^\s#)\]}])(?!(?:else|elif|except|finally)\b)(?:@.*\n(?:[ \t\f#)\]}].*\n|\n)*)*.*", re.MULTILINE
)
# How many candidate starts a block that does not parse may take in before it is the rest of the file.
_MAX_MERGED = 64


def _block_starts(source: str) -> list[int]:
    """Offsets where a block may start: the file's start and each line that looks like a module-level
    statement's first. A line inside a multi-line string or bracket can look like one; ``blocks`` merges
    what does not parse on its own. The first block holds the first two statements: a module's docstring
    is analysed as such only with the statement after it (a module of a docstring alone keeps a ``pass``)."""
    return [0, *[m.start() for m in _STATEMENT.finditer(source)][2:]]


def block_key(text: str, first: bool) -> str:
    """What a block's analysis is a pure function of: its text, whether it starts the file, the analysis
    (``ANALYSIS``), lakeplan's version and the Python version (which shapes the syntax tree). 128 bits."""
    digest = _block_prefix(ANALYSIS, first).copy()
    digest.update(text.encode())
    return digest.hexdigest()[:32]


def file_key(source: str) -> str:
    """What a whole file's analysis is a pure function of, as ``block_key`` for a block."""
    return structured_hash([_scheme(ANALYSIS), "file", source])


@functools.cache
def _scheme(analysis: str) -> str:
    from . import __version__  # here: this module is imported while the package's __init__ runs

    return f"{analysis}/{__version__}/python{sys.version_info[0]}.{sys.version_info[1]}"


@functools.cache
def _block_prefix(analysis: str, first: bool) -> hashlib._Hash:
    """SHA-256 fed the scheme and the block's place, framed as ``structured_hash`` frames its parts (the
    block's text, the last part, follows): made once, copied per block."""
    digest = hashlib.sha256()
    for part in (_scheme(analysis), "first" if first else "next"):
        data = part.encode()
        digest.update(b"%d:" % len(data) + data)
    return digest


def blocks(
    source: str, filename: str, known: Mapping[str, BlockData], decorators: dict[Decorator, int]
) -> list[PlacedBlock]:
    """The file cut into blocks that each parse on their own, analysed, reusing ``known`` analyses by key
    (their decorators are indexes into ``decorators``, which new blocks extend).

    Each block starts on a line at column 0 and parses alone, so it ends where the tokenizer is outside
    any string, bracket and line continuation: its statements are exactly the file's statements on
    those lines, and the file's analysis assembled from the blocks is the analysis of the whole text.
    A SyntaxError when the file does not parse.
    """
    starts = [*_block_starts(source), len(source)]
    placed: list[PlacedBlock] = []
    line, i = 1, 0
    while i < len(starts) - 1:
        end, key, data = _block_at(source, filename, starts, i, known, decorators)
        placed.append(PlacedBlock(key, line, data))
        line += source.count("\n", starts[i], starts[end])
        i = end
    return placed


def _block_at(
    source: str,
    filename: str,
    starts: list[int],
    i: int,
    known: Mapping[str, BlockData],
    decorators: dict[Decorator, int],
) -> tuple[int, str, BlockData]:
    """The block starting at ``starts[i]``: the shortest run up to a later start that parses on its own
    (after ``_MAX_MERGED`` candidates, the rest of the file): the index of the start it ends at, its key
    and its analysis."""
    last = len(starts) - 1
    first = i == 0
    end = i + 1
    while True:
        text = source[starts[i] : starts[end]]
        key = block_key(text, first)
        data = known.get(key)
        if data is not None:
            return end, key, data
        try:
            return end, key, Block.analyse(text, filename, first).to_json(decorators)
        except SyntaxError:
            if end == last:
                raise
            end = end + 1 if end - i < _MAX_MERGED else last


@dataclass(frozen=True, slots=True)
class ParsedFile:
    """One source file analysed: functions by first line (decorators included), lambdas by line, classes
    by qualified name, the module-level statements that bind each global, where imported names come from,
    and a hash of the whole module. A pure function of the source text, assembled from its blocks."""

    functions: dict[int, Code]
    classes: dict[str, Code]
    lambdas: dict[int, Code]
    bindings: dict[str, Code]
    imported: dict[str, tuple[int, str, str]]  # global name -> (level, module, name); "*" for a star import
    module_digest: str

    @classmethod
    def analyse(cls, source: str, filename: str) -> ParsedFile:
        """The analysis of a whole source text (no cache); a SyntaxError or ValueError when it does not parse."""
        table: dict[Decorator, int] = {}
        return cls.assemble(blocks(source, filename, {}, table), list(table))

    @classmethod
    def assemble(cls, placed: Sequence[PlacedBlock], decorators: Sequence[Decorator]) -> ParsedFile:
        """The file's analysis from its blocks' (in order); one pass over their data, as a warm load reads
        every block of every file."""
        functions: dict[int, Code] = {}
        classes: dict[str, Code] = {}
        lambdas: dict[int, Code] = {}
        imported: dict[str, tuple[int, str, str]] = {}
        statements: dict[str, list[Statement]] = {}
        tops: list[str | tuple[str]] = []  # a class's is resolved once every block is read: the last one wins
        decode = Code.from_json
        for _, first, data in placed:
            shift = first - 1
            own: dict[int, Code] = {}
            block_functions, block_classes, block_lambdas, block_tops, block_statements, block_imported = (
                *data,
                (),
                (),
                (),
                (),
                (),
                (),
            )[:6]
            for line, code in block_functions:
                own[line] = functions[line + shift] = decode(code, decorators)
            for name, code in block_classes:
                classes[name] = decode(code, decorators)
            for line, code in block_lambdas:
                lambdas[line + shift] = decode(code, decorators)
            for top in block_tops:
                if isinstance(top, int):
                    found = own[top]
                    tops += [found.digest, *(d.digest for d in found.decorators)]
                else:
                    tops.append(top if isinstance(top, str) else (top[0],))
            for dump, names, chains, dynamic in block_statements:
                stmt = Statement(dump, tuple(names), _chains(chains), _chains(dynamic))
                for name in names:
                    statements.setdefault(name, []).append(stmt)
            for name, level, module, original in block_imported:
                imported[name] = (int(level), module, original)
        digests: list[str] = []
        for top in tops:
            if isinstance(top, str):
                digests.append(top)
            else:
                found = classes[top[0]]
                digests += [found.digest, *(d.digest for d in found.decorators)]
        bindings = {name: _binding_code(stmts) for name, stmts in statements.items()}
        return cls(functions, classes, lambdas, bindings, imported, structured_hash(["module", *digests]))

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
        table = [Decorator.from_json(d) for d in data["decorators"]]
        return cls(
            {int(line): Code.from_json(c, table) for line, c in data["functions"]},
            {name: Code.from_json(c, table) for name, c in data["classes"]},
            {int(line): Code.from_json(c, table) for line, c in data["lambdas"]},
            {name: Code.from_json(c, table) for name, c in data["bindings"]},
            {name: (int(level), module, orig) for name, level, module, orig in data["imported"]},
            str(data["module_digest"]),
        )


def _binding_code(stmts: list[Statement]) -> Code:
    """A global's binding: every statement that binds or changes it; names read as ``_reads`` of all of
    them in one walk lists them (the last statement's first)."""
    reversed_stmts = stmts[::-1]
    chains = tuple(c for s in reversed_stmts for c in s.chains)
    dynamic = tuple(d for s in reversed_stmts for d in s.dynamic)
    return Code(structured_hash(["binding", *(s.dump for s in stmts)]), chains, (), (), dynamic)


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
