"""The code-analysis cache under ``.lakeplan/cache/code``: per source file, its analysis and the analysis
of each of its blocks keyed by the block's text (``code_syntax.block_key``). An unchanged file is read
from its entry without parsing; an edited one parses only the blocks whose text changed.

An entry is three lines: a header (the key of the file's whole text and the hashes of the other two
lines), the file's analysis, and its blocks, as JSON. A line whose hash does not match (a torn or
corrupted write) is never read, the analysis only under the key of the very text it was made from, and a
block only under the key of its own text, so a stale or damaged cache cannot make changed code look
unchanged. Any problem with it just means analysing again.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .code_syntax import BlockData, Decorator, ParsedFile, blocks, file_key
from .hashing import structured_hash

_DAMAGED = (ValueError, KeyError, TypeError, IndexError)  # what reading a malformed entry raises


class FileCache:
    """Analysed files on disk under ``directory``, one entry per source path."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def analyse(self, filename: str, source: str) -> ParsedFile:
        """The file's analysis: from its entry while its text is unchanged, else assembled from the blocks
        whose text the entry has and the others analysed afresh (and the entry replaced). A SyntaxError
        or ValueError when the source does not parse."""
        try:
            header, analysis, made_of = self._entry(filename).read_bytes().split(b"\n")
            key, analysis_check, blocks_check = json.loads(header)
        except (OSError, *_DAMAGED):
            header = analysis = made_of = b""
            key = analysis_check = blocks_check = None
        current = file_key(source)
        if key == current and analysis_check == _check(analysis):
            try:
                return ParsedFile.from_json(json.loads(analysis))
            except _DAMAGED:
                pass
        known: dict[str, BlockData] = {}
        table: dict[Decorator, int] = {}
        if blocks_check == _check(made_of):
            try:
                data = json.loads(made_of)
                table = {Decorator.from_json(d): i for i, d in enumerate(data["decorators"])}
                known = {str(k): list(b) for k, _, b in data["blocks"]}
            except _DAMAGED:
                known, table = {}, {}
        placed = blocks(source, filename, known, table)
        decorators = list(table)
        parsed = ParsedFile.assemble(placed, decorators)
        self._put(filename, current, parsed.to_json(), {"decorators": decorators, "blocks": placed})
        return parsed

    def _entry(self, filename: str) -> Path:
        return self.directory / (structured_hash(["file", filename])[:32] + ".json")

    def _put(self, filename: str, key: str, analysis: dict[str, Any], made_of: dict[str, Any]) -> None:
        lines = [json.dumps(part, separators=(",", ":")).encode() for part in (analysis, made_of)]
        header = json.dumps([key, *map(_check, lines)]).encode()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("wb", dir=self.directory, suffix=".tmp", delete=False) as handle:
                handle.write(b"\n".join([header, *lines]))
            os.replace(handle.name, self._entry(filename))
        except OSError:
            return  # a read-only project still works, only slower


def _check(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()
