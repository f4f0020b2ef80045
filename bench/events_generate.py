"""Deterministic generator of a synthetic `events` source (SPEC §1.2, §3.3) for the events benchmark.

Writes ``<out>/events.parquet`` with columns ``event_id, timestamp, event, user_id, anonymous_id,
account_id`` covering 2024 (UTC, µs). By default 20,000,000 rows into ``bench/data/events/``; any other
``--events N`` goes to ``bench/data/events_N/``.

Shape of the data (all fractions approximate; the exact counts go to ``.generated.json``):
- ``N / 100`` users (200k), each in one of ``users / 5`` accounts (40k, heavy-tailed sizes). A user
  signs up during 2024 (a quarter of them in a January launch burst) and stays to the end of the year
  or churns after an exponential lifetime. Activity rate is Pareto-like (alpha 1.3, capped), so a few
  users make most events. ``Signed Up`` is each user's first identified event, exactly once.
- Before signing up, a user browses anonymously: 0–4 ``anonymous_id``-only rows in the 48 h before
  the signup, which the identity merge must attribute to the user. The signup row carries both ids;
  60 % of later rows carry the anonymous id too. 0.5 % of users also use another user's device
  (rows with their ``user_id`` and the other user's ``anonymous_id``), so "earliest row carrying
  both" decides where that anonymous id goes.
- Visitors who never sign up (``users / 2``, 1–3 rows each) are anonymous-only actors.
  Anonymous-only rows total about 3 %.
- 0.5 % of rows repeat an earlier row's ``event_id``: 30 % are exact copies, the rest arrive up to
  36 h later (often on another day); half of those sit *before* their original in the file, so
  "keep the earliest timestamp" and "keep the first in the file" differ. 0.1 % of rows have no
  ``event_id`` (null, or ``""`` for a third of them): they are not duplicates of one another.
- 2024-08-15 is an outage day with no events at all (a zero day inside a month's average DAU).
- Rows are in arrival order (by timestamp, except the early-filed duplicates above).

Randomness: per-entity draws use ``random.Random(seed)``; per-row draws use a splitmix64 mix of the
row index in Polars expressions (wrapping ``u64`` arithmetic), so the same arguments always give the
same file. No numpy.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

BENCH = Path(__file__).resolve().parent
DEFAULT_EVENTS = 20_000_000
SEC = 1_000_000
HOUR = 3600 * SEC
DAY = 24 * HOUR
YEAR_START = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * SEC
YEAR_END = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) * SEC
OUTAGE = int(datetime(2024, 8, 15, tzinfo=UTC).timestamp()) * SEC  # [OUTAGE, OUTAGE + DAY) has no events

# identified events after signup; weights sum to 1000 (a lookup table indexed by draw % 1000)
ACTIVE_EVENTS = {
    "Page Viewed": 400,
    "Dashboard Viewed": 160,
    "Signed In": 120,
    "Feature Used": 110,
    "Report Created": 90,
    "Settings Updated": 50,
    "Export Downloaded": 40,
    "Invite Sent": 30,
}
ANON_EVENTS = {"Page Viewed": 900, "Demo Requested": 100}

DUP_FRACTION = 0.005
NO_ID_PER_MILLE = 1  # rows without event_id, per thousand
SHARED_DEVICE_FRACTION = 0.005
PARETO_ALPHA = 1.3
RATE_CAP = 200.0  # events per day, before scaling to the requested total

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
    """1000-entry table of names, each repeated by its weight."""
    names = [name for name, w in weights.items() for _ in range(w)]
    if len(names) != 1000:
        raise ValueError("weights must sum to 1000")
    return pl.Series(names, dtype=pl.String)


def _skip_outage(ts: pl.Expr, direction: int = 1) -> pl.Expr:
    """Move instants that fall on the outage day one day forward (or back, ``direction=-1``)."""
    in_outage = (ts >= OUTAGE) & (ts < OUTAGE + DAY)
    return pl.when(in_outage).then(ts + direction * DAY).otherwise(ts)


def _users(n_accounts: int, pre: list[int], n_identified: int, rng: random.Random) -> pl.DataFrame:
    """One row per user: signup/end instants, event count after signup, pre-signup rows, ids."""
    n_users = len(pre)
    span = YEAR_END - YEAR_START
    signup, end, weight, account, alt = [], [], [], [], []
    for _ in range(n_users):
        if rng.random() < 0.25:  # January launch burst
            s = YEAR_START + HOUR + int(rng.random() * (31 * DAY - HOUR))
        else:
            s = YEAR_START + HOUR + int(rng.random() * (span - 2 * DAY))
        if OUTAGE <= s < OUTAGE + DAY:
            s += DAY
        e = YEAR_END if rng.random() < 0.55 else min(YEAR_END, s + HOUR + int(rng.expovariate(1 / 75) * DAY))
        rate = min(RATE_CAP, 0.12 * (1.0 - rng.random()) ** (-1 / PARETO_ALPHA))
        signup.append(s)
        end.append(e)
        weight.append(rate * (e - s) / DAY)
        account.append(int(n_accounts * rng.random() ** 1.6))
        alt.append(rng.randrange(n_users) if rng.random() < SHARED_DEVICE_FRACTION else None)
    # scale the rates to hit the requested total exactly (largest remainders get the leftovers)
    total_w = sum(weight)
    raw = [w * n_identified / total_w for w in weight]
    counts = [int(x) for x in raw]
    short = n_identified - sum(counts)
    for i in sorted(range(n_users), key=lambda i: (counts[i] - raw[i], i))[:short]:
        counts[i] += 1
    return pl.DataFrame(
        {
            "user_idx": pl.Series(range(n_users), dtype=pl.Int64),
            "signup": pl.Series(signup, dtype=pl.Int64),
            "end": pl.Series(end, dtype=pl.Int64),
            "n_after": pl.Series(counts, dtype=pl.Int64),
            "n_pre": pl.Series(pre, dtype=pl.Int64),
            "account_idx": pl.Series(account, dtype=pl.Int64),
            "alt_anon": pl.Series(alt, dtype=pl.Int64),
        }
    )


def _expand(df: pl.DataFrame, count: str) -> pl.DataFrame:
    """Repeat each row ``count`` times, adding ``k`` = 0..count-1."""
    return (
        df.filter(pl.col(count) > 0)
        .with_columns(k=pl.int_ranges(0, pl.col(count)))
        .explode("k")
        .with_columns(pl.col("k").cast(pl.Int64))
    )


def build(n_events: int, seed: int) -> tuple[pl.DataFrame, dict[str, int]]:
    """The events frame (arrival order) and a few counts for the sidecar."""
    rng = random.Random(seed)
    n_users = max(1, n_events // 100)
    n_accounts = max(1, n_users // 5)
    n_visitors = max(1, n_users // 2)
    n_dups = round(n_events * DUP_FRACTION)
    n_base = n_events - n_dups

    # anonymous row counts are drawn first: with the signups they fix the identified total
    visitor_rows = [1 + rng.randrange(3) for _ in range(n_visitors)]
    pre_rows = [rng.randrange(5) for _ in range(n_users)]
    n_identified = n_base - n_users - sum(pre_rows) - sum(visitor_rows)
    if n_identified < 0:
        raise SystemExit(f"--events {n_events} is too small")
    users = _users(n_accounts, pre_rows, n_identified, rng)

    s = seed * 16
    after = _expand(users.select("user_idx", "signup", "end", "n_after", "account_idx", "alt_anon"), "n_after")
    after = after.with_row_index("i").with_columns(r1=rand_u64(pl.col("i"), s + 1), r2=rand_u64(pl.col("i"), s + 2))
    table = _lookup(ACTIVE_EVENTS)
    lo = pl.col("signup") + SEC
    span = (pl.col("end") - lo).clip(lower_bound=1)
    ts_after = lo + (unit(pl.col("r1")) * span.cast(pl.Float64)).cast(pl.Int64)
    with_anon = (pl.col("r2") // 1000) % 100 < 60
    shared = pl.col("alt_anon").is_not_null() & ((pl.col("r2") // 100_000) % 100 < 30)
    after = after.select(
        ts=_skip_outage(ts_after),
        ev_code=(pl.col("r2") % 1000).cast(pl.UInt32),
        user_idx=pl.col("user_idx"),
        anon_idx=pl.when(~with_anon).then(None).when(shared).then(pl.col("alt_anon")).otherwise(pl.col("user_idx")),
        account_idx=pl.col("account_idx"),
    )
    after = after.with_columns(event=table.gather(after["ev_code"])).drop("ev_code")

    signups = users.select(
        ts=pl.col("signup"),
        event=pl.lit("Signed Up"),
        user_idx=pl.col("user_idx"),
        anon_idx=pl.col("user_idx"),
        account_idx=pl.col("account_idx"),
    )

    anon_table = _lookup(ANON_EVENTS)
    pre = _expand(users.select("user_idx", "signup", "n_pre"), "n_pre").with_row_index("i")
    pre = pre.with_columns(r=rand_u64(pl.col("i"), s + 3))
    window = (pl.col("signup") - SEC - YEAR_START).clip(upper_bound=48 * HOUR).cast(pl.Float64)  # stay in 2024
    ts_pre = pl.col("signup") - SEC - (unit(pl.col("r")) * window).cast(pl.Int64)
    pre = pre.select(
        ts=_skip_outage(ts_pre, -1),
        ev_code=(pl.col("r") % 1000).cast(pl.UInt32),
        user_idx=pl.lit(None, pl.Int64),
        anon_idx=pl.col("user_idx"),
        account_idx=pl.lit(None, pl.Int64),
    )

    vis = pl.DataFrame({"v": pl.Series(range(n_visitors), dtype=pl.Int64), "n": visitor_rows})
    vis = _expand(vis, "n").with_row_index("i").with_columns(r=rand_u64(pl.col("i"), s + 4))
    ts_vis = YEAR_START + (unit(pl.col("r")) * float(YEAR_END - YEAR_START)).cast(pl.Int64)
    vis = vis.select(
        ts=_skip_outage(ts_vis).clip(upper_bound=YEAR_END - 1),
        ev_code=(pl.col("r") % 1000).cast(pl.UInt32),
        user_idx=pl.lit(None, pl.Int64),
        anon_idx=pl.col("v") + n_users,
        account_idx=pl.lit(None, pl.Int64),
    )
    anon = pl.concat([pre, vis])
    anon = anon.with_columns(event=anon_table.gather(anon["ev_code"])).drop("ev_code")

    cols = signups.columns
    base = pl.concat([signups, after.select(cols), anon.select(cols)]).with_row_index("row")
    base = base.with_columns(pl.col("row").cast(pl.Int64))
    base = base.with_columns(
        eid=pl.col("row").cast(_U64),
        r5=rand_u64(pl.col("row"), s + 5),
        sort_key=pl.col("ts"),
    )
    if base.height != n_base:
        raise AssertionError(f"{base.height} base rows, expected {n_base}")

    # duplicates of randomly chosen rows; they keep every column, maybe with a later timestamp
    dups = pl.select(j=pl.int_range(n_dups, dtype=pl.Int64)).with_columns(
        src=(rand_u64(pl.col("j"), s + 6) % n_base).cast(pl.Int64), r=rand_u64(pl.col("j"), s + 7)
    )
    dups = dups.join(base, left_on="src", right_on="row", how="left")
    exact = pl.col("r") % 100 < 30
    shift = 1 + (unit(rand_u64(pl.col("j"), s + 8)) * (36 * HOUR)).cast(pl.Int64)
    new_ts = _skip_outage(pl.when(exact).then(pl.col("ts")).otherwise(pl.col("ts") + shift)).clip(
        upper_bound=YEAR_END - 1
    )
    early_filed = ~exact & ((pl.col("r") // 100) % 2 == 0)
    dups = dups.with_columns(
        sort_key=pl.when(early_filed).then(pl.col("ts") - 1).otherwise(new_ts),
        ts=new_ts,
        row=pl.col("src") + n_base,  # after every base row when sort keys tie
    ).select(base.columns)

    rows = pl.concat([base, dups]).sort(["sort_key", "row"])
    no_id = pl.col("r5") % 1000 < NO_ID_PER_MILLE
    blank = (pl.col("r5") // 1000) % 3 == 0
    event_num = ((pl.col("eid") * pl.lit(0x5851F42D4C957F2D, _U64)) % (1 << 40)).cast(pl.String).str.zfill(13)
    pad = pl.col("user_idx").cast(pl.String).str.zfill(6)
    anon_num = ((pl.col("anon_idx").cast(_U64) * pl.lit(0x9E3779B1, _U64)) % (1 << 32)).cast(pl.String)
    out = rows.select(
        event_id=pl.when(no_id & blank)
        .then(pl.lit(""))
        .when(no_id)
        .then(pl.lit(None, pl.String))
        .otherwise(pl.concat_str([pl.lit("evt_"), event_num])),
        timestamp=pl.col("ts").cast(pl.Datetime("us", "UTC")),
        event=pl.col("event"),
        user_id=pl.concat_str([pl.lit("u"), pad]),
        anonymous_id=pl.concat_str([pl.lit("anon-"), anon_num.str.zfill(10)]),
        account_id=pl.concat_str([pl.lit("acc_"), pl.col("account_idx").cast(pl.String).str.zfill(5)]),
    )
    stats = {
        "users": n_users,
        "accounts_assigned": int(users["account_idx"].n_unique()),
        "visitors": n_visitors,
        "signup_rows": n_users,
        "identified_after_signup": n_identified,
        "anonymous_only_rows": int(pre.height + vis.height),
        "duplicate_rows": n_dups,
        "no_event_id_rows": int(out["event_id"].fill_null("").eq("").sum()),
        "shared_device_users": int(users["alt_anon"].is_not_null().sum()),
    }
    return out, stats


def generate(n_events: int, out_dir: Path, seed: int = 7) -> Path:
    """Write ``out_dir/events.parquet`` and ``out_dir/.generated.json``; return the Parquet path."""
    t0 = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    df, stats = build(n_events, seed)
    path = out_dir / "events.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    df.write_parquet(tmp, compression="zstd", statistics=True, row_group_size=1_000_000)
    tmp.replace(path)
    seconds = time.perf_counter() - t0
    meta = {"events": n_events, "seed": seed, "rows": df.height, "seconds": round(seconds, 2), **stats}
    (out_dir / ".generated.json").write_text(json.dumps(meta) + "\n")
    return path


def default_dir(n_events: int) -> Path:
    """``bench/data/events`` for the default size, ``bench/data/events_N`` otherwise."""
    return BENCH / "data" / ("events" if n_events == DEFAULT_EVENTS else f"events_{n_events}")


def main() -> None:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="total rows (default 20,000,000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=None, help="output folder (default bench/data/events[_N])")
    a = p.parse_args()
    out_dir = a.out or default_dir(a.events)
    path = generate(a.events, out_dir, a.seed)
    meta = json.loads((out_dir / ".generated.json").read_text())
    print(f"{path}: {meta['rows']:,} rows in {meta['seconds']} s")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
