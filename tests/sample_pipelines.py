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

# An asset that hangs, with ``timeout`` and ``retries`` to format in. How, by the HANG variable: ``sleep``
# (default; interruptible), ``c`` (SIGALRM blocked first, as C code that never returns to the interpreter:
# only a kill stops it), ``swallow`` (a bare except catches the limit), ``once`` (only the first attempt),
# ``spin`` (a busy loop), ``no`` (returns at once). Each attempt appends to the file ``attempts``. ``later``
# sorts after ``hung`` in the run order, so it is queued behind it.
HUNG = """
import os
import signal
import time
from pathlib import Path

from assets_core import asset


@asset(timeout={timeout!r}, retries={retries})
def hung() -> int:
    how = os.environ.get("HANG", "sleep")
    marker = Path(__file__).with_name("attempts")
    marker.write_text(marker.read_text() + "x" if marker.exists() else "x")
    if how == "c":
        signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGALRM}})
    if how == "swallow":
        for _ in range(5):
            try:
                time.sleep(600)
            except BaseException:  # a careless bare except: the limit is raised again
                pass
    if how == "once" and len(marker.read_text()) > 1:
        return 7
    while how == "spin":
        pass
    if how != "no":
        time.sleep(600)
    return 1


@asset
def after_hung(hung: int) -> int:
    return hung + 1


@asset
def later() -> int:
    return 2
"""

# Resources (issue 15): a PostgreSQL IO manager whose URL is a secret, a versioned resource and an
# unversioned one. ``revenue`` is stored as a table; ``fx`` and ``client`` are parameters, not upstreams.
WAREHOUSE = """
    import pandas as pd
    from assets_core import asset, resource, source_asset
    from io_managers import PostgresTableIOManager

    raw = source_asset("raw", path="raw.json")
    BUILT = []  # names of the resources built in this process, in order


    @resource(secrets={"url": "WAREHOUSE_URL"})
    def warehouse(config):
        BUILT.append("warehouse")
        return PostgresTableIOManager(config["url"])


    @resource(config={"currency": "EUR", "rate": 1.0}, versioned=True)
    def fx(config):
        BUILT.append("fx")
        return {"currency": config["currency"], "rate": float(config["rate"])}


    @resource(config={"timeout": 5})
    def client(config):
        BUILT.append("client")
        return {"timeout": config["timeout"]}


    @asset
    def orders(raw: dict, client: dict) -> pd.DataFrame:
        return pd.DataFrame({"amount": [float(v) for v in raw["values"]]})


    @asset(io_manager="warehouse")
    def revenue(orders: pd.DataFrame, fx: dict) -> pd.DataFrame:
        return pd.DataFrame({"currency": [fx["currency"]], "total": [orders.amount.sum() * fx["rate"]]})


    @asset
    def report(revenue: pd.DataFrame, fx: dict) -> dict:
        return {"total": float(revenue.total.iloc[0]), "currency": fx["currency"]}
"""

# NUMBERS with a blocking check on ``numbers`` (no negative values) that counts each build of ``numbers`` in
# builds.txt, so a test can tell a re-check from a rebuild.
CHECKED = """
    from pathlib import Path

    from assets_core import CheckResult, asset, asset_check, source_asset

    raw = source_asset("raw", path="raw.json")

    @asset
    def numbers(raw: dict) -> list:
        with open(Path(__file__).parent.parent / "builds.txt", "a") as log:
            log.write("numbers\\n")
        return raw["values"]

    @asset
    def total(numbers: list) -> dict:
        return {"total": sum(numbers)}

    @asset_check(asset="numbers", blocking=True)
    def no_negatives(numbers: list) -> CheckResult:
        bad = sum(1 for n in numbers if n < 0)
        return CheckResult(passed=bad == 0, metadata={"negative": bad})
"""

# CHECKED with a 1 s limit on numbers and a check that prints, then hangs unless HANG=no
HUNG_CHECK = (
    CHECKED.replace("from pathlib import Path", "import os\n    import time\n    from pathlib import Path")
    .replace("    @asset\n    def numbers", "    @asset(timeout=1)\n    def numbers")
    .replace(
        "        bad = sum(",
        '        print("checking", len(numbers))\n'
        '        if os.environ.get("HANG") != "no":\n'
        "            time.sleep(600)\n"
        "        bad = sum(",
    )
)

# Daily events (a CSV per day, 2026-01-01..2026-01-05, written by ``write_events``) -> cleaned per day ->
# a 3-day window as one table -> a model reading every day's window by key.
PARTITIONED = """
import pandas as pd

from assets_core import all_partitions, asset, daily_partitions, partition_key, source_asset, window

days = daily_partitions("2026-01-01", end="2026-01-06")
events = source_asset("events", path="data/events/{partition}.csv", partitions=days)


@asset(partitions=days)
def clean(events: pd.DataFrame) -> pd.DataFrame:
    print(f"cleaning {partition_key()}")
    return events[events["n"] >= 0].assign(day=partition_key()).reset_index(drop=True)


@asset(partitions=days, partition_mapping={"clean": window(3)})
def rolling(clean: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"as_of": [partition_key()], "days": [clean["day"].nunique()], "n": [int(clean["n"].sum())]})


@asset(partition_mapping={"rolling": all_partitions()})
def model(rolling: dict[str, pd.DataFrame]) -> dict:
    return {day: int(frame["n"].iloc[0]) for day, frame in rolling.items()}
"""
PARTITIONED_DAYS = ("2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04", "2026-01-05")

# Two assets that write their process id to $PIDS/<name>.pid and sleep 120 s: both run at once with
# ``--workers 2``, to kill their parent under them.
ORPHANS = """
import os
import time
from pathlib import Path

from assets_core import asset

HERE = Path(os.environ["PIDS"])


def _hang(name: str) -> int:
    (HERE / f"{name}.pid").write_text(str(os.getpid()))
    time.sleep(120)
    return 1


@asset
def left() -> int:
    return _hang("left")


@asset
def right() -> int:
    return _hang("right")
"""
