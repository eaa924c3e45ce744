"""Regenerate data/events/DAY.csv, one file per day of January 2026 (seeded, so the shipped files are
reproducible): python examples/partitioned/make_data.py"""

import csv
import datetime as dt
import random
from pathlib import Path

DAYS = 14


def main() -> None:
    rng = random.Random(14)
    folder = Path(__file__).parent / "data" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    for offset in range(DAYS):
        day = dt.date(2026, 1, 1) + dt.timedelta(days=offset)
        rows = []
        for event_id in range(40):
            user = rng.randint(1, 25)
            kind = rng.choices(["view", "click", "purchase", "bogus"], [0.6, 0.3, 0.08, 0.02])[0]
            amount = round(rng.lognormvariate(3.0, 0.5), 2) if kind == "purchase" else 0.0
            rows.append([f"{day:%Y%m%d}-{event_id:03d}", user, kind, amount])
        with (folder / f"{day.isoformat()}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["event_id", "user_id", "kind", "amount"])
            writer.writerows(rows)


if __name__ == "__main__":
    main()
