"""Independent DuckDB reference for ``dau``, ``mau``, ``dau_mau`` and a weekly user cohort (SPEC §3.3).

Written from SPEC §1.2/§2/§3.3 only (not from ``kpi_cli``). Reads ``<data>/events.parquet`` (or the
Parquet file given with ``--data``) and writes CSV:

- default: long ``metric,period,value,numerator,denominator`` rows, ``period`` = first day of the
  UTC calendar month, for every month from ``--from`` to ``--to`` (empty months included: 0, 0, null);
- ``--cohort``: ``cohort,period_index,cohort_size,retained,rate`` for weekly (Monday) user cohorts.

Hygiene, in this order, over the whole file (not only the requested range):
1. rows repeating an ``event_id`` keep the earliest ``timestamp``, then the first in the file; NULL and
   ``''`` mean "no id", never a shared one;
2. exact duplicate rows are dropped (after step 1 only rows without an id can still be duplicates);
3. actor = ``user_id``; else the ``user_id`` of the earliest row (then first in the file) carrying that
   ``anonymous_id`` together with a ``user_id``; else ``'anon:' || anonymous_id``. Two user ids are
   never merged.

Metrics per month M (UTC): ``dau`` = (sum over M's days of distinct actors that day) / days in M,
zero days included; ``mau`` = distinct actors in M; ``dau_mau`` = dau / mau (null when mau = 0).
Cohort (timing only): a user's cohort is the Monday week of their first ``Signed Up`` event; they are
retained at index k if they have any event in calendar week cohort + k. Cohorts whose week starts in
the range; cells for weeks that start before the range end.

Imports only DuckDB (and the standard library) so its timing is comparable to the ``kpi`` process.
``--selftest`` checks both queries on a hand-made dataset with hand-computed answers.
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

# the cleaned event stream: one CTE chain shared by both queries ($path, $start, $end bound by DuckDB)
CLEAN_SQL = """
WITH raw AS NOT MATERIALIZED (
    -- pos orders rows by (timestamp, position in the file): µs since the epoch in the high bits
    SELECT event_id, "timestamp" AS ts, event, user_id, anonymous_id, account_id,
           CAST(epoch_us("timestamp") AS HUGEINT) * 4294967296 + file_row_number AS pos
    FROM read_parquet($path, file_row_number = true)
),
repeated AS (       -- ids seen more than once, and the row each one keeps
    SELECT event_id, min(pos) AS keep
    FROM raw
    WHERE event_id <> ''            -- NULL and '' are "no id"
    GROUP BY event_id
    HAVING count(*) > 1
),
kept_with_id AS (   -- one row per event_id: earliest timestamp, then first in the file
    SELECT r.pos, r.ts, r.event, r.user_id, r.anonymous_id
    FROM raw AS r LEFT JOIN repeated AS d ON d.event_id = r.event_id
    WHERE r.event_id <> '' AND (d.keep IS NULL OR d.keep = r.pos)
),
kept_without_id AS (  -- exact duplicates (every column equal) dropped; file position = first copy
    SELECT min(pos) AS pos, ts, event, user_id, anonymous_id
    FROM raw
    WHERE event_id IS NULL OR event_id = ''
    GROUP BY event_id, ts, event, user_id, anonymous_id, account_id
),
clean AS (
    SELECT pos, ts, event, user_id, anonymous_id FROM kept_with_id
    UNION ALL
    SELECT pos, ts, event, user_id, anonymous_id FROM kept_without_id
),
identity_map AS (   -- anonymous id -> user of its earliest row carrying both ids (then first in file)
    SELECT anonymous_id, arg_min(user_id, pos) AS mapped_user
    FROM clean
    WHERE user_id IS NOT NULL AND anonymous_id IS NOT NULL
    GROUP BY anonymous_id
),
actor_days AS (     -- distinct (actor, UTC day) in [$start, $end)
    SELECT DISTINCT user_id AS actor, CAST(ts AS DATE) AS day
    FROM clean
    WHERE user_id IS NOT NULL AND ts >= $start AND ts < $end
    UNION
    SELECT coalesce(m.mapped_user, 'anon:' || c.anonymous_id) AS actor, CAST(c.ts AS DATE) AS day
    FROM clean AS c LEFT JOIN identity_map AS m ON m.anonymous_id = c.anonymous_id
    WHERE c.user_id IS NULL AND c.ts >= $start AND c.ts < $end
)
"""

MONTHLY_SQL = """
, per_month AS (
    SELECT CAST(date_trunc('month', day) AS DATE) AS month,
           count(*) AS actor_days,            -- = sum over days of distinct actors that day
           count(DISTINCT actor) AS mau
    FROM actor_days
    GROUP BY 1
),
months AS (
    SELECT CAST(unnest(generate_series(CAST($start AS DATE), CAST($end AS DATE) - 1, INTERVAL 1 MONTH)) AS DATE)
           AS month
)
SELECT m.month,
       coalesce(p.actor_days, 0) AS actor_days,
       coalesce(p.mau, 0) AS mau,
       CAST(m.month + INTERVAL 1 MONTH AS DATE) - m.month AS days
FROM months AS m LEFT JOIN per_month AS p USING (month)
ORDER BY m.month
"""

COHORT_SQL = """
, signups AS (
    SELECT user_id, CAST(date_trunc('week', CAST(min(ts) AS DATE)) AS DATE) AS cohort
    FROM clean
    WHERE event = 'Signed Up' AND user_id IS NOT NULL
    GROUP BY user_id
),
members AS (
    SELECT user_id, cohort FROM signups WHERE cohort >= CAST($start AS DATE) AND cohort < CAST($end AS DATE)
),
actor_weeks AS (
    SELECT DISTINCT actor, CAST(date_trunc('week', day) AS DATE) AS week FROM actor_days
),
sizes AS (SELECT cohort, count(*) AS cohort_size FROM members GROUP BY cohort),
cells AS (   -- every (cohort, k) whose week starts before the range end
    SELECT s.cohort, s.cohort_size, CAST(k.k AS INTEGER) AS period_index
    FROM sizes AS s,
         LATERAL (SELECT unnest(range(0, CAST(ceil((CAST($end AS DATE) - s.cohort) / 7.0) AS BIGINT))) AS k) AS k
),
hits AS (
    SELECT m.cohort, CAST((w.week - m.cohort) // 7 AS INTEGER) AS period_index, count(*) AS retained
    FROM members AS m JOIN actor_weeks AS w ON w.actor = m.user_id AND w.week >= m.cohort
    GROUP BY ALL
)
SELECT c.cohort, c.period_index, c.cohort_size, coalesce(h.retained, 0) AS retained
FROM cells AS c LEFT JOIN hits AS h USING (cohort, period_index)
ORDER BY c.cohort, c.period_index
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
    """The events Parquet file: ``data`` itself or ``data/events.parquet`` (a single file: file order matters)."""
    if data.is_file():
        return str(data)
    if (data / "events.parquet").is_file():
        return str(data / "events.parquet")
    raise SystemExit(f"no events.parquet under {data}")


def _connect(threads: int | None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _params(path: str, first: date, last: date) -> dict[str, object]:
    end = _next_month(last)
    return {"path": path, "start": f"{first.isoformat()} 00:00:00+00", "end": f"{end.isoformat()} 00:00:00+00"}


Row = tuple[str, str, float | None, float | None, float | None]  # metric, period, value, numerator, denominator


def monthly(path: str, first: date, last: date, threads: int | None = None) -> list[Row]:
    """Long rows for dau, mau, dau_mau per month from ``first`` to ``last`` (first days of months)."""
    con = _connect(threads)
    res = con.execute(CLEAN_SQL + MONTHLY_SQL, _params(path, first, last)).fetchall()
    con.close()
    out: dict[str, list[Row]] = {m: [] for m in METRICS}
    for month, actor_days, mau, days in res:
        period = month.isoformat()
        dau = actor_days / days
        out["dau"].append(("dau", period, dau, None, None))
        out["mau"].append(("mau", period, float(mau), None, None))
        out["dau_mau"].append(("dau_mau", period, dau / mau if mau else None, dau, float(mau)))
    return [row for m in METRICS for row in out[m]]


def cohort(path: str, first: date, last: date, threads: int | None = None) -> list[tuple]:
    """(cohort, period_index, cohort_size, retained, rate) rows for weekly user cohorts."""
    con = _connect(threads)
    res = con.execute(CLEAN_SQL + COHORT_SQL, _params(path, first, last)).fetchall()
    con.close()
    return [(c.isoformat(), k, size, ret, ret / size) for c, k, size, ret in res]


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

# event_id, timestamp (UTC), event, user_id, anonymous_id, account_id -- in file order
SELFTEST_ROWS = [
    # an id shared with a later row: u7 maps a4 although the mapping row is before the range
    ("e10", "2023-12-31 20:00:00", "Signed Up", "u7", "a4", "acc7"),
    ("e1", "2024-01-01 10:00:00", "Page Viewed", None, "a1", None),  # -> u1 (merged below)
    ("e2", "2024-01-01 11:00:00", "Signed Up", "u1", "a1", "acc1"),
    ("e3", "2024-01-02 09:00:00", "Page Viewed", None, "a2", None),  # never identified: anon:a2
    ("e4", "2024-01-02 12:00:00", "Signed In", "u1", None, "acc1"),
    # shared device: e6 is filed first, but e5 is the earliest row carrying a3, so a3 -> u2
    ("e6", "2024-01-05 08:00:00", "Signed Up", "u3", "a3", "acc2"),
    ("e5", "2024-01-03 23:30:00", "Signed Up", "u2", "a3", "acc2"),
    ("e7", "2024-01-03 10:00:00", "Page Viewed", None, "a3", None),  # -> u2 (same day as e5: one actor)
    # e8 is filed first with the later timestamp: the Jan 31 copy is kept, u4 is not active in Feb
    ("e8", "2024-02-01 01:00:00", "Report Created", "u4", None, "acc4"),
    ("e9", "2024-01-10 10:00:00", "Page Viewed", "u1", "a1", "acc1"),
    ("e9", "2024-01-10 10:00:00", "Page Viewed", "u1", "a1", "acc1"),  # exact duplicate
    ("e8", "2024-01-31 23:00:00", "Report Created", "u4", None, "acc4"),
    ("e11", "2024-01-15 10:00:00", "Page Viewed", None, "a4", None),  # -> u7
    # same id, same timestamp: the first in the file (u8) wins; keeping u1's copy would lose u8 from MAU
    ("e12", "2024-01-20 10:00:00", "Page Viewed", "u8", None, "acc8"),
    ("e12", "2024-01-20 10:00:00", "Page Viewed", "u1", None, "acc1"),
    # rows without an id are not duplicates of one another (only exact copies are)
    (None, "2024-02-10 10:00:00", "Page Viewed", "u5", None, "acc5"),
    (None, "2024-02-10 10:00:00", "Page Viewed", "u5", None, "acc5"),
    ("", "2024-02-11 10:00:00", "Page Viewed", "u6", None, "acc6"),
    ("", "2024-02-12 10:00:00", "Page Viewed", "u6", None, "acc6"),
    ("e13", "2024-01-08 09:00:00", "Page Viewed", "u2", None, "acc2"),  # u2 week 1
]
# Jan: day counts 01:{u1} 02:{anon:a2,u1} 03:{u2} 05:{u3} 08:{u2} 10:{u1} 15:{u7} 20:{u8} 31:{u4}
#      = 10 actor-days / 31; MAU {u1, anon:a2, u2, u3, u7, u8, u4} = 7
# Feb: 10:{u5} 11:{u6} 12:{u6} = 3 / 29; MAU {u5, u6} = 2.  Mar: nothing.
SELFTEST_MONTHLY = {
    ("dau", "2024-01-01"): 10 / 31,
    ("mau", "2024-01-01"): 7.0,
    ("dau_mau", "2024-01-01"): 10 / 31 / 7,
    ("dau", "2024-02-01"): 3 / 29,
    ("mau", "2024-02-01"): 2.0,
    ("dau_mau", "2024-02-01"): 3 / 29 / 2,
    ("dau", "2024-03-01"): 0.0,
    ("mau", "2024-03-01"): 0.0,
    ("dau_mau", "2024-03-01"): None,
}
# weekly cohorts (Monday weeks) for signups in Jan-Mar 2024; u7 signed up in 2023 (outside)
#   2024-01-01: u1 (signed up Mon 01-01), u2 (Wed 01-03), u3 (Fri 01-05) -> size 3
#     k=0 (01-01..07): u1, u2, u3 -> 3; k=1 (01-08..14): u1 (01-10), u2 (01-08) -> 2; later weeks: 0
SELFTEST_COHORT = {("2024-01-01", 0): (3, 3), ("2024-01-01", 1): (3, 2), ("2024-01-01", 2): (3, 0)}


def selftest() -> None:
    """Check both queries on :data:`SELFTEST_ROWS` against the hand-computed answers."""
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "events.parquet")
        con = _connect(None)
        con.execute(
            "CREATE TABLE e (event_id VARCHAR, ts VARCHAR, event VARCHAR, user_id VARCHAR,"
            " anonymous_id VARCHAR, account_id VARCHAR, pos INTEGER)"
        )
        con.executemany("INSERT INTO e VALUES (?, ?, ?, ?, ?, ?, ?)", [(*r, i) for i, r in enumerate(SELFTEST_ROWS)])
        con.execute(
            "COPY (SELECT event_id, CAST(ts || '+00' AS TIMESTAMPTZ) AS timestamp, event, user_id, anonymous_id,"
            f" account_id FROM e ORDER BY pos) TO '{path}' (FORMAT parquet)"
        )
        con.close()
        got = {(m, p): v for m, p, v, _, _ in monthly(path, date(2024, 1, 1), date(2024, 3, 1))}
        for key, want in SELFTEST_MONTHLY.items():
            have = got.get(key, "missing")
            ok = have is None if want is None else isinstance(have, float) and math.isclose(have, want, rel_tol=1e-12)
            if not ok:
                failures.append(f"{key}: got {have!r}, want {want!r}")
        if set(got) != set(SELFTEST_MONTHLY):
            failures.append(f"unexpected rows: {sorted(set(got) ^ set(SELFTEST_MONTHLY))}")
        cells = {(c, k): (size, ret) for c, k, size, ret, _ in cohort(path, date(2024, 1, 1), date(2024, 3, 1))}
        for key, want_cell in SELFTEST_COHORT.items():
            if cells.get(key) != want_cell:
                failures.append(f"cohort {key}: got {cells.get(key)}, want {want_cell}")
        n_weeks = 13  # Mondays 2024-01-01 + 7k before 2024-04-01: k = 0..12
        if len(cells) != n_weeks or any(ret for (_, k), (_, ret) in cells.items() if k > 1):
            failures.append(f"cohort cells: {sorted(cells.items())}")
    if failures:
        raise SystemExit("selftest FAILED:\n  " + "\n  ".join(failures))
    print(f"selftest ok ({len(SELFTEST_MONTHLY)} monthly values, {len(cells)} cohort cells)")


def main() -> None:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--data", type=Path, default=Path(__file__).resolve().parent / "data" / "events")
    p.add_argument("--from", dest="first", type=_month, default=date(2024, 1, 1))
    p.add_argument("--to", dest="last", type=_month, default=date(2024, 12, 1))
    p.add_argument("--cohort", action="store_true", help="weekly user cohort table instead of dau/mau/dau_mau")
    p.add_argument("-o", "--output", type=Path, default=None, help="CSV file (default: stdout)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--selftest", action="store_true", help="check the SQL on a hand-made dataset and exit")
    a = p.parse_args()
    if a.selftest:
        selftest()
        return
    path = _source(a.data)
    if a.cohort:
        write_csv(
            ["cohort", "period_index", "cohort_size", "retained", "rate"],
            cohort(path, a.first, a.last, a.threads),
            a.output,
        )
    else:
        rows = monthly(path, a.first, a.last, a.threads)
        write_csv(["metric", "period", "value", "numerator", "denominator"], rows, a.output)


if __name__ == "__main__":
    main()
