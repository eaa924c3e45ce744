"""Small user pipelines shared by several test files (written into a throwaway project with ``Project.write``)."""

# A JSON source and two assets: each new source version gives new versions of both.
NUMBERS = """
    from assets_core import asset, source_asset

    raw = source_asset("raw", path="raw.json")

    @asset
    def numbers(raw: dict) -> list:
        return raw["values"]

    @asset
    def total(numbers: list) -> dict:
        return {"total": sum(numbers)}
"""

# Two assets, a -> b, and no source: the smallest graph with an edge.
TWO_ASSETS = """
from assets_core import asset


@asset
def a() -> int:
    return 1


@asset
def b(a: int) -> int:
    return a + 1
"""
