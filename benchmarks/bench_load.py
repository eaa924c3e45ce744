"""(b) Declaring and loading 10k assets with their code versions, and the first load after editing one file.

A project of ``@asset`` functions (the layered graph of ``graphs.py``) laid out two ways: ``modules``, one
module per layer (100 files of 100 assets at 10k) imported by a package, and ``one-file``, every asset in
one module. Each load is a fresh process that times ``Workspace.load`` (import, which runs every
``@asset``, and validating the graph) and every asset's automatic code version; ``explicit`` gives every
asset ``code_version=`` instead. States, each over at least 5 processes:

- ``cold``: no bytecode and no ``.lakeplan/cache`` (a fresh checkout);
- ``edited``: the first load after editing one asset's body in one file (the caches of the previous load
  are there; Python recompiles that file, lakeplan re-reads it);
- ``warm``: nothing changed since the previous load.

    .venv/bin/python benchmarks/bench_load.py [--assets 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import graphs
import harness

COLUMNS = ("assets", "layout", "versions", "state", "import_lakeplan_ms", "load_cpu_ms", "versions_cpu_ms",
           *harness.TIME_COLUMNS, "maxrss_mib")  # fmt: skip
LAYOUTS = (("modules", "automatic"), ("one-file", "automatic"), ("one-file", "explicit"))


def case(project: Path, target: str) -> dict[str, object]:
    """One load, inside the fresh subprocess."""
    start = time.perf_counter()
    from assets_core.config import load_settings
    from assets_core.workspace import Workspace

    imported, cpu_start = time.perf_counter(), time.process_time()
    ws = Workspace.load(target, load_settings(project))
    cpu_loaded = time.process_time()
    versions = {key: ws.code_version(key).version for key in ws.graph.assets}
    done, cpu_done = time.perf_counter(), time.process_time()
    return {
        "assets": len(versions),
        "import_lakeplan_ms": (imported - start) * 1000,
        "load_cpu_ms": (cpu_loaded - cpu_start) * 1000,
        "versions_cpu_ms": (cpu_done - cpu_loaded) * 1000,
        "wall_ms": (done - imported) * 1000,
        "cpu_ms": (cpu_done - cpu_start) * 1000,
        "maxrss_mib": harness.maxrss_mib(),
    }


def write_project(project: Path, n: int, layout: str, code_version: str | None) -> tuple[str, list[Path]]:
    """The project's files; returns the target to load and the files holding assets."""
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text("[project]\nname = 'bench'\n", encoding="utf-8")
    source = graphs.module_source(n, code_version=code_version)
    if layout == "one-file":
        (project / "generated.py").write_text(source, encoding="utf-8")
        return "generated.py", [project / "generated.py"]
    header, *chunks = source.split("\n\n@asset")
    per_layer = max(1, len(chunks) // graphs.LAYERS)
    package = project / "generated"
    package.mkdir()
    files = []
    for layer in range(0, len(chunks), per_layer):
        path = package / f"layer_{layer // per_layer:03d}.py"
        path.write_text(header + "".join("\n\n@asset" + c for c in chunks[layer : layer + per_layer]), encoding="utf-8")
        files.append(path)
    imports = "".join(f"from generated.{p.stem} import *  # noqa: F403\n" for p in files)
    (package / "__init__.py").write_text(imports, encoding="utf-8")
    return "generated", files


def edit(path: Path, count: int) -> None:
    """Change the body of the file's first asset (a new constant each time), as a user's edit would."""
    text = path.read_text(encoding="utf-8")
    marker = "    return "
    at = text.index(marker) + len(marker)
    end = text.index("\n", at)
    original = text[at:end].split(" + 0 * ", 1)[0]
    path.write_text(f"{text[:at]}{original} + 0 * {count}{text[end:]}", encoding="utf-8")


def measure(project: Path, target: str, files: list[Path], state: str, repeat: int) -> dict[str, object]:
    """``repeat`` loads in ``state``, each in a fresh process; the figures of each and their summary."""
    runs = []
    for count in range(repeat):
        if state == "cold":
            for cache in project.rglob("__pycache__"):
                shutil.rmtree(cache)
            shutil.rmtree(project / ".lakeplan", ignore_errors=True)
        elif state == "edited":
            edit(files[len(files) // 2], count)
        # Python writes bytecode unless PYTHONDONTWRITEBYTECODE is non-empty; users get the default.
        runs.append(
            harness.run_case(Path(__file__), ["--case", str(project), target], env={"PYTHONDONTWRITEBYTECODE": ""})
        )
    row = {key: min(float(r[key]) for r in runs) for key in ("import_lakeplan_ms", "load_cpu_ms", "versions_cpu_ms")}
    return {
        "assets": runs[0]["assets"],
        "state": state,
        **row,
        **harness.summary([float(r["wall_ms"]) for r in runs], [float(r["cpu_ms"]) for r in runs]),
        "maxrss_mib": max(float(r["maxrss_mib"]) for r in runs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=harness.REPEAT)
    parser.add_argument("--case", nargs=2, metavar=("PROJECT", "TARGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        harness.emit(case(Path(args.case[0]), args.case[1]))
        return
    rows = []
    workdir = Path(tempfile.mkdtemp(prefix="lakeplan-bench-load-"))
    with harness.session("load"):
        try:
            for layout, versions in LAYOUTS:
                project = workdir / f"{layout}-{versions}"
                target, files = write_project(project, args.assets, layout, "1" if versions == "explicit" else None)
                for state in ("cold", "edited", "warm"):
                    row = {
                        "layout": layout,
                        "versions": versions,
                        **measure(project, target, files, state, args.repeat),
                    }
                    rows.append(row)
                    harness.progress(row, COLUMNS)
            print(harness.table(rows, COLUMNS))
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
