"""Event counts and active accounts of a plain event log, streamed: a second pass, held by what it counts.

Role counts (logins, key actions, invites; SPEC §3.3) count rows, so exact duplicate rows matter to
them: a row equal in every column to an earlier one is not counted again, as on the full path
(:mod:`kpi_cli.engagement.hygiene`). Duplicates share their instant, hence their day: each slice of
the log is cut to its distinct counted rows per day, each row named by a 128-bit hash of all its
columns (two independently seeded 64-bit hashes, as event ids are; two different rows sharing both
has probability about n² / 2¹²⁹, 10⁻²⁴ for 20M counted rows). A day no other slice reaches (known from
the first pass's spans of instants; on a time-sorted log every day but those a slice boundary falls
on) is counted at once; the rows of the other days are kept for one distinct at the end. Active
accounts are distinct (period, account) pairs, a few per account.
"""

from __future__ import annotations

from bisect import bisect_right
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement.events import Roles, actor_key, event_rules
from kpi_cli.locate import slot

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset

ROLE_COUNTS = (("login", "logins"), ("key_actions", "key_actions"), ("invite", "invites"))
ROW_SEEDS = (21, 22)  # the halves of a row's 128-bit hash
META = ("_file", "_line", "_check")


def shared_days(spans: list[tuple[int | None, int | None]], day_bounds: list[int]) -> list[int]:
    """Days (indices into ``day_bounds``) that more than one slice's span of good instants reaches.

    Examples
    --------
    >>> shared_days([(0, 15), (15, 30), (None, None)], [0, 10, 20, 30])
    [1]
    """
    n_days = len(day_bounds) - 1
    cover = [0] * (n_days + 2)  # a difference array over days -1 … n_days
    for start, end in spans:
        if start is None or end is None:
            continue
        first = min(max(bisect_right(day_bounds, start) - 1, -1), n_days)
        last = min(max(bisect_right(day_bounds, end) - 1, -1), n_days)
        cover[first + 1] += 1
        if last + 2 < len(cover):
            cover[last + 2] -= 1
    out, running = [], 0
    for position, step in enumerate(cover):
        running += step
        if running > 1 and 0 <= position - 1 < n_days:
            out.append(position - 1)
    return out


def table(ds: Dataset, roles: Roles, acting: pl.Expr, who: str, day_bounds: list[int], day_period: pl.DataFrame,
          slice_rows: int, spans: list[tuple[int | None, int | None]], dims: list[pl.Expr] | None = None, *,
          accounts: bool = True) -> pl.DataFrame:
    """``group…, idx, active_accounts, logins, key_actions, invites``: base.aggregate's counts, streamed.

    ``acting`` marks a good row that makes its actor active; ``spans`` holds the first and last good
    instant of each slice of ``slice_rows`` rows (None for a slice without one), from the first pass;
    ``dims`` the ``--by`` group expressions (a row's groups follow from its columns, so copies share them).
    Without ``accounts`` the active accounts are neither read nor returned.
    """
    dims = dims or []
    keys = [d.meta.output_name() for d in dims]
    from kpi_cli.engagement.streamed import bad_row

    typed = ds.typed("events", rules=event_rules)
    names = typed.frame.collect_schema().names()
    values = [c for c in names if c not in META]
    ts = pl.col("timestamp")
    n_days = len(day_bounds) - 1
    day = slot(ts, day_bounds)
    idx = pl.when(day >= 0).then(pl.lit(day_period["idx"]).gather(day.clip(lower_bound=0, upper_bound=n_days - 1)))
    # As the full path: rows of the actor's days inside the grid's periods, inactive events too.
    counted = ~bad_row(ds) & pl.col(who).is_not_null() & (day >= 0) & (day < n_days) & (idx >= 0)
    bits = [pl.col("event").is_in(roles.events(role)).fill_null(value=False).cast(pl.UInt8) * (1 << i)
            for i, (role, _) in enumerate(ROLE_COUNTS)]
    mask = pl.sum_horizontal(bits).cast(pl.UInt8)
    account = (pl.when(acting & pl.col("account_id").is_not_null()).then(actor_key(pl.col("account_id")))
               if accounts and "account_id" in names else pl.lit(None, dtype=pl.UInt64))
    row = pl.struct(values)

    def plan(lf: pl.LazyFrame) -> pl.LazyFrame:
        return (lf.filter(counted).with_columns(mask.alias("_mask"))
                .filter((pl.col("_mask") > 0) | account.is_not_null())
                .select(day.cast(pl.Int32).alias("day"), idx.cast(pl.Int64).alias("idx"), *dims,
                        account.alias("account"), "_mask",
                        *[pl.when(pl.col("_mask") > 0).then(row.hash(seed)).alias(f"_h{i}")
                          for i, seed in enumerate(ROW_SEEDS)]))
    shared = pl.Series("day", shared_days(spans, day_bounds), dtype=pl.Int32).implode()
    row_key = ["day", *keys, "_mask", "_h0", "_h1"]

    def read(offset: int) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        # The slice first, then the filter: a slice after a filter would read the log from its start.
        rows = plan(typed.frame.slice(offset, slice_rows)).collect(engine="streaming")
        seen = rows.filter(pl.col("account").is_not_null()).select(*keys, "idx", "account").unique()
        distinct = rows.filter(pl.col("_mask") > 0).select(row_key).unique()
        alone = distinct.filter(~pl.col("day").is_in(shared)).group_by("day", *keys, "_mask").agg(
            pl.len().alias("n"))
        return seen, alone, distinct.filter(pl.col("day").is_in(shared))

    with ThreadPoolExecutor(max_workers=2) as workers:
        found = list(workers.map(read, range(0, slice_rows * len(spans), slice_rows)))
    groups = dict.fromkeys(keys, pl.String)
    active = pl.concat([f[0] for f in found]).unique() if found else pl.DataFrame(
        schema={**groups, "idx": pl.Int64, "account": pl.UInt64})
    kept = pl.concat([f[2] for f in found]) if found else pl.DataFrame(
        schema={"day": pl.Int32, **groups, "_mask": pl.UInt8, "_h0": pl.UInt64, "_h1": pl.UInt64})
    again = kept.unique().group_by("day", *keys, "_mask").agg(pl.len().alias("n"))
    per_day = pl.concat([*[f[1] for f in found], again]).with_columns(pl.col("n").cast(pl.Int64))
    per_day = per_day.join(day_period.with_columns(pl.col("day").cast(pl.Int32)), on="day")
    counts = per_day.group_by(*keys, "idx").agg(
        [pl.col("n").filter((pl.col("_mask") & (1 << i)) > 0).sum().alias(name)
         for i, (_, name) in enumerate(ROLE_COUNTS)])
    if not accounts:
        return counts
    out = active.group_by(*keys, "idx").agg(pl.len().cast(pl.Int64).alias("active_accounts"))
    return out.join(counts, on=[*keys, "idx"], how="full", coalesce=True)
