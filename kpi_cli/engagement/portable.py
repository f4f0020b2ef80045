"""The active-user family of a plain Parquet log on any engine: the engine reads the files itself.

``--engine duckdb`` (issue 11) on a plain log (no ``event_id``, no ``anonymous_id``; see
:mod:`kpi_cli.engagement.streamed`) in Parquet: the engine scans the files, checks every row, finds
each active row's local day and reduces the log to one small table per period (Σ daily distinct
actors, distinct actors), and only that table, the bad rows and three counts are collected. The
pipeline is written on Narwhals' lazy API and runs unchanged on each engine (tests compare it to
the default Polars path).

Row checks (SPEC §1.3) are ported for typed Parquet: the log's timestamp must be a Parquet
timestamp and its text columns text, so what can be wrong is a missing value (null or empty text)
and an instant outside 1900–2200; the checks keep the numbering and reasons of the Polars parse,
and bad rows are reported and rejected the same way. Other column types are refused with a usage
error that names the column and the way out (``--engine polars``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.engagement import portable_entrants, portable_groups, portable_hygiene, portable_parts
from kpi_cli.engagement.base import EngagementBase, assemble, layout, trailing_diffs, trailing_from_diffs, window_days
from kpi_cli.engagement.events import active_condition_nw, event_rules
from kpi_cli.engagement.groups import internal_names
from kpi_cli.engagement.streamed import NO_HYGIENE
from kpi_cli.engagement.windows import OWN_GRAIN
from kpi_cli.engines import FILE, LINE, engine_for, keep
from kpi_cli.errors import DataError, UsageError
from kpi_cli.periods import resolve_range
from kpi_cli.portable_rows import blank_is_null, day_of, file_indexes
from kpi_cli.values import MAX_INSTANT, MIN_INSTANT

if TYPE_CHECKING:
    from collections.abc import Collection

    from kpi_cli.dataset import Dataset, SourceReport
    from kpi_cli.engagement.events import Exclusions, Roles
    from kpi_cli.engagement.hygiene import Hygiene
    from kpi_cli.engines import Engine
    from kpi_cli.parsing import Typed
    from kpi_cli.periods import Calendar, RangeRequest

# The optional parts of the engagement table this path computes (see also portable_parts).
PARTS = frozenset({"lifecycle", "trailing", "sessions", "counts", "accounts", "wau", "mau", "shares", "entrants"})
BY_PARTS = PARTS - {"lifecycle"}  # the parts with --by here (the lifecycle tables have no groups)
CHECK = "_check"


def applies(ds: Dataset, *, by: tuple[str, ...], needs: frozenset[str], exclusions: Exclusions | None,
            engine: str, actor: str = "user") -> bool:
    """True for a run on another engine than Polars that reads the engagement table of a Parquet log
    (no exclusions); event ids and anonymous ids are cleaned on the engine
    (:mod:`kpi_cli.engagement.portable_hygiene`). ``--by`` text columns of the log or customer
    attributes (:mod:`kpi_cli.engagement.portable_groups`) for the parts in :data:`BY_PARTS`."""
    if engine == "polars" or exclusions or not needs <= PARTS or not ds.has("events"):
        return False
    if by and not needs <= BY_PARTS:
        return False
    typed = ds.typed("events", rules=event_rules)
    if by and not portable_groups.portable(ds, typed, by):
        return False
    who = "account_id" if actor == "account" else "user_id"
    parquet = typed.src.columnar and all(f.lower().endswith(".parquet") for f in typed.src.files)
    if "sessions" in needs and "session_id" in typed.present:  # as streamed: an exported id may come back
        return False
    if ds.audit and "properties" in typed.present and typed.src.frame.collect_schema()["properties"] != pl.String:
        return False  # -v compares whole rows, and a struct is read on the Polars path only
    # The engine scans the files by header: each column must have one header in every file.
    return parquet and who in typed.present and typed.src.headers is not None


def build(ds: Dataset, cal: Calendar, req: RangeRequest, as_of: int, roles: Roles, engine_name: str,
          actor: str = "user", mau_days: int = 30, needs: frozenset[str] = frozenset(),
          session_gap_s: float = 1800.0, *, identified_only: bool = False, by: tuple[str, ...] = ()
          ) -> EngagementBase:
    """The engagement table of :func:`kpi_cli.engagement.streamed.build` (no optional parts), on
    ``engine_name``: one scan of the log for a named range (the default range and ``--last`` need the
    data's end first: one scan more)."""
    if actor not in ("user", "account"):
        msg = f"--actor {actor!r} is not one of user, account"
        raise UsageError(msg)
    who = "user_id" if actor == "user" else "account_id"
    engine = engine_for(engine_name)
    typed = ds.typed("events", rules=event_rules)
    log = checked(engine, typed, extras="counts" in needs or ds.audit or any(d in typed.src.extra for d in by))
    log, kept = cleaned(engine, log, typed, identified_only=identified_only)
    user_key, has_user = actor_of(typed.present, account=False)
    hygiene = portable_hygiene.needed(typed.present)
    users = "user_id" in typed.present or hygiene  # the resolved actor of an anonymous-only log is a user
    user = nw.when(has_user).then(nw.col(user_key)) if users else nw.lit(None, dtype=nw.Int64)
    if hygiene and actor == "user":
        who = portable_hygiene.ACTOR
        log = log.with_columns(nw.col(who).alias(f"_key_{who}"))
    keys = internal_names(by)
    if by:
        log = portable_groups.with_groups(engine, log, ds, typed, by, keys)
    end: int | None = None
    span: tuple[int, int] | None = None
    if req.last is not None or req.is_empty() or "entrants" in needs:
        at = nw.when(kept).then(nw.col("timestamp"))
        found_span = engine.collect(log.select(at.min().alias("first"), at.max().alias("end")))
        end = found_span["end"][0]
        if end is not None:
            span = (int(found_span["first"][0]), int(end))
    lo, hi = resolve_range(req, cal, as_of, end)
    grid, day_bounds, day_period = layout(cal, lo, hi, as_of, mau_days)
    windows = [m for m in OWN_GRAIN if m in needs and OWN_GRAIN[m] != cal.grain]
    reach = window_days(grid.starts, grid.first, grid.last, cal, windows, shares="shares" in needs)
    if reach is not None:  # calendar windows read whole, past the grid's days: the pairs cover them
        grid, day_bounds, day_period = layout(cal, lo, hi, as_of, mau_days, reach)
    acting = active_condition_nw(roles)
    counted = kept & ~nw.col(who).is_null() & acting
    lifecycle = "lifecycle" in needs
    found = pairs(engine, log, counted, who, day_bounds, day_period, before=lifecycle,
                  kept=kept if hygiene else None, keys=keys)
    if needs:  # several results read the pairs: worked out once
        found = keep(engine, found)
    groups = engine.collect(per_period(found, keys))
    rows, n_good, last = (int(groups["_rows"].sum()), int(groups["_good"].sum()), groups["_end"].max())
    report = settle(engine, ds, typed, log, (rows, n_good))
    hygiene_found = audit(engine, ds, typed, log, report, identified_only=identified_only)
    if last is None and n_good and identified_only:
        msg = "no events left: every row is anonymous and --identified-only drops them"
        raise DataError(msg, hint="drop --identified-only, or map user_id in kpi.toml")
    if last is None:
        msg = "no events to compute from (the file has only a header, or every row was rejected)"
        raise DataError(msg, hint="check the export, or run `kpi validate`")
    grid = replace(grid, complete_before=min(as_of, int(last)))  # type: ignore[arg-type]
    table = groups.filter(pl.col("idx") >= 0).select(
        *keys, pl.col("idx").cast(pl.Int64), pl.col("dau_sum").cast(pl.UInt32), pl.col("active").cast(pl.UInt32))
    periods = grid.periods().select("idx", "period", "complete")
    n_days = day_period.group_by("idx").agg(pl.len().cast(pl.Float64).alias("days"))
    parts = [table]
    if "trailing" in needs:
        in_days = found.filter(nw.col("day") >= 0).select(*keys, "who", nw.col("day").cast(nw.Int64))
        diffs = engine.collect(trailing_diffs(in_days, day_period.height, mau_days, keys))
        parts.append(trailing_from_diffs(diffs, day_period, keys))
    if "counts" in needs:
        values = [*typed.present, *typed.src.extra]
        parts.append(portable_parts.counts(engine, log, kept, who, acting, roles, day_bounds, day_period, values,
                                           accounts="accounts" in needs, keys=keys))
    if "sessions" in needs:
        parts.append(portable_parts.session_table(engine, log, counted, who, day_bounds, day_period, session_gap_s,
                                                   keys))
    if windows or "shares" in needs:
        parts += portable_parts.window_tables(engine, found, day_bounds, grid.starts, grid.first, grid.last, cal,
                                              windows, shares="shares" in needs, keys=keys)
    out = assemble(parts, periods.join(n_days, on="idx", how="left"), keys, grid.first)
    events = pl.DataFrame()
    if "entrants" in needs and span is not None:
        events = portable_entrants.events(engine, log, kept & ~nw.col(who).is_null(), f"_key_{who}", user, roles,
                                          cal, typed, span, keys)
    empty = pl.DataFrame(schema={"who": pl.UInt64, "first_idx": pl.Int64})
    tables = table_counts(engine, found, grid.first) if lifecycle else {}
    return EngagementBase(out, grid, hygiene_found, actor, pl.DataFrame(), empty, events, list(by), keys, tables=tables)


def settle(engine: Engine, ds: Dataset, typed: Typed, log: nw.LazyFrame,
           counts: tuple[int, int] | None = None) -> SourceReport:
    """The bad rows of the checked ``log`` raised, or counted and rejected, as on the Polars path (SPEC
    §1.3); ``counts`` (rows, good rows) where the caller has them, else one pass counts them."""
    if counts is None:
        found = engine.collect(log.select(nw.len().alias("rows"),
                                          nw.col(CHECK).is_null().cast(nw.Int64).sum().alias("good")))
        counts = (int(found["rows"][0]), int(found["good"][0] or 0))
    rows, n_good = counts
    flagged = pl.DataFrame(schema={"_file": pl.UInt32, "_line": pl.Int64, "_check": pl.UInt16})
    if rows - n_good:
        bad = engine.collect(log.filter(~nw.col(CHECK).is_null()).select(FILE, LINE, CHECK))
        flagged = bad.select(pl.col(FILE).replace_strict(file_indexes(typed), return_dtype=pl.UInt32).alias("_file"),
                             pl.col(LINE).cast(pl.Int64).alias("_line"), pl.col(CHECK).cast(pl.UInt16))
    report = ds.settle(typed, flagged, rows)
    report.duplicates = None  # not looked for: they cannot change a distinct count
    report.used = rows - report.rejected
    return report


def audit(engine: Engine, ds: Dataset, typed: Typed, log: nw.LazyFrame, report: SourceReport, *,
          identified_only: bool) -> Hygiene:
    """With ``-v``, what hygiene did, as the Polars path reports it (the exact duplicates and the rows used go
    on ``report``), from the ``log`` after :func:`cleaned` (checked with its extra columns); else nothing."""
    if not ds.audit:
        return NO_HYGIENE
    values = [c for c in log.collect_schema().names() if c in typed.present or c in typed.src.extra]
    found, report.duplicates, report.used = portable_hygiene.audit(engine, log, values, typed.present,
                                                                  identified_only=identified_only)
    return found


def cleaned(engine: Engine, log: nw.LazyFrame, typed: Typed, *, identified_only: bool
            ) -> tuple[nw.LazyFrame, nw.Expr]:
    """The checked ``log`` through event hygiene where its columns need it, and the condition of a row
    that counts (good, and kept by hygiene)."""
    if not portable_hygiene.needed(typed.present):
        return log, nw.col(CHECK).is_null()
    log = portable_hygiene.resolve(engine, log, typed.present, file_indexes(typed), identified_only=identified_only)
    return log, nw.col(portable_hygiene.KEPT)


def actor_of(present: Collection[str], *, account: bool) -> tuple[str, nw.Expr]:
    """The key column of a row's actor after :func:`cleaned`, and the condition that it has one."""
    if account:
        return "_key_account_id", ~nw.col("account_id").is_null()
    if portable_hygiene.needed(present):
        return portable_hygiene.ACTOR, ~nw.col(portable_hygiene.ACTOR).is_null()
    return "_key_user_id", ~nw.col("user_id").is_null()


def no_session(log: nw.LazyFrame, present: Collection[str]) -> nw.LazyFrame:
    """``session_id`` -1 is no session (Amplitude's "none"), as :func:`kpi_cli.engagement.events.event_rules`
    makes it on Polars (empty text is already null)."""
    if "session_id" not in present:
        return log
    return log.with_columns(nw.when(nw.col("session_id") != "-1").then(nw.col("session_id")).alias("session_id"))


def checked(engine: Engine, typed: Typed, *, extras: bool = False) -> nw.LazyFrame:
    """The log on ``engine`` with ``_check``: the index of the first failing check of ``typed``
    (the Polars parse's numbering), null on a good row; with ``extras`` the source's extra columns too
    (as they are: no check reads them)."""
    schema = typed.src.frame.collect_schema()
    # Properties as a Parquet struct are read by the Polars path only (no check reads them): left out here.
    present = [c for c in typed.present if c != "properties" or schema[c] == pl.String]
    for c in present:
        instant = c == "timestamp"
        if instant and not isinstance(schema[c], pl.Datetime):
            msg = (f"events: {c} is {schema[c]} in the Parquet file; --engine {engine.name} reads a Parquet "
                   "timestamp column")
            raise UsageError(msg, hint="write the column as a timestamp, or use --engine polars")
        if not instant and schema[c] != pl.String:
            msg = f"events: {c} is {schema[c]} in the Parquet file; --engine {engine.name} reads it as text"
            raise UsageError(msg, hint="write the column as text, or use --engine polars")
        if instant and typed.src.zones.get(c):
            msg = f"events: naive times read in {typed.src.zones[c]} are not supported on --engine {engine.name}"
            raise UsageError(msg, hint="write the timestamps as UTC instants, or use --engine polars")
    keys = frozenset(c for c in ("user_id", "account_id", "anonymous_id", "event_id") if c in present)
    headers = typed.src.headers or typed.src.mapping
    columns = {c: headers[c] for c in present} | ({e: e for e in typed.src.extra} if extras else {})
    log = engine.scan(typed.src.files, columns, frozenset({"timestamp"}), keys)
    from kpi_cli.clean_proof import no_row_can_fail

    # The statistics show no null, empty or out-of-range value: no check per row (read here: not on a cluster).
    text = [c for c in present if c != "timestamp"]
    if engine.near_data and no_row_can_fail(typed):
        # Empty text is still missing in the columns no check reads (the proof counts empties only where a
        # "missing value" check would fail): a blank account id is no account (found by tests/test_engine_by.py).
        proven = {column for column, _expr, reason in typed.checks if reason == "missing value"}
        log = log.with_columns(blank_is_null(c) for c in text if c not in proven)
        log = no_session(log, present)
        return log.with_columns(nw.lit(None, dtype=nw.Int64).alias(CHECK))
    # As the Polars parse of the events log: empty text is a missing value (not trimmed: speed).
    log = log.with_columns(blank_is_null(c) for c in text)
    log = no_session(log, present)
    ts = nw.col("timestamp")
    ids = [c for c in ("user_id", "anonymous_id") if c in present]
    conditions = []
    for column, _expr, reason in typed.checks:
        if reason == "not a date":  # a Parquet timestamp always parses
            conditions.append(nw.lit(value=False))
        elif reason.startswith("not between 1900 and 2200"):
            conditions.append((ts < MIN_INSTANT) | (ts > MAX_INSTANT))
        elif reason == "missing value":
            conditions.append(nw.col(column).is_null())
        elif reason == "no user_id or anonymous_id":
            conditions.append(nw.all_horizontal(*[nw.col(c).is_null() for c in ids], ignore_nulls=False))
        else:
            msg = f"events: the check {reason!r} on {column} has no --engine {engine.name} version"
            raise UsageError(msg, hint="use --engine polars")
    code = nw.lit(None, dtype=nw.Int64)
    for i, cond in reversed(list(enumerate(conditions))):
        code = nw.when(cond.fill_null(value=False)).then(nw.lit(i, dtype=nw.Int64)).otherwise(code)
    return log.with_columns(code.alias(CHECK))


def pairs(engine: Engine, log: nw.LazyFrame, counted: nw.Expr, who: str, day_bounds: list[int],
          day_period: pl.DataFrame, *, before: bool = False, kept: nw.Expr | None = None,
          keys: list[str] | None = None) -> nw.LazyFrame:
    """``day, idx, who, _n, _g, _m`` from one scan of the checked ``log``: the distinct (day, actor)
    pairs of the ``counted`` rows in the days' span, with the period ``idx`` of each day.

    Every other row lands in day and period -2 with no actor, so the row (``_n``), good-row (``_g``)
    and last-good-instant (``_m``) figures, summed over all pairs, come from the same scan. With
    ``before``, counted rows before the first day are kept as day and period -1 (for first-seen).
    With ``kept`` (hygiene's survivors), the last instant is that of the last kept row; with ``keys``
    (group columns) the pairs are (day, group…, actor).
    A row's local day: :func:`day_of`.
    """
    ts = nw.col("timestamp")
    good = nw.col(CHECK).is_null()
    early = (counted & (ts < day_bounds[0])) if before else nw.lit(value=False)
    counted = counted & (ts >= day_bounds[0]) & (ts < day_bounds[-1])
    keys = keys or []
    rows = log.select(ts, *keys, good.alias("_ok"), counted.fill_null(value=False).alias("_counted"),
                      early.fill_null(value=False).alias("_early"), nw.col(f"_key_{who}").alias("_who"),
                      (good if kept is None else kept).fill_null(value=False).alias("_last"))
    keyed = day_of(engine, rows, day_bounds).select(
        nw.when(nw.col("_counted")).then(nw.col("day")).when(nw.col("_early")).then(-1).otherwise(-2)
        .cast(nw.Int32).alias("day"),
        nw.when(nw.col("_counted") | nw.col("_early")).then(nw.col("_who")).alias("who"),
        *[nw.when(nw.col("_counted") | nw.col("_early")).then(nw.col(k)).alias(k) for k in keys],
        nw.when(nw.col("_ok")).then(ts).alias("_at"),
        *([] if kept is None else [nw.when(nw.col("_last")).then(ts).alias("_kept_at")]))
    # Good rows are the non-null instants: a count, not a sum of booleans (128-bit on DuckDB).
    found = keyed.group_by("day", *keys, "who").agg(nw.len().alias("_n"), nw.col("_at").count().alias("_g"),
                                             nw.col("_at" if kept is None else "_kept_at").max().alias("_m"))
    periods = pl.concat([day_period.select(pl.col("day").cast(pl.Int32), pl.col("idx").cast(pl.Int64)),
                         pl.DataFrame({"day": [-2, -1], "idx": [-2, -1]}, schema={"day": pl.Int32, "idx": pl.Int64})])
    return found.join(engine.table(periods), on="day", how="left")


def per_period(found: nw.LazyFrame, keys: list[str] | None = None) -> nw.LazyFrame:
    """``idx, dau_sum, active, _rows, _good, _end`` from :func:`pairs`: per period, Σ over its days of
    distinct actors, and distinct actors (periods -1 and -2 carry the figures of the other rows)."""
    return found.group_by("idx", *(keys or [])).agg(
        nw.len().alias("dau_sum"), nw.col("who").n_unique().alias("active"), nw.col("_n").sum().alias("_rows"),
        nw.col("_g").sum().alias("_good"), nw.col("_m").max().alias("_end"))


def table_counts(engine: Engine, found: nw.LazyFrame, first: int) -> dict[str, pl.DataFrame]:
    """The lifecycle and stickiness counts of :mod:`kpi_cli.engagement.tables`, on the engine."""
    from kpi_cli.engagement.tables import distinct, lifecycle_counts, stickiness_counts

    acting = found.filter(nw.col("day") > -2)
    first_seen = acting.group_by("who").agg(nw.col("idx").min().alias("first_idx"))
    active = distinct(acting.filter(nw.col("idx") >= 0), "idx", "who")
    in_grid = acting.filter(nw.col("idx") >= 0)
    return {"lifecycle": engine.collect(lifecycle_counts(active, first_seen)),
            "stickiness": engine.collect(stickiness_counts(in_grid, first))}
