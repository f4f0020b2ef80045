"""The events the sign-up, account and feature metrics read, reduced on the engine without changing them.

Those metrics (:mod:`kpi_cli.engagement.signups`) read the clean log (``who, ts, event, account_id,
email, invitee_email, user``) in two ways only:

- rows of the events their roles name (sign-ups, activation, onboarding, key actions, account
  creations, invitations, features): each such row is kept, exact copies once;
- any other row only through an actor's or account's first or last instant before or after some
  instant, or its presence in a period or a window of at least a day (reactivation, weekly active
  accounts, PQL user counts, first-seen): the earliest and the latest row of each (user, actor,
  account, local day) stand for all of them, because a window of a day or more has at most one of
  its ends inside any day, and periods are whole local days.

So the engine returns the named rows and two rows per (user, actor, account, local day) of the
rest, with no event name (they match no role); the metrics run unchanged on that, in Polars. With
``--by`` the day's two rows are kept per group too (a group's presence is read from its own rows,
an actor's overall first instant is the least of its groups'). ``email`` and ``invitee_email`` are
the log's columns, else fields of the JSON ``properties`` (as on Polars), read by the engine.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.portable_rows import day_of, file_indexes, with_places

if TYPE_CHECKING:
    from kpi_cli.engagement.events import Roles
    from kpi_cli.engines import Engine
    from kpi_cli.parsing import Typed
    from kpi_cli.periods import Calendar

ROLES = ("signup", "activation", "onboarding", "key_actions", "account_created", "invite")


def named(roles: Roles) -> list[str]:
    """Every event name a sign-up, account or feature metric reads by name."""
    names = {e for role in ROLES for e in roles.events(role)}
    features = roles.names.get("features") or {}
    if isinstance(features, dict):
        for evs in features.values():
            names.update([evs] if isinstance(evs, str) else [str(e) for e in evs])
    return sorted(names)


def events(engine: Engine, log: nw.LazyFrame, rows: nw.Expr, who: str, user: nw.Expr, roles: Roles,
           cal: Calendar, typed: Typed, span: tuple[int, int], keys: list[str] | None = None) -> pl.DataFrame:
    """The reduced clean log of the ``rows`` (kept, with an actor): ``who`` (the actor's key column),
    ``ts``, ``event``, ``account_id``, ``email``, ``invitee_email``, ``user`` (the user's key), and the
    group columns ``keys``."""

    keys = keys or []
    first, last = span
    lo = cal.local_date(first)
    days = (cal.local_date(last) - lo).days + 1
    bounds = [cal.instant(lo + timedelta(days=i)) for i in range(days + 1)]
    columns = set(typed.present) | set(typed.src.extra)
    for field in ("email", "invitee_email"):  # as base.build reads them: the column, else the JSON field
        if field not in columns and "properties" in typed.present:
            log = engine.json_field(log, "properties", f"$.{field}", field)
            columns.add(field)
    found = [engine.collect(plan) for plan in plans(engine, log, rows, who, user, named(roles),
                                                    [*typed.present, *typed.src.extra], columns, bounds, keys,
                                                    file_indexes(typed))]

    def key_type(column: str) -> pl.DataType:  # an empty result may come back without a type
        types = [f.schema[column] for f in found if f.schema[column] != pl.Null]
        return types[0] if types else pl.Int64()

    schema = pl.Schema({"who": key_type("who"), "ts": pl.Int64(), "event": pl.String(), "account_id": pl.String(),
                        "email": pl.String(), "invitee_email": pl.String(), "user": key_type("user"),
                        **dict.fromkeys(keys, pl.String()), **({"_row": pl.Int64()} if keys else {})})
    out = pl.concat([f.cast(schema) for f in found])
    return out.sort("_row").drop("_row") if keys else out


def plans(engine: Engine, log: nw.LazyFrame, rows: nw.Expr, who: str, user: nw.Expr, names: list[str],
          values: list[str], present: set[str], bounds: list[int], keys: list[str] | None = None,
          files: dict[str, int] | None = None) -> list[nw.LazyFrame]:
    """The three lazy results :func:`events` collects: the ``names``d rows (one per distinct row of the
    source's ``values``), and the first and the last row of each (user, actor, account, group of
    ``keys``, local day of ``bounds``) of the others; with ``keys`` each row's place ``_row`` too (the
    files' indexes: ``files``)."""

    keys = keys or []
    text = {c: nw.col(c) if c in present else nw.lit(None, dtype=nw.String) for c in
            ("account_id", "email", "invitee_email")}
    ts = nw.col("timestamp")
    base = log.filter(rows).with_columns(nw.col(who).alias("_who"), user.alias("_user"))
    # With groups, a metric takes an actor's group from its first or last row, the earlier place on a tie
    # of instants (the Polars path's row order): each row keeps its place, and the result is put in that order.
    place = [nw.col("_row")] if keys else []
    if keys:
        base = with_places(engine, base, files or {})
    picked = [nw.col("_who").alias("who"), ts.alias("ts"), nw.col("event"), *[e.alias(c) for c, e in text.items()],
              nw.col("_user").alias("user"), *[nw.col(k) for k in keys], *place]
    # Exact copies once: one group per distinct row (every column of the source; its groups follow from it).
    kept = (base.filter(nw.col("event").is_in(names)).group_by(*values)
            .agg(nw.col("_who").min(), nw.col("_user").min(),
                 *[nw.col(c).min() for c in text if c not in values and c in present],  # JSON fields
                 *[nw.col(k).min() for k in keys], *[p.min() for p in place]).select(*picked))
    rest = day_of(engine, base.filter(~nw.col("event").is_in(names)).select(
        "_who", "_user", "timestamp", text["account_id"].alias("account_id"), *keys, *place,
        nw.lit(value=True).alias("_counted")), bounds)
    day = ["_user", "_who", "account_id", *keys, "day"]
    ends = rest.group_by(*day).agg(ts.min().alias("_lo"), ts.max().alias("_hi"))
    none = nw.lit(None, dtype=nw.String)

    def row(at: str) -> list[nw.Expr]:
        return [nw.col("_who").alias("who"), nw.col(at).alias("ts"), none.alias("event"), nw.col("account_id"),
                none.alias("email"), none.alias("invitee_email"), nw.col("_user").alias("user"),
                *[nw.col(k) for k in keys], *place]

    if keys:  # the day's first and last rows, each at the earliest place among the rows at its instant
        at = rest.join(ends, on=day, how="inner").filter((ts == nw.col("_lo")) | (ts == nw.col("_hi")))
        return [kept, at.group_by(*day, "timestamp").agg(nw.col("_row").min()).select(*row("timestamp"))]
    return [kept, ends.select(*row("_lo")), ends.filter(nw.col("_hi") != nw.col("_lo")).select(*row("_hi"))]
