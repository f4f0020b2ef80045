"""Plain event logs, streamed: distinct (day, actor) pairs in one pass, memory bounded by the pairs.

A *plain* log has no ``event_id`` and no ``anonymous_id`` column, the shape most warehouse exports
have. On it SPEC §3.3's hygiene has nothing to decide for a distinct count: there is no id to
dedup on and no identity to merge, and an exact duplicate row cannot change who was active when.
The active-user family (dau, wau, mau, active users and their ratios), ``--window trailing``,
lifecycle and stickiness read nothing but which actor was active on which day, so the log is read
batch by batch (only the columns the checks and the actor need), each batch reduced to its
distinct pairs at once, and the rows let go. Bad rows are still found, counted and reported on
every row read, exactly as the full path does.

Sessions stream too, in a second pass (:mod:`kpi_cli.engagement.streamed_sessions`), when the log
has no ``session_id``. Everything else (event counts, sign-ups, ``--by``, exclusions, ``-v``'s
exact-duplicate count, event ids or anonymous ids in the log) goes through
:mod:`kpi_cli.engagement.hygiene`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement.base import EngagementBase, assemble, calendar_shares, layout, trailing, window_days
from kpi_cli.engagement.events import Roles, active_condition, actor_key, event_rules
from kpi_cli.engagement.groups import group_exprs, internal_names
from kpi_cli.engagement.hygiene import Hygiene
from kpi_cli.engagement.windows import OWN_GRAIN, window_counts
from kpi_cli.errors import DataError, UsageError
from kpi_cli.periods import resolve_range

if TYPE_CHECKING:

    from kpi_cli.dataset import Dataset
    from kpi_cli.engagement.events import Exclusions
    from kpi_cli.periods import Calendar, RangeRequest

# The optional parts of the engagement table a plain log streams: (day, actor) pairs, and sessions
# (kpi_cli.engagement.streamed_sessions) when the log has no session_id.
PAIR_PARTS = frozenset({"lifecycle", "trailing", "sessions", "wau", "mau", "shares", "counts", "accounts"})
HYGIENE_COLUMNS = ("event_id", "anonymous_id")  # either present: the full hygiene path
BATCH_ROWS = 1_000_000
NO_HYGIENE = Hygiene(repeated_ids=0, merged_anonymous=0, anonymous_rows=0, dropped_anonymous=0)


@dataclass(frozen=True)
class Pairs:
    """Distinct active (day, actor) pairs of a plain log and what reading it found.

    ``day`` indexes the day bounds the pairs were cut on (-1: before the first day, kept only
    when asked for); ``who`` is the actor's 64-bit key (:func:`actor_key`).
    """

    pairs: pl.DataFrame  # day: Int32, who: UInt64
    end: int  # the last instant of any good row (µs), active or not
    starts: list[int | None]  # the first good instant of each slice read (None: no good row)
    ends: list[int | None]  # the last good instant of each slice read (None: no good row)


def applies(ds: Dataset, *, by: tuple[str, ...], needs: frozenset[str], exclusions: Exclusions | None,
            engine: str, actor: str = "user") -> bool:
    """True when the run can read the events as (day, actor) pairs (see the module docstring).

    An ``--actor account`` run on a log without account ids goes the full way, to its error there.
    """
    if exclusions or ds.audit or engine != "polars" or not needs <= PAIR_PARTS:
        return False
    if not ds.has("events"):
        return False
    typed = ds.typed("events", rules=event_rules)
    who = "account_id" if actor == "account" else "user_id"
    # See streamed_sessions; with groups a session counts in every group it touched: the full path.
    if "sessions" in needs and ("session_id" in typed.present or by):
        return False
    if by and not _resolvable(ds, typed.frame.collect_schema().names(), by):
        return False  # the full path names the unknown dimension
    return who in typed.present and not set(HYGIENE_COLUMNS) & set(typed.present)


def _resolvable(ds: Dataset, names: list[str], by: tuple[str, ...]) -> bool:
    """Every dimension is a property, a column of the log, or a column of customers."""
    from kpi_cli.loading import load_source

    customers = None
    for dim in by:
        if dim.startswith("prop.") or dim in names:
            continue
        customers = customers or load_source("customers", ds.settings, required=False)
        known = set() if customers is None else {*customers.mapping, *customers.extra}
        if dim not in known or "customer_id" not in known:
            return False
    return True


def dimensions(ds: Dataset, by: tuple[str, ...]) -> list[pl.Expr]:
    """The ``--by`` group expressions (:func:`kpi_cli.engagement.groups.group_exprs`) on the typed log."""
    schema = ds.typed("events", rules=event_rules).frame.collect_schema()
    exprs = group_exprs(ds, pl.DataFrame(schema=schema), by)
    return [e.alias(k) for e, k in zip(exprs, internal_names(by), strict=True)]


def data_end(ds: Dataset) -> int:
    """The last instant of the plain log's good rows, from a pass over the timestamps and checks."""
    key = "events:plain:end"
    if key not in ds.memo:
        ds.memo[key] = _scan(ds, Roles(), "user_id", [], before=False, by=()).end
    end: int = ds.memo[key]  # type: ignore[assignment]
    return end


def pairs(ds: Dataset, roles: Roles, who: str, bounds: list[int], *, before: bool, by: tuple[str, ...] = ()
          ) -> Pairs:
    """The log's distinct active (day, group…, actor) pairs on the days ``bounds`` cut (cached per run)."""
    active_roles = (tuple(roles.events("active_events")), tuple(roles.events("inactive_events")))
    key = f"events:plain:{who}:{active_roles}:{bounds[0]}:{bounds[-1]}:{len(bounds)}:{before}:{by}"
    if key not in ds.memo:
        ds.memo[key] = _scan(ds, roles, who, bounds, before=before, by=by)
        ds.memo["events:plain:end"] = ds.memo[key].end  # type: ignore[attr-defined]
    found: Pairs = ds.memo[key]  # type: ignore[assignment]
    return found


def _scan(ds: Dataset, roles: Roles, who: str, bounds: list[int], *, before: bool, by: tuple[str, ...]) -> Pairs:
    """One streamed pass, each slice cut to its distinct (day, group…, actor) pairs.

    A slice's pairs are distinct within it; a day that appears in more than one slice (a time-sorted
    log: the day a slice boundary falls on) is made distinct again at the end, the others already are.
    """
    from kpi_cli.locate import slot

    n_days = len(bounds) - 1
    # Rows that make no actor active on a counted day (bad rows too) get day -2 and no actor.
    day = slot(pl.col("timestamp"), bounds) if n_days > 0 else pl.lit(-2)
    counted = ~pl.col("_bad") & _acting(roles, who) & (day >= (-1 if before else 0)) & (day < n_days)
    day = pl.when(counted).then(day).otherwise(-2).cast(pl.Int32)

    # Uncounted rows keep no group: they would only make groups of day -2.
    dims = [pl.when(pl.col("day") > -2).then(d).alias(d.meta.output_name()) for d in dimensions(ds, by)]
    keys = internal_names(by)

    def cut(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.with_columns(day.alias("day")).with_columns(dims).group_by("day", *keys).agg(
            pl.when(pl.col("day") > -2).then(actor_key(pl.col(who))).unique().alias("who"), *SLICE_STATS)

    found, end = stream(ds, who, cut)
    starts = [f["_start"].min() for f in found]
    ends = [f["_end"].max() for f in found]
    return Pairs(_distinct([f.filter(pl.col("day") > -2).select("day", *keys, "who") for f in found], keys), end,
                 starts, ends)  # type: ignore[arg-type]


def _acting(roles: Roles, who: str) -> pl.Expr:
    """A good row that makes its actor active."""
    condition = active_condition(roles)
    return pl.col(who).is_not_null() & (pl.lit(value=True) if condition is None else condition)


# What every slice's reduction also returns, per group: rows, bad rows, the first and last good instant.
SLICE_STATS = (pl.len().alias("_rows"), pl.col("_bad").sum().alias("_n_bad"), pl.col("timestamp").max().alias("_end"),
               pl.col("timestamp").min().alias("_start"))


def stream(ds: Dataset, who: str, cut: Callable[[pl.LazyFrame], pl.LazyFrame]) -> tuple[list[pl.DataFrame], int]:
    """Read the plain log in slices, reduce each with ``cut``, settle its bad rows with the dataset.

    ``cut`` gets a slice of the typed log, with ``_bad`` (a row that fails a check) and ``timestamp``
    (null on a bad row), and returns a lazy grouping that carries :data:`SLICE_STATS` among its
    aggregations; each slice is collected on the streaming engine, two at a time (each slice's scan
    is one row group's worth, so two keep both cores busy), and only its reduction is kept.
    Returns the reductions in slice order and the last good instant. Bad rows (rare) are read again
    for their lines.
    """
    typed = ds.typed("events", rules=event_rules)
    if who not in typed.frame.collect_schema().names():
        msg = f"events: no {who} column to count actors by"
        raise UsageError(msg)
    bad = bad_row(ds)
    plan = typed.frame.with_columns(bad.alias("_bad"), pl.when(~bad).then(pl.col("timestamp")).alias("timestamp"))
    total = plan.select(pl.len()).collect().item()

    def read(offset: int) -> pl.DataFrame:
        return cut(plan.slice(offset, BATCH_ROWS)).collect(engine="streaming")

    with ThreadPoolExecutor(max_workers=2) as workers:
        found = list(workers.map(read, range(0, total, BATCH_ROWS)))
    stats = pl.concat([f.select(s.meta.output_name() for s in SLICE_STATS) for f in found]) if found else None
    rows = int(stats["_rows"].sum()) if stats is not None else 0
    n_bad = int(stats["_n_bad"].sum()) if stats is not None else 0
    end = stats["_end"].max() if stats is not None else None
    flagged = (typed.frame.filter(bad).select("_file", "_line", "_check").collect(engine="streaming") if n_bad
               else _no_flags())
    report = ds.settle(typed, flagged, rows)
    if end is None:
        msg = "no events to compute from (the file has only a header, or every row was rejected)"
        raise DataError(msg, hint="check the export, or run `kpi validate`")
    report.duplicates = None  # not looked for: they cannot change a distinct count
    report.used = rows - report.rejected
    return found, int(end)  # type: ignore[arg-type]


def bad_row(ds: Dataset) -> pl.Expr:
    """True on a row of the log that fails a check; a constant False when the Parquet statistics prove
    there is none (:mod:`kpi_cli.clean_proof`): the checks, and the columns only they read, are skipped."""
    key = "events:no-bad-row"
    if key not in ds.memo:
        from kpi_cli.clean_proof import no_row_can_fail

        ds.memo[key] = no_row_can_fail(ds.typed("events", rules=event_rules))
    return pl.lit(value=False) if ds.memo[key] else pl.col("_check").is_not_null()


def _no_flags() -> pl.DataFrame:
    return pl.DataFrame(schema={"_file": pl.UInt32, "_line": pl.Int64, "_check": pl.UInt16})


def _distinct(found: list[pl.DataFrame], keys: list[str]) -> pl.DataFrame:
    """Every slice's (day, group…, [who…]) lists as distinct (day, group…, who) rows.

    Only the days found in more than one slice need another look: the others are distinct already.
    """
    schema = pl.Schema({"day": pl.Int32(), **dict.fromkeys(keys, pl.String()), "who": pl.UInt64()})
    if not found:
        return pl.DataFrame(schema=schema)
    days = pl.concat([f.select("day").unique() for f in found])
    shared = days.filter(days["day"].is_duplicated())["day"].unique().implode()
    flat = [f.filter(~pl.col("day").is_in(shared)).explode("who").drop_nulls() for f in found]
    again = pl.concat([f.filter(pl.col("day").is_in(shared)).explode("who") for f in found]).drop_nulls().unique()
    return pl.concat([*flat, again]).select(list(schema)).cast(schema)


def build(ds: Dataset, cal: Calendar, req: RangeRequest, as_of: int, roles: Roles, actor: str = "user",
          mau_days: int = 30, needs: frozenset[str] = frozenset(), session_gap_s: float = 1800.0,
          by: tuple[str, ...] = ()) -> EngagementBase:
    """The engagement table of :func:`kpi_cli.engagement.base.build` for the parts in
    :data:`PAIR_PARTS`, from the streamed pairs: the same columns, the same values."""
    if actor not in ("user", "account"):
        msg = f"--actor {actor!r} is not one of user, account"
        raise UsageError(msg)
    who = "user_id" if actor == "user" else "account_id"
    keys = internal_names(by)
    explicit = req.last is None and not req.is_empty()
    # A named range needs no data end to resolve; the default and --last do (one pass more).
    lo, hi = resolve_range(req, cal, as_of, None if explicit else data_end(ds))
    lifecycle = "lifecycle" in needs
    grid, day_bounds, day_period = layout(cal, lo, hi, as_of, mau_days)
    windows = [m for m in OWN_GRAIN if m in needs and OWN_GRAIN[m] != cal.grain]
    reach = window_days(grid.starts, grid.first, grid.last, cal, windows, shares="shares" in needs)
    if reach is not None:  # calendar windows read whole, past the grid's days: the pairs cover them
        grid, day_bounds, day_period = layout(cal, lo, hi, as_of, mau_days, reach)
    found = pairs(ds, roles, who, day_bounds, before=lifecycle, by=by)
    grid = replace(grid, complete_before=min(as_of, found.end))
    days = found.pairs.lazy().with_columns(
        pl.when(pl.col("day") >= 0).then(pl.lit(day_period["idx"]).gather(pl.col("day").clip(lower_bound=0)))
        .otherwise(-1).alias("idx"))
    in_grid = days.filter(pl.col("idx") >= 0)
    # A day lies in one period: Σ daily actives adds each pair once.
    table = in_grid.group_by(*keys, "idx").agg(pl.len().alias("dau_sum"), pl.col("who").n_unique().alias("active"))
    parts = [table.collect()]
    # Every counted day, those before the grid too: a trailing window ending early in the range reaches
    # back into them (the full path's active rows hold them as well).
    acting = (days.filter(pl.col("day") >= 0).select(*keys, "idx", pl.col("day").cast(pl.Int64), "who").collect()
              if needs & {"trailing", "lifecycle"} else pl.DataFrame())
    if "trailing" in needs:
        parts.append(trailing(acting, day_period, mau_days, tuple(keys)))
    if "sessions" in needs:
        from kpi_cli.engagement import streamed_sessions

        parts.append(streamed_sessions.table(ds, _acting(roles, who), who, day_bounds, day_period, session_gap_s,
                                             BATCH_ROWS, found.starts))
    if "counts" in needs:
        from kpi_cli.engagement import streamed_counts

        parts.append(streamed_counts.table(ds, roles, _acting(roles, who), who, day_bounds, day_period, BATCH_ROWS,
                                           list(zip(found.starts, found.ends, strict=True)), dimensions(ds, by),
                                           accounts="accounts" in needs))
    if windows or "shares" in needs:
        # Weeks and months are whole local days: a day's first instant stands for its rows.
        log = found.pairs.filter(pl.col("day") >= 0).select(
            "who", pl.lit(pl.Series(day_bounds, dtype=pl.Int64)).gather(pl.col("day")).alias("ts"), *keys)
        if "shares" in needs:
            parts.append(calendar_shares(log, grid.starts, grid.first, cal, tuple(keys)))
        parts += [window_counts(log, grid.starts, grid.first, grid.last, cal, m, keys) for m in windows]
    first_seen = pl.DataFrame(schema={"who": pl.UInt64, "first_idx": pl.Int64})
    if lifecycle:
        first_seen = days.group_by("who").agg(pl.col("idx").min().alias("first_idx")).collect()
    periods = grid.periods().select("idx", "period", "complete")
    n_days = day_period.group_by("idx").agg(pl.len().cast(pl.Float64).alias("days"))
    out = assemble(parts, periods.join(n_days, on="idx", how="left"), keys, grid.first)
    return EngagementBase(out, grid, NO_HYGIENE, actor, acting if lifecycle else pl.DataFrame(), first_seen,
                          pl.DataFrame(), list(by), keys)


def cohort_inputs(ds: Dataset, roles: Roles, who: str, bounds: list[int]) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """What calendar-clock event cohorts read, from one streamed pass over a plain log.

    Returns ``entries`` (``who, t0``: each actor's first sign-up, or first active event when the log has
    no sign-ups), ``seen`` (``who, p, last``: the last active instant of each actor in each period of
    ``bounds``) and the last good instant. An actor counts in period p after entering when p is later than
    its entry period, or is that period and holds an active event at or after the entry instant: the
    last one per period tells.
    """
    from kpi_cli.locate import slot

    signup = ~pl.col("_bad") & pl.col("event").is_in(roles.events("signup")).fill_null(value=False)
    acting = (~pl.col("_bad") & _acting(roles, who)).fill_null(value=False)
    n = len(bounds) - 1
    period = slot(pl.col("timestamp"), bounds)
    ts = pl.col("timestamp")

    def cut(lf: pl.LazyFrame) -> pl.LazyFrame:
        # One grouping gives all three: the first active instant (p = -1 holds those outside the
        # periods), the last active instant per period, and the first sign-up (bad rows: no actor).
        keyed = lf.with_columns(
            pl.when(~pl.col("_bad") & pl.col(who).is_not_null()).then(actor_key(pl.col(who))).alias("who"),
            pl.when((period >= 0) & (period < n)).then(period).otherwise(-1).cast(pl.Int32).alias("p"),
            pl.when(acting).then(ts).alias("_active_at"), pl.when(signup).then(ts).alias("_signup_at"))
        # Plain aggregations of nulled columns: ~30 % less work than filtered ones.
        at = pl.col("_active_at")
        return keyed.group_by("who", "p").agg(
            at.min().alias("first"), at.max().alias("last"), pl.col("_signup_at").min().alias("signup"), *SLICE_STATS)

    found, end = stream(ds, who, cut)
    groups = pl.concat(found)
    # As the full path: any good sign-up row (with an actor or not) makes sign-ups the entry.
    any_signup = bool(groups["signup"].is_not_null().any())
    groups = groups.filter(pl.col("who").is_not_null())
    seen = groups.filter(pl.col("first").is_not_null()).group_by("who", "p").agg(
        pl.col("first").min(), pl.col("last").max())
    signups = groups.filter(pl.col("signup").is_not_null())
    entry = (signups.select("who", pl.col("signup").alias("t0")) if any_signup
             else seen.select("who", pl.col("first").alias("t0")))
    entry = entry.group_by("who").agg(pl.col("t0").min())
    return entry, seen.filter(pl.col("p") >= 0).drop("first"), end
