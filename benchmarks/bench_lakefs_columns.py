"""Reading two columns of a wide Parquet asset from lakeFS: a whole download (what lakeplan does) against
``lakefs://`` through fsspec (lakefs-spec: pyarrow reads the footer and the two column chunks by range).

    .venv/bin/pip install lakefs-spec   # only for this benchmark
    .venv/bin/python benchmarks/bench_lakefs_columns.py [--columns 40] [--rows 100000]

Against the fake lakeFS server of the test suite on 127.0.0.1 (no network latency, so ranged reads
look as cheap as they can be), through the real ``lakefs`` SDK; prints time, GET requests and bytes.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import harness  # noqa: E402  (after the path: tests/ holds the fake lakeFS server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=40)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with harness.session("lakefs columns"):
        return measure_reads(args)


def measure_reads(args: argparse.Namespace) -> int:
    try:
        from lakefs_spec import LakeFSFileSystem
    except ImportError:
        print("needs lakefs-spec: .venv/bin/pip install lakefs-spec", file=sys.stderr)
        return 2
    import lakefs
    import numpy as np
    import pandas as pd
    from lakefs_server import FakeLakeFS

    from io_managers.lakefs_config import LakeFSConfig
    from io_managers.lakefs_store import LakeFSStore

    server = FakeLakeFS(REPO.parent / "shared" / "lakefs" / "swagger.yml").start()
    client = lakefs.Client(host=server.endpoint, username=server.access_key, password=server.secret_key)
    lakefs.Repository("bench", client=client).create(storage_namespace="local://bench")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"c{i}": rng.standard_normal(args.rows) for i in range(args.columns)})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, row_group_size=args.rows)
    data = buffer.getvalue()
    server.put_object("bench", "main", "assets/wide.parquet", data)
    commit = lakefs.Repository("bench", client=client).branch("main").commit("wide").id
    wanted = ["c0", "c1"]

    def measure(name: str, read: object) -> None:
        server.calls.clear()
        server.bytes_out = 0
        result = read()  # type: ignore[operator]
        assert list(result.columns) == wanted and len(result) == args.rows
        gets, stats, moved = server.count("get_object"), server.count("stat_object"), server.bytes_out / 1e6
        times = "  ".join(f"{k} {v:.0f}" for k, v in harness.timed(read).items())  # type: ignore[arg-type]
        print(f"{name}: {times}; per read {gets} GET + {stats} stat, {moved:.1f} MB moved")

    print(f"object: {len(data) / 1e6:.1f} MB ({args.columns} float64 columns x {args.rows} rows), reading {wanted}")
    cache = Path(tempfile.mkdtemp(prefix="lakeplan-bench-columns-"))
    config = LakeFSConfig(server.endpoint, "bench", "main", access_key_id=server.access_key,
                          secret_access_key=server.secret_key)  # fmt: skip
    store = LakeFSStore(config, cache, cache)
    location = f"lakefs://bench/{commit}/assets/wide.parquet"
    checksum = server.repos["bench"].commits[commit].tree["assets/wide.parquet"].checksum
    measure("whole download + read_parquet", lambda: pd.read_parquet(store.fetch(location, checksum), columns=wanted))
    fs = LakeFSFileSystem(host=server.endpoint, username=server.access_key, password=server.secret_key)
    measure("lakefs-spec pandas.read_parquet", lambda: pd.read_parquet(location, columns=wanted, filesystem=fs))

    def unbuffered() -> object:
        import pyarrow.parquet as pq

        with fs.open(location, "rb", cache_type="none") as handle:
            return pq.read_table(handle, columns=wanted, pre_buffer=False).to_pandas()

    measure("lakefs-spec, no read-ahead", unbuffered)
    server.stop()
    return 0 if not server.violations else 1


if __name__ == "__main__":
    sys.exit(main())
