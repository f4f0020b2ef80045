"""Independent DuckDB reference for mrr / new / expansion / contraction / churned / reactivation MRR.

Runs ``bench/reference.sql`` on ``<data>/subscriptions.parquet`` and writes long CSV
(``metric,period,value``; ``period`` = first day of the month). Imports only DuckDB so that its
timing is comparable to the ``kpi`` process. ``--selftest`` checks the SQL on a hand-made dataset.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import tempfile
from pathlib import Path

import duckdb

SQL_PATH = Path(__file__).resolve().parent / "reference.sql"
METRICS = ["mrr", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr"]

Result = dict[tuple[str, str], float]


def _month(text: str) -> str:
    """``YYYY-MM`` or ``YYYY-MM-DD`` -> first day of that month as ``YYYY-MM-01``."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-\d{2})?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}")
    return f"{m.group(1)}-{m.group(2)}-01"


def _source(data: Path) -> str:
    """The Parquet path or glob of the subscriptions source under ``data`` (or ``data`` itself)."""
    if data.is_file():
        return str(data)
    if (data / "subscriptions.parquet").is_file():
        return str(data / "subscriptions.parquet")
    if (data / "subscriptions").is_dir():
        return str(data / "subscriptions" / "**" / "*.parquet")
    raise SystemExit(f"no subscriptions.parquet under {data}")


def compute(path: str, from_month: str, to_month: str, threads: int | None = None) -> Result:
    """Run the reference SQL; returns ``{(metric, period): value}`` including ``start_mrr``."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    params = {"path": path, "from_month": from_month, "to_month": to_month}
    rows = con.execute(SQL_PATH.read_text(), params).fetchall()
    con.close()
    return {(str(metric), str(period)): float(value) for metric, period, value in rows}


def check_roll_forward(res: Result) -> list[str]:
    """start + new + reactivation + expansion - contraction - churned must equal mrr each month."""
    errors = []
    for metric, period in res:
        if metric != "mrr":
            continue
        g = {m: res[(m, period)] for m in [*METRICS, "start_mrr"]}
        rolled = (
            g["start_mrr"]
            + g["new_mrr"]
            + g["reactivation_mrr"]
            + g["expansion_mrr"]
            - g["contraction_mrr"]
            - g["churned_mrr"]
        )
        if not math.isclose(rolled, g["mrr"], rel_tol=1e-9, abs_tol=1e-6):
            errors.append(f"{period}: start+movements={rolled} != mrr={g['mrr']}")
    return errors


def write_csv(res: Result, out: Path | None) -> None:
    """Long CSV in metric order, then period; full float precision."""
    periods = sorted({p for _, p in res})
    fh = out.open("w", newline="") if out else sys.stdout
    try:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["metric", "period", "value"])
        for m in METRICS:
            for p in periods:
                w.writerow([m, p, repr(res[(m, p)])])
    finally:
        if out:
            fh.close()


def selftest() -> None:
    """Check the SQL on a tiny hand-made dataset with hand-computed answers."""
    rows = [
        # customer, sub, item, start, end, amount, interval, qty, status
        ("A", "sA", None, "2023-01-15 10:00:00", None, 100.0, "month", 1, None),
        ("B", "sB", None, "2022-07-01 00:00:00", "2023-03-05 00:00:00", 1200.0, "year", 2, "active"),
        ("B", "sB", None, "2023-03-05 00:00:00", None, 1200.0, "year", 1, None),
        # C ends exactly on a month boundary: still in the Dec snapshot, churned in Jan
        ("C", "sC1", None, "2022-10-10 00:00:00", "2023-01-01 00:00:00", 50.0, "month", 1, None),
        ("C", "sC2", None, "2023-02-20 00:00:00", None, 60.0, "month", 1, None),
        ("D", "sD", "i1", "2023-01-20 00:00:00", "2023-02-03 00:00:00", 30.0, "month", 1, "trialing"),
        ("D", "sD", "i1", "2023-02-03 00:00:00", None, 30.0, "month", 1, "active"),
        # E starts on a month boundary: not in the Jan snapshot, in Feb; gone at the end of Mar
        ("E", "sE", None, "2023-02-01 00:00:00", "2023-03-01 00:00:00", 80.0, "month", 1, None),
        # F pays only inside January (never at a month end), then again from April: new in April
        ("F", "sF1", None, "2023-01-05 00:00:00", "2023-01-25 00:00:00", 40.0, "month", 1, None),
        ("F", "sF2", None, "2023-04-10 00:00:00", None, 40.0, "month", 1, None),
    ]
    expected = {
        "2022-12-01": {"mrr": 250.0},
        "2023-01-01": {"mrr": 300.0, "new_mrr": 100.0, "churned_mrr": 50.0},
        "2023-02-01": {"mrr": 470.0, "new_mrr": 110.0, "reactivation_mrr": 60.0},
        "2023-03-01": {"mrr": 290.0, "contraction_mrr": 100.0, "churned_mrr": 80.0},
        "2023-04-01": {"mrr": 330.0, "new_mrr": 40.0},
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "subscriptions.parquet")
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            "CREATE TABLE s (customer_id VARCHAR, subscription_id VARCHAR, item_id VARCHAR, start_at VARCHAR,"
            " end_at VARCHAR, amount DOUBLE, interval VARCHAR, quantity BIGINT, status VARCHAR)"
        )
        con.executemany("INSERT INTO s VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute(
            "COPY (SELECT * REPLACE (CAST(start_at || '+00' AS TIMESTAMPTZ) AS start_at,"
            " CAST(end_at || '+00' AS TIMESTAMPTZ) AS end_at), 'USD' AS currency, 1 AS interval_count"
            f" FROM s) TO '{path}' (FORMAT parquet)"
        )
        con.close()
        res = compute(path, "2022-12-01", "2023-04-01")
    failures = []
    for period, exp in expected.items():
        for m in METRICS:
            got, want = res[(m, period)], exp.get(m, 0.0)
            if not math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9):
                failures.append(f"{m} {period}: got {got}, want {want}")
    failures += check_roll_forward(res)
    if failures:
        raise SystemExit("selftest FAILED:\n  " + "\n  ".join(failures))
    print(f"selftest ok ({len(expected)} months x {len(METRICS)} metrics)")


def main() -> None:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parent / "data")
    p.add_argument("--from", dest="from_month", type=_month, default="2020-01-01")
    p.add_argument("--to", dest="to_month", type=_month, default="2024-12-01")
    p.add_argument("-o", "--output", type=Path, default=None, help="CSV file (default: stdout)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--selftest", action="store_true", help="check the SQL on a hand-made dataset and exit")
    a = p.parse_args()
    if a.selftest:
        selftest()
        return
    res = compute(_source(a.data), a.from_month, a.to_month, a.threads)
    errors = check_roll_forward(res)
    if errors:
        raise SystemExit("reference roll-forward check failed:\n  " + "\n  ".join(errors[:10]))
    write_csv(res, a.output)


if __name__ == "__main__":
    main()
