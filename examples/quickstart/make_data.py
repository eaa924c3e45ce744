"""Regenerate data/orders.csv (seeded, so the shipped file is reproducible): python make_data.py"""

import csv
import datetime as dt
import random
from pathlib import Path


def main() -> None:
    rng = random.Random(7)
    start = dt.date(2026, 1, 1)
    rows = []
    for order_id in range(1, 2401):
        customer = rng.randint(1, 300)
        loyal = customer % 3 != 0  # a third of customers stop ordering halfway through
        day = rng.randint(0, 179 if loyal else 100)
        amount = round(rng.lognormvariate(3.2, 0.6), 2)
        status = rng.choices(["complete", "cancelled", "refunded"], [0.9, 0.07, 0.03])[0]
        country = rng.choice(["DE", "FR", "NL", "PL", "ES"])
        rows.append([order_id, customer, (start + dt.timedelta(days=day)).isoformat(), amount, status, country])
    rows += [rows[10], rows[20]]  # duplicates the cleaning step removes
    rows.append([9999, 5, "2026-02-30", "12.5", "complete", "DE"])  # an impossible date
    rows.append([10000, 6, "2026-03-01", "-4.0", "complete", "FR"])  # a negative amount
    out = Path(__file__).parent / "data" / "orders.csv"
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "customer_id", "order_date", "amount", "status", "country"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()
