"""Drawing the graph: states from the planner and the store, clusters per group, sources as cylinders,
--select subsets, and both paths: with a layout engine (graphviz-pure or dot) and with none."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Project

from assets_core.graph_render import (
    NodeState,
    drawn_keys,
    find_engine,
    layered_svg,
    layers,
    to_dot,
    write_graph,
)
from assets_core.graph_state import graph_state

PIPELINE = """
    from assets_core import asset, source_asset

    raw = source_asset("raw", path="raw.json")

    @asset(group="clean")
    def numbers(raw: dict) -> list:
        return raw["values"]

    @asset(group="clean")
    def doubled(numbers: list) -> list:
        return [2 * n for n in numbers]

    @asset(group="report")
    def total(doubled: list) -> dict:
        return {"total": sum(doubled)}

    @asset(group="report")
    def broken(numbers: list) -> dict:
        raise ValueError("always")
"""

SVG = "{http://www.w3.org/2000/svg}"
ENGINE = find_engine()
needs_engine = pytest.mark.skipif(ENGINE is None, reason="no layout engine: pip install graphviz-pure (a dependency)")


@pytest.fixture
def project(sqlite_project: Project) -> Project:
    sqlite_project.write_file(f"{sqlite_project.package}/raw.json", json.dumps({"values": [1, 2]}))
    sqlite_project.write("pipeline", PIPELINE)
    sqlite_project.cli("materialize", "-m", sqlite_project.module(), "--select", "numbers,broken")
    return sqlite_project


def _views(project: Project) -> tuple[object, dict]:
    ws = project.workspace()
    return ws, graph_state(ws).views


def test_states_come_from_plan_and_latest_attempt(project: Project) -> None:
    _, views = _views(project)
    assert {k: v.state for k, v in views.items()} == {
        "raw": NodeState.SOURCE,
        "numbers": NodeState.FRESH,
        "doubled": NodeState.MISSING,
        "total": NodeState.MISSING,
        "broken": NodeState.FAILED,
    }
    project.write_file(f"{project.package}/raw.json", json.dumps({"values": [1, 2, 3]}))
    _, views = _views(project)
    assert views["numbers"].state is NodeState.STALE
    assert len(views["numbers"].causes) == 1 and views["numbers"].causes[0].startswith("DATA: source 'raw' changed:")


def test_dot_groups_clusters_left_to_right_and_draws_sources_as_cylinders(project: Project) -> None:
    ws, views = _views(project)
    source = to_dot(ws.graph, views, drawn_keys(ws.graph, ws.select(None)))
    assert "rankdir=LR" in source
    assert source.count("subgraph cluster_") == 3  # clean, report, sources
    raw_line = next(line for line in source.splitlines() if line.strip().startswith("raw "))
    assert "shape=cylinder" in raw_line
    assert "numbers -> doubled" in source and "raw -> numbers" in source


def test_select_draws_the_subset_and_the_sources_feeding_it(project: Project) -> None:
    ws, views = _views(project)
    keys = drawn_keys(ws.graph, ws.select("+doubled"))
    assert keys == ("raw", "numbers", "doubled")
    source = to_dot(ws.graph, views, keys)
    assert "total" not in source and "broken" not in source
    assert layers(ws.graph, keys) == {"raw": 0, "numbers": 1, "doubled": 2}


def test_without_an_engine_svg_is_layered_and_png_falls_back_to_dot(project: Project, tmp_path: Path) -> None:
    assert find_engine(str(tmp_path)) is None  # an empty search path has no dot and no graphviz-pure
    ws, views = _views(project)
    keys = drawn_keys(ws.graph, ws.select(None))
    svg = write_graph(ws.graph, views, keys, tmp_path / "g.svg", None)
    assert svg.path == tmp_path / "g.svg" and svg.note and "graphviz" in svg.note
    root = ET.parse(svg.path).getroot()
    titles = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if "node" in (g.get("class") or "").split()]
    assert sorted(titles) == sorted(keys)
    png = write_graph(ws.graph, views, keys, tmp_path / "g.png", None)
    assert png.path == tmp_path / "g.dot" and png.note and "wrote g.dot instead" in png.note
    assert png.path.read_text().startswith("digraph lakeplan")


def test_layered_layout_is_deterministic_and_escapes_keys(project: Project) -> None:
    ws, views = _views(project)
    keys = drawn_keys(ws.graph, ws.select(None))
    assert layered_svg(ws.graph, views, keys) == layered_svg(ws.graph, views, keys)
    ET.fromstring(layered_svg(ws.graph, views, keys))  # well-formed XML


@needs_engine
def test_engine_renders_svg_and_png(project: Project, tmp_path: Path) -> None:
    ws, views = _views(project)
    keys = drawn_keys(ws.graph, ws.select(None))
    assert ENGINE is not None
    svg = write_graph(ws.graph, views, keys, tmp_path / "g.svg", ENGINE)
    assert svg.note is None
    root = ET.parse(svg.path).getroot()
    titles = {g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g") if g.get("class") == "cluster"}
    assert titles == {"cluster_clean", "cluster_report", "cluster_sources"}
    png = write_graph(ws.graph, views, keys, tmp_path / "g.png", ENGINE)
    assert png.path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_writes_dot_and_reports_unknown_formats(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "g.dot"
    result = project.cli("graph", "-m", project.module(), "-s", "total", "-o", str(out), check=True)
    assert "wrote" in result.stdout and "1 nodes" in result.stdout
    assert "total" in out.read_text() and "numbers" not in out.read_text()
    bad = project.cli("graph", "-m", project.module(), "-o", str(tmp_path / "g.gif"))
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: cannot write g.gif: unknown format 'gif'")


@needs_engine
def test_cli_svg_uses_the_engine(project: Project, tmp_path: Path) -> None:
    out = tmp_path / "g.svg"
    result = project.cli("graph", "-m", project.module(), "-o", str(out), check=True)
    assert "note:" not in result.stderr
    assert "graphviz version" in out.read_text()
