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
