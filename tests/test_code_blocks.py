"""A file's analysis assembled from its blocks (module-level statements analysed one by one, each reused
from the cache while its text is unchanged) is exactly the analysis of the whole text, and the cache
carried across any sequence of edits gives what a fresh analysis gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets_core.code_cache import FileCache
from assets_core.code_syntax import Block, Decorator, ParsedFile, PlacedBlock, blocks

# Module-level pieces chosen to trip a line-based split: lines at column 0 inside strings and brackets,
# decorators over several lines, clauses that continue a statement (else, except, finally), a global bound
# and changed in several statements, a class defined twice, a bare string statement, lambdas, a line
# continuation, imports the analysis follows.
PIECES = [
    '"""The module docstring."""\n',
    "import functools\nfrom .helpers import clean as tidy\nfrom .other import *\n",
    'QUERY = """\nselect 1\n@decorated\ndef not_a_function():\n    pass\n"""\n',
    "TABLE = [\n1,\n2,\n]\n",
    "TABLE.append(3)\n",
    "TABLE[0] = lambda x: x + 1\n",
    "@functools.cache\n@tidy(\n    1,\n)\n\n# a comment between decorator and def\n"
    "def cached(x):\n    return tidy(x) + TABLE[1]\n",
    "def helper(x):\n    '''Doc.'''\n    s = '''\ntext at column 0\n'''\n    return x * 2 + len(s)\n",
    "if TABLE:\n    FLAG = True\nelse:\n    FLAG = False\n",
    "try:\n    import missing_module\nexcept ImportError:\n    missing_module = None\nfinally:\n    DONE = 1\n",
    "class Rates:\n    bonus = 2\n\n    def apply(self, x):\n        return x * self.bonus\n",
    "class Rates:\n    bonus = 3\n",
    "Rates.bonus = 4\n",
    '"a bare string statement, not a docstring"\n',
    "TOTAL = 1 + \\\n    2\n",
    "pick = lambda a: helper(a); other = lambda: 0\n",
    "def outer():\n    def inner():\n        return helper(1)\n\n    return inner\n",
    "# only a comment\n\n",
    "async def fetch():\n    return await something()\n",
]


def _whole(source: str) -> ParsedFile:
    """The analysis of the text as one block: the whole file's syntax tree, as before blocks existed."""
    table: dict[Decorator, int] = {}
    data = Block.analyse(source, "m.py", True).to_json(table)
    return ParsedFile.assemble([PlacedBlock("", 1, data)], list(table))


def test_the_pieces_are_cut_where_their_statements_start() -> None:
    source = "".join(PIECES)
    placed = blocks(source, "m.py", {}, {})
    assert ParsedFile.analyse(source, "m.py") == _whole(source)
    firsts = [source.splitlines()[b.line - 1] for b in placed]
    assert "@functools.cache" in firsts and "def cached(x):" not in firsts  # a decorator starts its definition
    assert "else:" not in firsts and "except ImportError:" not in firsts and "finally:" not in firsts
    assert "select 1" not in firsts and "text at column 0" not in firsts  # inside strings: merged back


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=12))
def test_blocks_give_the_analysis_of_the_whole_text(pieces: list[str]) -> None:
    source = "".join(pieces)
    assert ParsedFile.analyse(source, "m.py") == _whole(source)


EDITS = st.lists(
    st.tuples(st.sampled_from(["insert", "delete", "replace"]), st.integers(0, 20), st.sampled_from(PIECES)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=10), EDITS)
def test_the_cache_across_edits_gives_what_a_fresh_analysis_gives(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[str], edits: list[tuple[str, int, str]]
) -> None:
    cache = FileCache(tmp_path_factory.mktemp("cache"))
    for action, at, piece in [("replace", 0, pieces[0]), *edits]:
        at %= len(pieces) + 1
        if action == "insert":
            pieces.insert(at, piece)
        elif pieces and at < len(pieces):
            pieces[at : at + 1] = [] if action == "delete" else [piece]
        source = "".join(pieces)
        assert cache.analyse("m.py", source) == _whole(source)
        assert cache.analyse("m.py", source) == _whole(source)  # and read back unchanged
