"""Plain DuckDB reference for ``dau``, ``mau``, ``dau_mau`` on a plain event log (issue 10).

The query a user would write by hand for a log that needs no hygiene (no ``event_id``, no
``anonymous_id``: no dedup, no identity map; exact duplicate rows cannot change a distinct count).
Reads ``<data>/events.parquet`` (or the Parquet file given with ``--data``) with ``read_parquet``,
DuckDB's default threads, and writes CSV:

- default: long ``metric,period,value,numerator,denominator`` rows (the events suite's form), ``period``
  = first day of the UTC calendar month, for every month of the spine ``--from`` .. ``--to``:
  ``dau`` = (sum over the month's days of count(distinct user_id) that day) / days in the month (days
  without events count as 0), ``mau`` = count(distinct user_id) in the month, ``dau_mau`` = dau / mau
  (null when mau = 0; numerator dau, denominator mau);
- ``--cohort`` (timing only): weekly user cohorts, ``cohort,period_index,cohort_size,retained,rate``:
  cohort = the ISO (Monday) week of the user's first event in the file; retained at k = any event in
  week cohort + k; cohorts whose week holds a day of the range (so the first one may start before
  it, as ``kpi cohort`` does), cells for weeks that start before its end;
- ``--lifecycle`` (timing only): per month ``period,new,returning,resurrecting,dormant,quick_ratio``:
  new = first active month is M, returning = active in M and M-1, resurrecting = active in M, not in
  M-1, first active earlier; dormant = -(active in M-1, not in M); quick ratio = (new + resurrecting)
  / -dormant (null when nobody went dormant).

Imports only DuckDB (and the standard library) so its timing is comparable to the ``kpi`` process.
``--selftest`` checks the monthly query on hand-made rows with hand-computed answers.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import tempfile
from datetime import date
from pathlib import Path

import duckdb

METRICS = ["dau", "mau", "dau_mau"]

# $path, $start, $end bound by DuckDB; the session time zone is UTC, so CAST(ts AS DATE) is the UTC day
MONTHLY_SQL = """
WITH ev AS (
    SELECT user_id, CAST("timestamp" AS DATE) AS day
    FROM read_parquet($path)
    WHERE "timestamp" >= $start AND "timestamp" < $end
),
per_day AS (
    SELECT day, count(DISTINCT user_id) AS users FROM ev GROUP BY day
),
day_sums AS (
    SELECT CAST(date_trunc('month', day) AS DATE) AS month, sum(users) AS user_days FROM per_day GROUP BY 1
),
per_month AS (
    SELECT CAST(date_trunc('month', day) AS DATE) AS month, count(DISTINCT user_id) AS mau FROM ev GROUP BY 1
),
months AS (
    SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE) - 1, INTERVAL 1 MONTH)) AS DATE)
           AS month
)
SELECT m.month,
       coalesce(d.user_days, 0) AS user_days,
       coalesce(p.mau, 0) AS mau,
       CAST(m.month + INTERVAL 1 MONTH AS DATE) - m.month AS days
FROM months AS m LEFT JOIN day_sums AS d USING (month) LEFT JOIN per_month AS p USING (month)
ORDER BY m.month
"""

COHORT_SQL = """
WITH weeks AS (
    SELECT DISTINCT user_id, CAST(date_trunc('week', CAST("timestamp" AS DATE)) AS DATE) AS week
    FROM read_parquet($path)
    WHERE user_id IS NOT NULL
),
firsts AS (SELECT user_id, min(week) AS cohort FROM weeks GROUP BY user_id),
members AS (
    SELECT user_id, cohort FROM firsts   -- weeks holding a day of the range (the first may start before it)
    WHERE cohort >= date_trunc('week', CAST($start AS DATE)) AND cohort < CAST($end AS DATE)
),
sizes AS (SELECT cohort, count(*) AS cohort_size FROM members GROUP BY cohort),
cells AS (   -- every (cohort, k) whose week starts before the range end
    SELECT s.cohort, s.cohort_size, CAST(k.k AS INTEGER) AS period_index
    FROM sizes AS s,
         LATERAL (SELECT unnest(range(0, CAST(ceil((CAST($end AS DATE) - s.cohort) / 7.0) AS BIGINT))) AS k) AS k
),
hits AS (
    SELECT m.cohort, CAST((w.week - m.cohort) // 7 AS INTEGER) AS period_index, count(*) AS retained
    FROM members AS m JOIN weeks AS w USING (user_id)
    WHERE w.week < CAST($end AS DATE)
    GROUP BY ALL
)
SELECT c.cohort, c.period_index, c.cohort_size, coalesce(h.retained, 0) AS retained
FROM cells AS c LEFT JOIN hits AS h USING (cohort, period_index)
ORDER BY c.cohort, c.period_index
"""

LIFECYCLE_SQL = """
WITH um AS (
    SELECT DISTINCT user_id, CAST(date_trunc('month', CAST("timestamp" AS DATE)) AS DATE) AS month
    FROM read_parquet($path)
    WHERE user_id IS NOT NULL AND "timestamp" < $end
),
firsts AS (SELECT user_id, min(month) AS first FROM um GROUP BY user_id),
flagged AS (
    SELECT u.user_id, u.month, f.first,
           EXISTS (SELECT 1 FROM um AS p WHERE p.user_id = u.user_id
                   AND p.month = CAST(u.month - INTERVAL 1 MONTH AS DATE)) AS was_active
    FROM um AS u JOIN firsts AS f USING (user_id)
),
counts AS (
    SELECT month,
           count(*) FILTER (WHERE month = first) AS new,
           count(*) FILTER (WHERE month > first AND was_active) AS returning,
           count(*) FILTER (WHERE month > first AND NOT was_active) AS resurrecting
    FROM flagged GROUP BY month
),
gone AS (   -- active in M-1, not in M: dormant in M
    SELECT CAST(p.month + INTERVAL 1 MONTH AS DATE) AS month, count(*) AS dormant
    FROM um AS p ANTI JOIN um AS n ON n.user_id = p.user_id AND n.month = CAST(p.month + INTERVAL 1 MONTH AS DATE)
    GROUP BY 1
),
months AS (
    SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE) - 1, INTERVAL 1 MONTH)) AS DATE)
           AS month
)
SELECT m.month, coalesce(c.new, 0), coalesce(c.returning, 0), coalesce(c.resurrecting, 0), -coalesce(g.dormant, 0)
FROM months AS m LEFT JOIN counts AS c USING (month) LEFT JOIN gone AS g USING (month)
ORDER BY m.month
"""


def _month(text: str) -> date:
    """``YYYY-MM`` or ``YYYY-MM-DD`` -> the first day of that month."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-\d{2})?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM, got {text!r}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def _source(data: Path) -> str:
    """The events Parquet file: ``data`` itself or ``data/events.parquet``."""
    if data.is_file():
        return str(data)
    if (data / "events.parquet").is_file():
        return str(data / "events.parquet")
    raise SystemExit(f"no events.parquet under {data}")


def _run(sql: str, path: str, first: date, last: date, threads: int | None) -> list[tuple]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    end = _next_month(last)
    params = {"path": path, "start": f"{first.isoformat()} 00:00:00+00", "end": f"{end.isoformat()} 00:00:00+00"}
    res = con.execute(sql, params).fetchall()
    con.close()
    return res


Row = tuple[str, str, float | None, float | None, float | None]  # metric, period, value, numerator, denominator


def monthly(path: str, first: date, last: date, threads: int | None = None) -> list[Row]:
    """Long rows for dau, mau, dau_mau per month from ``first`` to ``last`` (first days of months)."""
    out: dict[str, list[Row]] = {m: [] for m in METRICS}
    for month, user_days, mau, days in _run(MONTHLY_SQL, path, first, last, threads):
        period = month.isoformat()
        dau = user_days / days
        out["dau"].append(("dau", period, dau, None, None))
        out["mau"].append(("mau", period, float(mau), None, None))
        out["dau_mau"].append(("dau_mau", period, dau / mau if mau else None, dau, float(mau)))
    return [row for m in METRICS for row in out[m]]


def cohort(path: str, first: date, last: date, threads: int | None = None) -> list[tuple]:
    """(cohort, period_index, cohort_size, retained, rate) rows for weekly user cohorts."""
    res = _run(COHORT_SQL, path, first, last, threads)
    return [(c.isoformat(), k, size, ret, ret / size) for c, k, size, ret in res]


def lifecycle(path: str, first: date, last: date, threads: int | None = None) -> list[tuple]:
    """(period, new, returning, resurrecting, dormant, quick_ratio) rows per month."""
    res = _run(LIFECYCLE_SQL, path, first, last, threads)
    return [(m.isoformat(), n, r, z, d, (n + z) / -d if d else None) for m, n, r, z, d in res]


def _fmt(x: object) -> str:
    if x is None:
        return ""
    return repr(x) if isinstance(x, float) else str(x)


def write_csv(header: list[str], rows: list[tuple], out: Path | None) -> None:
    """CSV with full float precision (``repr``); null as an empty field."""
    fh = out.open("w", newline="") if out else sys.stdout
    try:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for row in rows:
            w.writerow([_fmt(x) for x in row])
    finally:
        if out:
            fh.close()


# -- self-test ---------------------------------------------------------------------------------------------

# timestamp (UTC), event, user_id, account_id
SELFTEST_ROWS = [
    ("2022-12-31 23:59:59.999999", "Page Viewed", "u9", "a9"),  # before the range: counts nowhere
    ("2023-01-01 00:00:00", "Signed In", "u1", "a1"),
    ("2023-01-01 09:00:00", "Page Viewed", "u2", "a1"),
    ("2023-01-01 09:30:00", "Page Viewed", "u1", "a1"),  # u1 again the same day: one user-day
    ("2023-01-02 10:00:00", "Report Created", "u1", "a1"),  # u1 on a second day
    ("2023-01-02 10:00:00", "Report Created", "u1", "a1"),  # exact duplicate (a retry)
    ("2023-01-15 12:00:00", "Invite Sent", "u3", "a2"),
    ("2023-01-31 23:59:59.999999", "Page Viewed", "u4", "a2"),  # the last instant of January
    ("2023-02-01 00:00:00", "Page Viewed", "u4", "a2"),  # the first of February: another day and month
    ("2023-02-01 08:00:00", "Signed In", "u1", "a1"),
    ("2023-02-28 18:00:00", "Page Viewed", "u5", "a3"),
    ("2023-02-28 18:00:00", "Page Viewed", "u5", "a3"),  # exact duplicate
    # March: no events at all (zero days; mau 0, dau_mau null)
    ("2023-04-03 10:00:00", "Signed In", "u2", "a1"),
    ("2023-04-03 11:00:00", "Signed In", "u6", "a4"),
    ("2023-04-03 11:00:00", "Signed In", "u6", "a4"),  # exact duplicate
    ("2023-04-05 09:00:00", "Page Viewed", "u2", "a1"),
    ("2023-04-30 23:59:59.999999", "Page Viewed", "u6", "a4"),
    ("2023-05-01 00:00:00", "Page Viewed", "u7", "a4"),  # after the range: counts nowhere
    ("2023-05-02 00:00:00", "Page Viewed", "u1", "a1"),
    ("2023-05-03 00:00:00", "Page Viewed", "u1", "a1"),
]
# Jan: 01:{u1,u2} 02:{u1} 15:{u3} 31:{u4} = 5 user-days / 31; MAU {u1,u2,u3,u4} = 4
# Feb: 01:{u4,u1} 28:{u5} = 3 / 28; MAU {u4,u1,u5} = 3
# Mar: 0 / 31, 0, null.  Apr: 03:{u2,u6} 05:{u2} 30:{u6} = 4 / 30; MAU {u2,u6} = 2
SELFTEST_MONTHLY = {
    ("dau", "2023-01-01"): 5 / 31,
    ("mau", "2023-01-01"): 4.0,
    ("dau_mau", "2023-01-01"): 5 / 31 / 4,
    ("dau", "2023-02-01"): 3 / 28,
    ("mau", "2023-02-01"): 3.0,
    ("dau_mau", "2023-02-01"): 3 / 28 / 3,
    ("dau", "2023-03-01"): 0.0,
    ("mau", "2023-03-01"): 0.0,
    ("dau_mau", "2023-03-01"): None,
    ("dau", "2023-04-01"): 4 / 30,
    ("mau", "2023-04-01"): 2.0,
    ("dau_mau", "2023-04-01"): 4 / 30 / 2,
}
# lifecycle Jan..Apr (u9 was active in Dec 2022): Jan new {u1,u2,u3,u4}, dormant -{u9};
# Feb returning {u1,u4}, new {u5}, dormant -{u2,u3}; Mar dormant -{u1,u4,u5};
# Apr new {u6}, resurrecting {u2}
SELFTEST_LIFECYCLE = [
    ("2023-01-01", 4, 0, 0, -1, 4.0),
    ("2023-02-01", 1, 2, 0, -2, 0.5),
    ("2023-03-01", 0, 0, 0, -3, 0.0),
    ("2023-04-01", 1, 0, 1, 0, None),
]


def selftest() -> None:
    """Check the monthly and lifecycle queries on :data:`SELFTEST_ROWS` against hand-computed answers."""
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "events.parquet")
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute("CREATE TABLE e (ts VARCHAR, event VARCHAR, user_id VARCHAR, account_id VARCHAR, pos INTEGER)")
        con.executemany("INSERT INTO e VALUES (?, ?, ?, ?, ?)", [(*r, i) for i, r in enumerate(SELFTEST_ROWS)])
        con.execute(
            "COPY (SELECT CAST(ts || '+00' AS TIMESTAMPTZ) AS timestamp, event, user_id, account_id"
            f" FROM e ORDER BY pos) TO '{path}' (FORMAT parquet)"
        )
        con.close()
        got = {(m, p): v for m, p, v, _, _ in monthly(path, date(2023, 1, 1), date(2023, 4, 1))}
        for key, want in SELFTEST_MONTHLY.items():
            have = got.get(key, "missing")
            ok = have is None if want is None else isinstance(have, float) and math.isclose(have, want, rel_tol=1e-12)
            if not ok:
                failures.append(f"{key}: got {have!r}, want {want!r}")
        if set(got) != set(SELFTEST_MONTHLY):
            failures.append(f"unexpected rows: {sorted(set(got) ^ set(SELFTEST_MONTHLY))}")
        life = lifecycle(path, date(2023, 1, 1), date(2023, 4, 1))
        if life != SELFTEST_LIFECYCLE:
            failures.append(f"lifecycle: got {life}, want {SELFTEST_LIFECYCLE}")
        cells = {(c, k): (size, ret) for c, k, size, ret, _ in cohort(path, date(2023, 1, 1), date(2023, 4, 1))}
        # Monday weeks: u9 (2022-12-31), u1, u2 (2023-01-01, a Sunday) in week 2022-12-26, which holds the
        # range's first day: size 3, k=0 all three, k=1 u1 (01-02), k=5 u1 (02-01), k=14 u2 (04-03); u3 (01-15) in
        # week 2023-01-09, u4 (01-31) in 2023-01-30 (and again in its week 0: 02-01), u5 (02-28) in 2023-02-27,
        # u6 (04-03) in 2023-04-03, back at k=3 (Sunday 04-30, week 2023-04-24); u7 (05-01) is after the range
        want_cells = {
            ("2022-12-26", 0): (3, 3),
            ("2022-12-26", 1): (3, 1),
            ("2022-12-26", 5): (3, 1),
            ("2022-12-26", 14): (3, 1),
            ("2023-01-09", 0): (1, 1),
            ("2023-01-30", 0): (1, 1),
            ("2023-02-27", 0): (1, 1),
            ("2023-04-03", 0): (1, 1),
            ("2023-04-03", 3): (1, 1),
        }
        for key, cell in want_cells.items():
            if cells.get(key) != cell:
                failures.append(f"cohort {key}: got {cells.get(key)}, want {cell}")
        if any(ret for key, (_, ret) in cells.items() if key not in want_cells):
            failures.append(f"cohort cells: {sorted(cells.items())}")
    if failures:
        raise SystemExit("selftest FAILED:\n  " + "\n  ".join(failures))
    counts = f"{len(SELFTEST_MONTHLY)} monthly values, {len(life)} lifecycle rows, {len(cells)} cohort cells"
    print(f"selftest ok ({counts})")


def main() -> None:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parent / "data" / "plain")
    p.add_argument("--from", dest="first", type=_month, default=date(2023, 1, 1))
    p.add_argument("--to", dest="last", type=_month, default=date(2023, 12, 1))
    what = p.add_mutually_exclusive_group()
    what.add_argument("--cohort", action="store_true", help="weekly user cohort table (timing only)")
    what.add_argument("--lifecycle", action="store_true", help="monthly lifecycle table (timing only)")
    p.add_argument("-o", "--output", type=Path, default=None, help="CSV file (default: stdout)")
    p.add_argument("--threads", type=int, default=None, help="default: DuckDB's own")
    p.add_argument("--selftest", action="store_true", help="check the SQL on a hand-made dataset and exit")
    a = p.parse_args()
    if a.selftest:
        selftest()
        return
    path = _source(a.data)
    if a.cohort:
        header = ["cohort", "period_index", "cohort_size", "retained", "rate"]
        write_csv(header, cohort(path, a.first, a.last, a.threads), a.output)
    elif a.lifecycle:
        header = ["period", "new", "returning", "resurrecting", "dormant", "quick_ratio"]
        write_csv(header, lifecycle(path, a.first, a.last, a.threads), a.output)
    else:
        rows = monthly(path, a.first, a.last, a.threads)
        write_csv(["metric", "period", "value", "numerator", "denominator"], rows, a.output)


if __name__ == "__main__":
    main()
