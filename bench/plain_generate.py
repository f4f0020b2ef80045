"""Deterministic generator of a *plain* product-event log for the plain-log benchmark (issue 10).

The shape most warehouse exports have: ``<out>/events.parquet`` with exactly the columns ``timestamp``
(Datetime µs, UTC), ``event``, ``user_id``, ``account_id`` -- no ``event_id``, no ``anonymous_id`` --
covering 2023-01-01 .. 2023-12-31 UTC, sorted by time, Parquet row groups of 1,000,000 rows (zstd).
By default 20,000,000 rows into ``bench/data/plain/``; any other ``--events N`` goes to
``bench/data/plain_N/`` (the issue's 200M run: ``--events 200000000``).

Shape (fractions approximate; the exact counts go to ``.generated.json``):
- ``N * 0.0095`` users (190k at 20M), each in one of ``users / 5`` accounts (heavy-tailed sizes, so
  fewer accounts are in use). 35 % of the users exist when the year starts, the rest join uniformly
  through the year; 45 % churn after an exponential lifetime (mean 120 days), the others stay.
- Activity is Pareto-like (alpha 1.05, capped): each user's share of the events is rate × active days,
  so the top 1 % of users make about 30 % of the events; every user has at least one event.
- Events come in sessions: a user's events are split into sessions of geometric size (mean 3..14
  events, per user), each lasting 2..60 minutes (skewed short), its events in order through it. A
  session starts on a uniform day of the user's active span, 80 % in working hours (08:00-18:00,
  peaking mid-day) of the user's own UTC offset (-8h .. +9h), 15 % in the evening, 5 % at any hour;
  three quarters of weekend sessions move to a weekday of the same week.
- A session's first event is ``Signed In`` 60 % of the time; other events come from a fixed table
  (``Page Viewed`` 42 %, ``Dashboard Viewed``, ``Feature Used``, ``Report Created``, ...). There is no
  ``Signed Up`` event (so cohorts start at each user's first event).
- 0.2 % of rows are exact duplicates of another row (a retried delivery: same timestamp, event, user,
  account), next to their original in the file. They cannot change a distinct count.

Memory: the users and sessions are tables (~22M sessions at 200M events, ~1 GB); the events are made
and written month by month (sessions starting in the month, plus the few rows of sessions that ran
past the previous month's end), each chunk sorted, so the file is time-sorted and the peak stays at a
few GB even for 200M rows.

Randomness: per-user draws use ``random.Random(seed)``; per-session and per-row draws use a splitmix64
mix of a stable index in Polars expressions (wrapping ``u64`` arithmetic). Multi-threaded steps keep
their order (no group-by order is relied on), so the same arguments always give the same file. No numpy.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

BENCH = Path(__file__).resolve().parent
DEFAULT_EVENTS = 20_000_000
USERS_PER_EVENT = 0.0095  # 190,000 users at 20M events
ROW_GROUP = 1_000_000
SEC = 1_000_000
MINUTE = 60 * SEC
HOUR = 3600 * SEC
DAY = 24 * HOUR
YEAR = 2023
YEAR_START = int(datetime(YEAR, 1, 1, tzinfo=UTC).timestamp()) * SEC
YEAR_END = int(datetime(YEAR + 1, 1, 1, tzinfo=UTC).timestamp()) * SEC
MONTH_STARTS = [int(datetime(YEAR, m, 1, tzinfo=UTC).timestamp()) * SEC for m in range(1, 13)] + [YEAR_END]

# events after a session's first one; weights sum to 1000 (a lookup table indexed by draw % 1000)
EVENTS = {
    "Page Viewed": 420,
    "Dashboard Viewed": 170,
    "Feature Used": 120,
    "Report Created": 90,
    "Search Performed": 60,
    "Settings Updated": 40,
    "Export Downloaded": 40,
    "Comment Added": 40,
    "Invite Sent": 20,
}
FIRST_EVENT = "Signed In"  # a session's first event, FIRST_PER_MILLE / 1000 of the time
FIRST_PER_MILLE = 600
NAMES = [FIRST_EVENT, *EVENTS]  # event codes index this list

# (UTC offset in hours, weight): the users' own time zones
OFFSETS = [(-8, 15), (-7, 5), (-6, 8), (-5, 22), (-3, 5), (0, 10), (1, 18), (2, 5), (5.5, 5), (8, 4), (9, 3)]

DUP_PER_MILLE = 2  # exact duplicate rows per thousand
EXISTING_FRACTION = 0.35  # users already there on 2023-01-01
CHURN_FRACTION = 0.45
CHURN_MEAN_DAYS = 120
PARETO_ALPHA = 1.05
RATE_CAP = 150.0  # relative activity cap (x the minimum rate)
MAX_SESSION_EVENTS = 200

_U64 = pl.UInt64
_GOLDEN = 0x9E3779B97F4A7C15


def _mix(x: pl.Expr) -> pl.Expr:
    """splitmix64 finaliser on a ``u64`` expression (multiplication wraps modulo 2**64)."""
    z = x
    z = (z ^ (z // (1 << 30))) * pl.lit(0xBF58476D1CE4E5B9, _U64)
    z = (z ^ (z // (1 << 27))) * pl.lit(0x94D049BB133111EB, _U64)
    return z ^ (z // (1 << 31))


def rand_u64(index: pl.Expr, stream: int) -> pl.Expr:
    """A pseudo-random ``u64`` per row from an integer index and a stream number."""
    return _mix(index.cast(_U64) * pl.lit(_GOLDEN, _U64) + pl.lit((stream * 0xD1B54A32D192ED03) % 2**64, _U64))


def unit(r: pl.Expr) -> pl.Expr:
    """Uniform float in [0, 1) from the top 53 bits of a ``u64`` draw."""
    return (r // (1 << 11)).cast(pl.Float64) / float(1 << 53)


def _lookup(weights: dict[str, int]) -> pl.Series:
    """1000-entry table of event codes (indexes into NAMES), each repeated by its weight."""
    codes = [NAMES.index(name) for name, w in weights.items() for _ in range(w)]
    if len(codes) != 1000:
        raise ValueError("weights must sum to 1000")
    return pl.Series(codes, dtype=pl.UInt8)


def _users(n_users: int, n_events: int, rng: random.Random) -> pl.DataFrame:
    """One row per user: active span [join, end], event count, session size, UTC offset, account."""
    n_accounts = max(1, n_users // 5)
    offsets = [o for o, _ in OFFSETS]
    weights = [w for _, w in OFFSETS]
    join, end, share, account, offset, mean_size = [], [], [], [], [], []
    for _ in range(n_users):
        j = YEAR_START if rng.random() < EXISTING_FRACTION else YEAR_START + int(rng.random() * (YEAR_END - YEAR_START))
        if rng.random() < CHURN_FRACTION:
            e = min(YEAR_END - 1, j + HOUR + int(rng.expovariate(1 / CHURN_MEAN_DAYS) * DAY))
        else:
            e = YEAR_END - 1
        rate = min(RATE_CAP, (1.0 - rng.random()) ** (-1 / PARETO_ALPHA))
        join.append(j)
        end.append(e)
        share.append(rate * max(e - j, HOUR) / DAY)
        account.append(int(n_accounts * rng.random() ** 1.6))
        offset.append(int(rng.choices(offsets, weights)[0] * HOUR))
        mean_size.append(3 + rng.randrange(12))
    # every user has one event; the rest follow the shares (largest remainders get the leftovers)
    spare = n_events - n_users
    total = sum(share)
    raw = [s * spare / total for s in share]
    counts = [int(x) for x in raw]
    for i in sorted(range(n_users), key=lambda i: (counts[i] - raw[i], i))[: spare - sum(counts)]:
        counts[i] += 1
    return pl.DataFrame(
        {
            "user_idx": pl.Series(range(n_users), dtype=pl.Int32),
            "join": pl.Series(join, dtype=pl.Int64),
            "end": pl.Series(end, dtype=pl.Int64),
            "n": pl.Series([c + 1 for c in counts], dtype=pl.Int64),
            "account_idx": pl.Series(account, dtype=pl.Int32),
            "offset": pl.Series(offset, dtype=pl.Int64),
            "mean_size": pl.Series(mean_size, dtype=pl.Int64),
        }
    )


def _sessions(users: pl.DataFrame, s: int) -> pl.DataFrame:
    """One row per session: ``sid``, ``user_idx``, ``start``, ``dur``, ``size`` (sizes sum to each user's n)."""
    per_user = users.select(
        "user_idx",
        "join",
        "end",
        "n",
        "offset",
        "mean_size",
        n_sess=(pl.col("n") + pl.col("mean_size") - 1) // pl.col("mean_size"),
    )
    sess = (
        per_user.with_columns(j=pl.int_ranges(0, pl.col("n_sess")))
        .explode("j")
        .drop("j")
        .with_row_index("sid")
        .with_columns(pl.col("sid").cast(pl.Int64))
    )
    r1, r2, r3 = (rand_u64(pl.col("sid"), s + k) for k in (1, 2, 3))
    # geometric size with the user's mean, capped; then scaled so each user's sizes sum to n exactly
    p = 1.0 / pl.col("mean_size").cast(pl.Float64)
    geo = 1 + ((1.0 - unit(r1)).log() / (1.0 - p).log()).floor().cast(pl.Int64).clip(0, MAX_SESSION_EVENTS - 1)
    # rows are grouped by user in user order: per-user running sums from one global running sum (a window
    # over 1.9M users at 200M events is single-threaded and slow)
    uid = pl.col("user_idx")
    first, last = uid != uid.shift(1).fill_null(-1), uid != uid.shift(-1).fill_null(-1)
    sess = sess.with_columns(draw=geo).with_columns(gcum=pl.col("draw").cum_sum())
    sess = sess.with_columns(
        base=pl.when(first).then(pl.col("gcum") - pl.col("draw")).forward_fill(),
        top=pl.when(last).then(pl.col("gcum")).backward_fill(),
    )
    scaled = ((pl.col("gcum") - pl.col("base")) * pl.col("n")) // (pl.col("top") - pl.col("base"))
    sess = sess.with_columns(scaled=scaled)
    sess = sess.with_columns(size=pl.col("scaled") - pl.when(first).then(0).otherwise(pl.col("scaled").shift(1)))
    sess = sess.filter(pl.col("size") > 0)

    # start: a uniform day of the span, a local time of day, weekend sessions mostly moved to a weekday
    day0 = (pl.col("join") + pl.col("offset") - YEAR_START) // DAY  # local day numbers (0 = 2023-01-01, a Sunday)
    day1 = (pl.col("end") + pl.col("offset") - YEAR_START) // DAY
    day = day0 + (unit(r2) * (day1 - day0 + 1).cast(pl.Float64)).cast(pl.Int64)
    weekday = (day + 6) % 7  # Monday 0
    u_move = unit(rand_u64(pl.col("sid"), s + 4))
    back = (weekday - 4) + (unit(rand_u64(pl.col("sid"), s + 11)) * 5).cast(pl.Int64)  # to Mon..Fri of that week
    day = pl.when((weekday >= 5) & (u_move < 0.75)).then(day - back).otherwise(day)
    kind = unit(r3)
    tri = (unit(rand_u64(pl.col("sid"), s + 5)) + unit(rand_u64(pl.col("sid"), s + 6))) / 2
    u_any = unit(rand_u64(pl.col("sid"), s + 7))
    tod = (
        pl.when(kind < 0.80)
        .then(8 * HOUR + tri * (10 * HOUR))
        .when(kind < 0.95)
        .then(18 * HOUR + u_any * (5 * HOUR))
        .otherwise(u_any * DAY)
        .cast(pl.Int64)
    )
    u_dur = unit(rand_u64(pl.col("sid"), s + 8))
    dur = (2 * MINUTE + u_dur * u_dur * (58 * MINUTE)).cast(pl.Int64)
    start_local = YEAR_START + day * DAY + tod
    start = (start_local - pl.col("offset")).clip(lower_bound=pl.col("join"))
    start = pl.min_horizontal(start, pl.max_horizontal(pl.col("join"), pl.col("end") - dur))
    sess = sess.select("sid", "user_idx", "size", start=start, dur=pl.min_horizontal(dur, pl.col("end") - start))
    month = pl.sum_horizontal([(pl.col("start") >= b).cast(pl.Int8) for b in MONTH_STARTS[1:-1]])
    return sess.with_columns(month=month)


def _month_events(sess: pl.DataFrame, s: int) -> pl.DataFrame:
    """The events of these sessions: ``ts``, ``user_idx``, ``ev`` (code), in no particular order."""
    ev = sess.with_columns(k=pl.int_ranges(0, pl.col("size"), dtype=pl.Int64)).explode("k")
    idx = pl.col("sid") * MAX_SESSION_EVENTS + pl.col("k")
    r = rand_u64(idx, s + 9)
    slot = (pl.col("k").cast(pl.Float64) + unit(r)) / pl.col("size").cast(pl.Float64)
    table = _lookup(EVENTS)
    code = (r // (1 << 20)) % 1000
    first = (pl.col("k") == 0) & ((r // (1 << 40)) % 1000 < FIRST_PER_MILLE)
    ev = ev.select(
        ts=pl.col("start") + (slot * pl.col("dur").cast(pl.Float64)).cast(pl.Int64),
        user_idx=pl.col("user_idx"),
        code=code.cast(pl.Int64),
        first=first,
    )
    ev = ev.with_columns(ev=pl.when(pl.col("first")).then(pl.lit(0, pl.UInt8)).otherwise(table.gather(ev["code"])))
    return ev.select("ts", "user_idx", "ev")


SCHEMA = pa.schema(
    [
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("event", pa.string()),
        pa.field("user_id", pa.string()),
        pa.field("account_id", pa.string()),
    ]
)


def generate(n_events: int, out_dir: Path, seed: int = 11) -> Path:
    """Write ``out_dir/events.parquet`` and ``out_dir/.generated.json``; return the Parquet path."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    n_users = max(1, round(n_events * USERS_PER_EVENT))
    n_dups = n_events * DUP_PER_MILLE // 1000
    n_base = n_events - n_dups
    if n_base < n_users:
        raise SystemExit(f"--events {n_events} is too small")
    users = _users(n_users, n_base, rng)
    s = seed * 16
    sessions = _sessions(users, s)
    user_ids = users.select(pl.concat_str([pl.lit("u"), pl.col("user_idx").cast(pl.String).str.zfill(7)]))
    user_ids = user_ids.to_series()
    account_ids = users.select(pl.concat_str([pl.lit("acc_"), pl.col("account_idx").cast(pl.String).str.zfill(6)]))
    account_ids = account_ids.to_series()
    names = pl.Series(NAMES, dtype=pl.String)

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "events.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    carry = pl.DataFrame(schema={"ts": pl.Int64, "user_idx": pl.Int32, "ev": pl.UInt8})
    pending: list[pl.DataFrame] = []
    pending_rows = written = base_seen = dups_done = row_groups = user_days = 0
    monthly: list[dict[str, int]] = []

    def flush(final: bool) -> None:
        nonlocal pending, pending_rows, written, row_groups
        if not pending:
            return
        buf = pl.concat(pending)
        cut = buf.height if final else buf.height - buf.height % ROW_GROUP
        for lo in range(0, cut, ROW_GROUP):
            part = buf.slice(lo, min(ROW_GROUP, cut - lo))
            table = pa.table(
                {
                    "timestamp": part["ts"].cast(pl.Datetime("us", "UTC")).to_arrow(),
                    "event": names.gather(part["ev"]).to_arrow(),
                    "user_id": user_ids.gather(part["user_idx"]).to_arrow(),
                    "account_id": account_ids.gather(part["user_idx"]).to_arrow(),
                }
            ).cast(SCHEMA)
            writer.write_table(table, row_group_size=ROW_GROUP)
            written += part.height
            row_groups += 1
        rest = buf.slice(cut)
        pending, pending_rows = ([rest] if rest.height else []), rest.height

    writer = pq.ParquetWriter(tmp, SCHEMA, compression="zstd", write_statistics=True)
    try:
        for m in range(12):
            hi = MONTH_STARTS[m + 1]
            made = _month_events(sessions.filter(pl.col("month") == m), s)
            rows = pl.concat([carry, made])
            carry = rows.filter(pl.col("ts") >= hi)
            rows = rows.filter(pl.col("ts") < hi).sort(["ts", "user_idx", "ev"], maintain_order=True)
            # duplicates: the running total follows n_dups / n_base; the rows with the smallest draws repeat
            base_seen += rows.height
            want = round(base_seen * n_dups / n_base) if m < 11 else n_dups
            k, dups_done = want - dups_done, want
            pick = rows.with_row_index("i").with_columns(r=rand_u64(pl.col("i") + (base_seen - rows.height), s + 10))
            dup_rows = pick.top_k(k, by="r", reverse=True).select(rows.columns) if k > 0 else rows.clear()
            rows = pl.concat([rows, dup_rows]).sort(["ts", "user_idx", "ev"], maintain_order=True)
            day = pl.col("ts") // DAY
            pairs = rows.select("user_idx", day.alias("day")).unique()
            user_days += pairs.height
            monthly.append({"month": m + 1, "rows": rows.height, "mau": int(pairs["user_idx"].n_unique())})
            pending.append(rows)
            pending_rows += rows.height
            flush(final=False)
        if carry.height:
            raise AssertionError(f"{carry.height} rows past the year end")
        flush(final=True)
    finally:
        writer.close()
    tmp.replace(path)
    if written != n_events:
        raise AssertionError(f"{written} rows written, expected {n_events}")

    counts = sorted(users["n"].to_list())
    top = counts[-max(1, n_users // 100) :]

    def pct(q: float) -> int:
        return counts[min(len(counts) - 1, math.ceil(q * len(counts)) - 1)]

    meta = {
        "events": n_events,
        "seed": seed,
        "rows": written,
        "seconds": round(time.perf_counter() - t0, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "bytes": path.stat().st_size,
        "row_groups": row_groups,
        "users": n_users,
        "accounts": max(1, n_users // 5),
        "accounts_in_use": int(users["account_idx"].n_unique()),
        "sessions": sessions.height,
        "duplicate_rows": n_dups,
        "user_days": user_days,
        "events_per_user": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": counts[-1]},
        "top_1pct_share": round(sum(top) / sum(counts), 4),
        "existing_users": int(users.filter(pl.col("join") == YEAR_START).height),
        "churned_users": int(users.filter(pl.col("end") < YEAR_END - 1).height),
        "monthly": monthly,
    }
    (out_dir / ".generated.json").write_text(json.dumps(meta) + "\n")
    return path


def default_dir(n_events: int) -> Path:
    """``bench/data/plain`` for the default size, ``bench/data/plain_N`` otherwise."""
    return BENCH / "data" / ("plain" if n_events == DEFAULT_EVENTS else f"plain_{n_events}")


def main() -> None:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="total rows (default 20,000,000)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", type=Path, default=None, help="output folder (default bench/data/plain[_N])")
    a = p.parse_args()
    out_dir = a.out or default_dir(a.events)
    path = generate(a.events, out_dir, a.seed)
    meta = json.loads((out_dir / ".generated.json").read_text())
    print(f"{path}: {meta['rows']:,} rows in {meta['seconds']} s")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
