"""Events → the per-period table every engagement metric reads.

Day and period boundaries are local midnights turned into UTC instants once; each event finds
its day by binary search, each day its period by a small lookup. Aggregations run on Narwhals,
so the same definitions run on Polars and DuckDB.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.engagement.events import Exclusions, Roles, active, actor_key, property_value
from kpi_cli.engagement.groups import group_exprs, groups_cross, internal_names, over
from kpi_cli.engagement.hygiene import Hygiene, load_events
from kpi_cli.engagement.windows import OWN_GRAIN, window_counts, window_reach
from kpi_cli.engines import backend
from kpi_cli.errors import UsageError
from kpi_cli.grid import Grid
from kpi_cli.locate import slot
from kpi_cli.periods import Calendar, RangeRequest, resolve_range

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset

COUNTS = ("dau_sum", "days", "active", "active_accounts", "logins", "key_actions", "invites", "sessions",
          "session_seconds", "trail_7", "trail_n", "wau", "mau")


@dataclass
class EngagementBase:
    """Per period: Σ daily actives, days, distinct actives, accounts, role counts and sessions.

    The grid starts one period before the request (index 0), which lifecycle needs; ``acting``
    keeps the active rows (``idx, day, who, ts``) and ``first_seen`` each actor's first period
    index over the whole log (negative when before the grid) for the table commands.
    """

    table: pl.DataFrame
    grid: Grid
    hygiene: Hygiene
    actor: str
    acting: pl.DataFrame
    first_seen: pl.DataFrame
    events: pl.DataFrame  # every clean event: who, ts, event, account_id (whole log)
    groups: list[str] = field(default_factory=list)  # --by dimensions
    keys: list[str] = field(default_factory=list)  # their internal columns in ``table`` and ``events``
    # Table-command counts an engine worked out itself ("lifecycle", "stickiness"; see tables.py).
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)


SESSION_CAP_US = 24 * 3_600_000_000  # a session never spans more than 24 hours
# Optional parts of the table, computed only when a metric asks for them.
# "counts": role counts and active accounts ("accounts": active accounts are read); "lifecycle": first-seen
# periods and the active rows (the lifecycle and stickiness tables); "wau"/"mau": those read from calendar
# windows off their grain.
ALL_PARTS = frozenset({"sessions", "trailing", "shares", "lifecycle", "entrants", "counts", "accounts", "wau",
                       "mau"})


def build(ds: Dataset, cal: Calendar, req: RangeRequest, as_of: int, roles: Roles, actor: str = "user",
          identified_only: bool = False, engine_name: str = "polars", session_gap_s: float = 1800.0,
          mau_days: int = 30, exclusions: Exclusions | None = None, by: tuple[str, ...] = (),
          needs: frozenset[str] = ALL_PARTS) -> EngagementBase:
    """Clean the events once and aggregate them over the requested periods."""
    if actor not in ("user", "account"):
        msg = f"--actor {actor!r} is not one of user, account"
        raise UsageError(msg)
    events, hygiene = load_events(ds, identified_only, exclusions, event_columns(roles, actor, by, needs))
    data_end = int(events["ts"].max())  # type: ignore[arg-type]
    lo, hi = resolve_range(req, cal, as_of, data_end)
    grid, day_bounds, day_period = layout(cal, lo, hi, min(as_of, data_end), mau_days)
    starts = grid.starts
    who = pl.col("actor") if actor == "user" else pl.col("account_id")
    first_seen = pl.DataFrame(schema={"who": pl.String, "first_idx": pl.Int64})
    if "lifecycle" in needs:
        first_seen = active(events, roles).filter(who.is_not_null()).group_by(who.alias("who")).agg(
            pl.col("ts").min()).select("who", slot(pl.col("ts"), [cal.instant(d) for d in starts]).alias("first_idx"))
    session = pl.col("session_id") if "session_id" in events.columns else pl.lit(None, dtype=pl.String)
    # Group columns get plain internal names (a dim like "prop.plan" is no SQL identifier).
    internal = internal_names(by)
    exprs = group_exprs(ds, events, by)
    dims = [e.alias(g) for e, g in zip(exprs, internal, strict=True)]
    # One lazy chain, so the log is copied once, with only the columns the asked-for parts read.
    # A day of events before the grid lets sessions that start there be recognised and left out.
    day = slot(pl.col("ts"), day_bounds).alias("day")
    # Day → period by position (days are numbered 0…n−1), not by a join over every event.
    idx = pl.when(pl.col("day") >= 0).then(pl.lit(day_period["idx"]).gather(
        pl.col("day").clip(lower_bound=0))).otherwise(-1).alias("idx")
    chain = (events.lazy().filter(pl.col("ts") >= day_bounds[0] - SESSION_CAP_US, pl.col("ts") < day_bounds[-1],
                                  who.is_not_null())
             .with_columns(day).with_columns(idx))
    columns = [pl.col("idx"), pl.col("day"), actor_key(who).alias("who_key"), *dims]
    if needs & {"sessions", "trailing", "lifecycle"}:
        columns += [who.alias("who"), pl.col("ts"), session.alias("session_id")]
    ev = acting = pl.DataFrame()
    if "counts" in needs:  # role counts read inactive events too: the active filter comes after
        columns += [pl.col("event"), pl.col("account_id")]
        ev = chain.select(columns).collect()
        acting = active(ev, roles)
        ev_plan, acting_plan = ev.lazy(), acting.lazy()
    elif needs & {"sessions", "trailing", "lifecycle"}:
        ev = acting = active(chain, roles).select(columns).collect()
        ev_plan = acting_plan = ev.lazy()
    else:  # only the aggregation reads the rows: it streams them, no copy of the log is made
        ev_plan = acting_plan = active(chain, roles).select(columns)
    native = backend(engine_name)
    in_grid = acting_plan.filter(pl.col("idx") >= 0)
    everything = pl.DataFrame()
    if "entrants" in needs:
        email = pl.col("email") if "email" in events.columns else property_value(events, "email")
        everything = events.select(who.alias("who"), "ts", "event", "account_id",
                                   email.cast(pl.String).alias("email"),
                                   property_value(events, "invitee_email").alias("invitee_email"),
                                   pl.col("actor").alias("user"), *dims).filter(pl.col("who").is_not_null())
    periods = grid.periods().select("idx", "period", "complete")
    n_days = day_period.group_by("idx").agg(pl.len().cast(pl.Float64).alias("days"))
    keys = tuple(internal)
    parts = [aggregate(native(ev_plan.filter(pl.col("idx") >= 0)), native(in_grid), roles,
                       native(day_period.select("day", "idx")), keys,
                       counts="counts" in needs).collect(backend="polars").to_native()]
    if "sessions" in needs:
        # A row number breaks ties of instants: SQL engines may order tied rows differently in each window.
        parts.append(sessions(native(acting.with_row_index("_r")), session_gap_s, keys)
                     .collect(backend="polars").to_native())
    if "trailing" in needs:
        parts.append(trailing(acting, day_period, mau_days, keys))
    windows = [m for m in OWN_GRAIN if m in needs and OWN_GRAIN[m] != cal.grain]
    if "shares" in needs or windows:
        log = active(events, roles).select(who.alias("who"), "ts", *dims).filter(pl.col("who").is_not_null())
        log = by_day(log, cal, window_days(grid.starts, grid.first, grid.last, cal, windows, shares="shares" in needs))
        if "shares" in needs:
            parts.append(calendar_shares(log, starts, grid.first, cal, keys))
        parts += [window_counts(log, starts, grid.first, grid.last, cal, m, list(keys)) for m in windows]
    out = assemble(parts, periods.join(n_days, on="idx", how="left"), list(keys), grid.first)
    rows = in_grid.select("idx", "day", "who").collect() if "lifecycle" in needs else pl.DataFrame()
    return EngagementBase(out, grid, hygiene, actor, rows, first_seen, everything, list(by), list(keys))


def layout(cal: Calendar, lo: date, hi: date, complete_before: int, mau_days: int,
           reach: tuple[date, date] | None = None) -> tuple[Grid, list[int], pl.DataFrame]:
    """The grid (one period either side of ``lo``…``hi``), the UTC instants of its local days and
    ``day, idx``: each day's period. Days reach back far enough for a trailing window ending on
    the first requested day, and over ``reach`` (first day, end day) when given; a day past the
    grid gets the index one past its last period."""
    starts = cal.starts(cal.step(lo, -1), cal.step(hi, 1))
    grid = Grid(cal, starts, 1, len(starts) - 2, complete_before)
    day_cal = Calendar("day", cal.tz, cal.week_start)
    first_day, end_day = min(starts[0], starts[1] - timedelta(days=mau_days - 1)), starts[-1]
    if reach is not None:
        first_day, end_day = min(first_day, reach[0]), max(end_day, reach[1])
    days = day_cal.starts(first_day, end_day)
    day_period = pl.DataFrame(
        {"day": list(range(len(days) - 1)), "idx": [bisect_right(starts, d) - 1 for d in days[:-1]]},
        schema={"day": pl.Int64, "idx": pl.Int64},
    )
    return grid, [day_cal.instant(d) for d in days], day_period


def window_days(starts: list[date], first: int, last: int, cal: Calendar, windows: list[str], *, shares: bool
                ) -> tuple[date, date] | None:
    """The local days (first, end) the calendar windows of ``windows`` (wau, mau) and the shares read."""
    spans = [window_reach(starts, first, last, cal, m) for m in windows]
    if shares:
        spans.append(share_reach(starts, first, cal))
    found = [s for s in spans if s is not None]
    return (min(s[0] for s in found), max(s[1] for s in found)) if found else None


def by_day(log: pl.DataFrame, cal: Calendar, days: tuple[date, date] | None) -> pl.DataFrame:
    """The rows of ``log`` (``who, ts``, groups) in the local ``days``, one per actor, group and day, the
    day's first instant for ``ts``: calendar weeks and months are whole local days, so they count the same
    distinct actors from far fewer rows."""
    if days is None:
        return log.clear()
    bounds = [cal.instant(d) for d in Calendar("day", cal.tz, cal.week_start).starts(*days)]
    inside = log.lazy().filter(pl.col("ts") >= bounds[0], pl.col("ts") < bounds[-1])
    first = pl.lit(pl.Series(bounds, dtype=pl.Int64)).gather(slot(pl.col("ts"), bounds))
    return inside.with_columns(first.alias("ts")).unique().collect()


def event_columns(roles: Roles, actor: str, by: tuple[str, ...], needs: frozenset[str]) -> frozenset[str] | None:
    """The event columns the parts in ``needs`` read (None: all), so a large log is held narrow."""
    if by or "entrants" in needs:
        return None
    cols = set()
    if needs & {"counts", "lifecycle", "sessions"} or roles.events("active_events") or roles.events("inactive_events"):
        cols.add("event")
    if actor == "account" or "counts" in needs:
        cols.add("account_id")
    if "sessions" in needs:
        cols.add("session_id")
    return frozenset(cols)


def assemble(parts: list[pl.DataFrame], periods: pl.DataFrame, keys: list[str], first: int) -> pl.DataFrame:
    """The parts (each per group… and period) side by side on every period of every group seen.

    A group is seen when a part has a row for it in a requested period: activity, a session, a
    non-empty trailing window or a calendar share. Absent (group, period) pairs get 0 counts.
    """
    frame = periods
    if keys:
        seen = pl.concat([p.filter(pl.col("idx") >= first, *_nonempty(p)).select(keys) for p in parts]).unique()
        frame = seen.join(periods, how="cross")
    on = [*keys, "idx"]
    for part in parts:
        frame = frame.join(part, on=on, how="left")
    frame = frame.with_columns([pl.col(c).fill_null(0).cast(pl.Float64) for c in COUNTS if c in frame.columns])
    return frame.sort(on)


def _nonempty(part: pl.DataFrame) -> list[pl.Expr]:
    """Rows of a part that show a group: a non-empty trailing window, a calendar share."""
    if "trail_n" in part.columns:
        return [pl.col("trail_n") > 0]
    if "wau_mau_c" in part.columns:
        return [pl.col("wau_mau_c").is_not_null() | pl.col("dau_wau_c").is_not_null()]
    return []


def trailing(acting: pl.DataFrame, day_period: pl.DataFrame, mau_days: int, groups: tuple[str, ...] = ()
             ) -> pl.DataFrame:
    """Per (group…,) period: distinct actives in the 7 and ``mau_days`` days ending on its last day,
    and the mean over its days of DAU(d) / MAU_n(d) (``--window trailing``).

    Linear in active (actor, day) pairs: each pair covers the window-end days from its day until
    the actor's next active day or the window length, whichever comes first, so a difference
    array summed over days counts each actor once per window. With groups the same runs on each
    group's own pairs (an actor active in two groups counts in both).
    """
    keys = list(groups)
    pairs = nw.from_native(acting.lazy().filter(pl.col("day") >= 0).select(*keys, "who", "day").unique())
    diffs = trailing_diffs(pairs, day_period.height, mau_days, keys).collect(backend="polars").to_native()
    return trailing_from_diffs(diffs, day_period, keys)


def trailing_diffs(pairs: nw.LazyFrame, n_days: int, mau_days: int, keys: list[str]) -> nw.LazyFrame:
    """``keys…, day, d7, dn, dau`` from the distinct (keys…, who, day ≥ 0) ``pairs``, on any engine:
    per day, how many actors' 7-day and ``mau_days``-day coverage starts (+1) and stops (−1) there,
    and the day's distinct actors. Small: one row per (group, day)."""
    nxt = nw.col("day").shift(-1).over(*keys, "who", order_by="day")
    stops = {c: nw.min_horizontal(nw.col("day") + length, nxt.fill_null(n_days)) for c, length in
             (("d7", 7), ("dn", mau_days))}
    ends = pairs.with_columns(*[stop.alias(f"_{c}") for c, stop in stops.items()])
    columns = ["d7", "dn", "dau"]

    def marks(day: str, values: dict[str, int]) -> nw.LazyFrame:
        return ends.select(*keys, nw.col(day).cast(nw.Int64).alias("day"),
                           *[nw.lit(values.get(c, 0), dtype=nw.Int64).alias(c) for c in columns])

    frames = [marks("day", {"d7": 1, "dn": 1, "dau": 1}), marks("_d7", {"d7": -1}), marks("_dn", {"dn": -1})]
    return nw.concat(frames).group_by(*keys, "day").agg(*[nw.col(c).sum() for c in columns])


def trailing_from_diffs(diffs: pl.DataFrame, day_period: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """:func:`trailing`'s per-period table from :func:`trailing_diffs` (days past the grid dropped)."""
    out = groups_cross(diffs, keys, day_period.select("day", "idx"))
    # Engines differ in integer sum types (DuckDB: 128-bit decimals): one type from here on.
    diffs = diffs.with_columns(pl.col("day", "d7", "dn", "dau").cast(pl.Int64))
    out = out.join(diffs, on=[*keys, "day"], how="left").with_columns(
        pl.col("d7", "dn", "dau").fill_null(0)).sort(*keys, "day")
    out = out.with_columns(over(pl.col("d7").cum_sum(), keys).alias("trail_7"),
                           over(pl.col("dn").cum_sum(), keys).alias("trail_n"))

    def share(num: str, den: str) -> pl.Expr:
        return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den))

    per_period = out.group_by(*keys, "idx").agg(
        pl.col("trail_7").last(), pl.col("trail_n").last(),
        share("dau", "trail_n").mean().alias("dau_mau_t"),
        share("trail_7", "trail_n").mean().alias("wau_mau_t"),
        share("dau", "trail_7").mean().alias("dau_wau_t"),
    )
    return per_period.with_columns(pl.col("dau_mau_t", "wau_mau_t", "dau_wau_t").cast(pl.Float64))


def share_windows(starts: list[date], first: int, cal: Calendar) -> tuple[list[date], list[date]]:
    """The calendar weeks starting in periods ``first``… and the months they lie in (both by first day)."""
    week, month = (Calendar(g, cal.tz, cal.week_start) for g in ("week", "month"))
    weeks = [w for w in week.starts(starts[first], starts[-1] - timedelta(days=1)) if w >= starts[first]]
    return weeks, (month.starts(weeks[0], weeks[-1]) if weeks else [])


def share_reach(starts: list[date], first: int, cal: Calendar) -> tuple[date, date] | None:
    """The first and the end (exclusive) local day of what :func:`calendar_shares` reads."""
    weeks, months = share_windows(starts, first, cal)
    if not weeks:
        return None
    month = Calendar("month", cal.tz, cal.week_start)
    return min(weeks[0], months[0]), max(weeks[-1] + timedelta(days=7), month.step(months[-1]))


def calendar_shares(acting_log: pl.DataFrame, starts: list[date], first: int, cal: Calendar,
                    groups: tuple[str, ...] = ()) -> pl.DataFrame:
    """Per (group…,) period: the mean, over calendar weeks starting in it, of WAU / MAU of the week's
    month (``wau_mau``) and of the week's average DAU / WAU (``dau_wau``).

    Weeks and months are whole (read from the full log), even where they stick out of the range. A
    week without actives in a month with some counts as WAU / MAU = 0; its DAU / WAU is undefined
    and left out of the mean. With groups the same runs on each group's own rows.
    """
    keys = list(groups)
    month, day = (Calendar(g, cal.tz, cal.week_start) for g in ("month", "day"))
    weeks, months = share_windows(starts, first, cal)
    if not weeks:
        return pl.DataFrame(schema={**dict.fromkeys(keys, pl.String), "idx": pl.Int64, "wau_mau_c": pl.Float64,
                                    "dau_wau_c": pl.Float64})
    span_days = day.starts(weeks[0], weeks[-1] + timedelta(days=6))

    def locate(col: str, bounds: list[int]) -> pl.Expr:
        return slot(pl.col(col), bounds)

    week_b = [cal.instant(w) for w in [*weeks, weeks[-1] + timedelta(days=7)]]
    month_b = [cal.instant(m) for m in [*months, month.step(months[-1])]]
    day_b = [cal.instant(d) for d in [*span_days, span_days[-1] + timedelta(days=1)]]
    lo, hi = min(week_b[0], month_b[0]), max(week_b[-1], month_b[-1])
    rows = acting_log.filter(pl.col("ts") >= lo, pl.col("ts") < hi).select(*keys, "who", "ts")
    rows = rows.with_columns(locate("ts", week_b).alias("w"), locate("ts", month_b).alias("m"),
                             locate("ts", day_b).alias("d"))
    in_weeks = rows.filter(pl.col("w") >= 0, pl.col("w") < len(weeks))
    wau = in_weeks.group_by(*keys, "w").agg(pl.col("who").n_unique().alias("wau"))
    dau = in_weeks.group_by(*keys, "w", "d").agg(pl.col("who").n_unique().alias("n")).group_by(*keys, "w").agg(
        (pl.col("n").sum() / 7).alias("avg_dau"))
    mau = rows.filter(pl.col("m") >= 0, pl.col("m") < len(months)).group_by(*keys, "m").agg(
        pl.col("who").n_unique().alias("mau"))
    owner = pl.DataFrame({"w": list(range(len(weeks))), "m": [bisect_right(months, w) - 1 for w in weeks],
                          "idx": [bisect_right(starts, w) - 1 for w in weeks]},
                         schema={"w": pl.Int64, "m": pl.Int64, "idx": pl.Int64})
    per_week = groups_cross(rows, keys, owner).join(wau, on=[*keys, "w"], how="left").join(
        dau, on=[*keys, "w"], how="left").join(mau, on=[*keys, "m"], how="left")
    wau_n = pl.col("wau").fill_null(0)
    return per_week.group_by(*keys, "idx").agg(
        pl.when(pl.col("mau") > 0).then(wau_n / pl.col("mau")).mean().cast(pl.Float64).alias("wau_mau_c"),
        pl.when(wau_n > 0).then(pl.col("avg_dau") / wau_n).mean().cast(pl.Float64).alias("dau_wau_c"),
    )


def sessions(acting: nw.LazyFrame, gap_s: float, groups: tuple[str, ...] = (),
             tagged: nw.LazyFrame | None = None) -> nw.LazyFrame:
    """Per (group…,) period: sessions starting in it, their total and median duration (seconds).

    A session is (actor, ``session_id``) when the export has one, else a run of the actor's
    events with gaps of at most ``gap_s``; either way it is cut into 24-hour pieces from its
    first event, and belongs to the period of its first event. Sessions are built on the actor's
    whole activity; with groups a session counts, with its full duration, in every group in
    which it had an event: the groups of a row are its own columns, or with ``tagged`` (``who, ts,
    *groups``) those of every row of ``tagged`` at its actor and instant.
    """
    order = nw.col("ts")
    # Tied instants in one order for both windows (``_r``: a row number, when the caller has one; ``_f``
    # the file it is a line of).
    names = acting.collect_schema().names()
    by = ["ts", *[c for c in ("_f", "_r") if c in names]]
    prev = order.shift(1).over("who", order_by=by)
    gap_us = int(gap_s * 1_000_000)
    runs = acting.with_columns(
        ((prev.is_null()) | (order - prev > gap_us)).cast(nw.Int64).alias("_new"))
    runs = runs.with_columns(nw.col("_new").cum_sum().over("who", order_by=by).alias("_run"))
    runs = runs.with_columns(nw.when(nw.col("session_id").is_null()).then(nw.col("_run").cast(nw.String))
                             .otherwise(nw.col("session_id")).alias("_sid"))
    start = nw.col("ts").min().over("who", "_sid")
    runs = runs.with_columns(((nw.col("ts") - start) // SESSION_CAP_US).alias("_piece"))
    piece = ["who", "_sid", "_piece"]
    per_session = runs.group_by(*piece).agg(
        nw.col("ts").min().alias("first"), nw.col("ts").max().alias("last"), nw.col("idx").min().alias("idx"))
    per_session = per_session.filter(nw.col("idx") >= 0).with_columns(
        (nw.col("last") - nw.col("first")).alias("_us"),
        ((nw.col("last") - nw.col("first")) / 1_000_000).alias("seconds"))
    if groups:
        grouped = runs.select(*piece, *groups) if tagged is None else runs.select(*piece, "ts").join(
            tagged, on=["who", "ts"], how="inner").select(*piece, *groups)
        per_session = per_session.join(grouped.unique(), on=piece, how="inner")
    # Durations summed in whole µs: exact, so every engine and thread count gives the same bits.
    return per_session.group_by(*groups, "idx").agg(
        nw.len().alias("sessions"), (nw.col("_us").sum() / 1_000_000).alias("session_seconds"),
        nw.col("seconds").median().alias("median_session_seconds"))


def aggregate(events: nw.LazyFrame, acting: nw.LazyFrame, roles: Roles, days: nw.LazyFrame,
              groups: tuple[str, ...] = (), counts: bool = True) -> nw.LazyFrame:
    """Per (group…, period): Σ over days of distinct actives, distinct actives, and with ``counts``
    active accounts and role counts. ``days`` maps each ``day`` to its period ``idx``.

    With groups an actor counts in every group it was active in, so groups may sum to more than
    the total (PostHog's breakdowns do the same).
    """
    keys = [*groups, "idx"]
    # A day lies in one period: grouping by the day alone, then mapping days to periods, hashes
    # one key per event instead of two.
    daily = acting.group_by(*groups, "day").agg(nw.col("who_key").n_unique().alias("n")).join(days, on="day")
    table = daily.group_by(*keys).agg(nw.col("n").sum().alias("dau_sum"))
    table = table.join(acting.group_by(*keys).agg(nw.col("who_key").n_unique().alias("active")), on=keys,
                       how="left")
    if not counts:
        return table
    accounts = acting.filter(~nw.col("account_id").is_null()).group_by(*keys).agg(
        nw.col("account_id").n_unique().alias("active_accounts"))
    table = table.join(accounts, on=keys, how="left")
    for role, name in (("login", "logins"), ("key_actions", "key_actions"), ("invite", "invites")):
        names = roles.events(role)
        counted = events.filter(nw.col("event").is_in(names)).group_by(*keys).agg(nw.len().alias(name))
        table = table.join(counted, on=keys, how="left")
    return table
