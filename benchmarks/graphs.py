"""The benchmark graph: a layered DAG of ``n`` assets in 100 layers, each asset reading 2 assets of the layer above.

Asset ``i`` of layer ``L`` reads assets ``i`` and ``i+1`` (wrapping) of layer ``L-1``; layer 0 holds the roots.
The same shape is produced as in-memory lakeplan definitions (for the planner), as a Python module of
``@asset`` functions (for loading and materializing) and as the equivalent Dagster module.
"""

from __future__ import annotations

from collections.abc import Iterator

from assets_core.definitions import AssetDef, AssetInput
from assets_core.hashing import structured_hash
from assets_core.records import Head

LAYERS = 100


def key(layer: int, index: int) -> str:
    return f"a{layer:03d}_{index:04d}"


def layered(n: int, layers: int = LAYERS) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(key, upstream keys) for every asset, layer by layer."""
    width = max(1, n // layers)
    for layer in range(layers):
        for i in range(width):
            ups = () if layer == 0 else tuple(dict.fromkeys((key(layer - 1, i), key(layer - 1, (i + 1) % width))))
            yield key(layer, i), ups


def root(n: int) -> str:
    """The root whose code the 'one root changed' case edits."""
    return key(0, 0)


def _noop(**_: object) -> int:
    return 0


def asset_defs(n: int, changed_root: bool = False) -> list[AssetDef]:
    """In-memory definitions with explicit code versions ("1", or "2" for the edited root)."""
    changed = root(n) if changed_root else None
    return [
        AssetDef(k, _noop, tuple(AssetInput(u, u, None) for u in ups), code_version="2" if k == changed else "1")
        for k, ups in layered(n)
    ]


def data_version(k: str) -> str:
    return structured_hash(["bench-data", k])


def location(k: str) -> str:
    return f"{k}/{data_version(k)}.json"


def fresh_heads(n: int) -> dict[str, Head]:
    """Heads as if every asset had been built once with code version "1" from its inputs' current data."""
    return {
        k: Head(i, data_version(k), "1", {u: data_version(u) for u in ups}, location(k), "bench-run")
        for i, (k, ups) in enumerate(layered(n), start=1)
    }


def module_source(n: int, *, framework: str = "lakeplan", code_version: str | None = None) -> str:
    """A module declaring the graph as decorated functions that add up their inputs (roots return 1).

    ``framework`` is "lakeplan" or "dagster": both infer upstream assets from parameter names, so only
    the import differs.
    """
    imports = {"lakeplan": "from assets_core import asset", "dagster": "from dagster import asset"}[framework]
    decorator = "@asset" if code_version is None else f"@asset(code_version={code_version!r})"
    lines = [f'"""Generated benchmark graph: {n} assets in {LAYERS} layers."""', "", imports, ""]
    for k, ups in layered(n):
        body = f"({' + '.join(ups)}) % 997" if ups else "1"
        lines += ["", decorator, f"def {k}({', '.join(ups)}):", f"    return {body}", ""]
    return "\n".join(lines)
