"""Funnels of a plain event log in actor buckets: memory follows the largest bucket, not the log (issue 10).

A funnel (:mod:`kpi_cli.engagement.funnel`) follows each actor's own events in time order, so actors are
independent: the log is read once for what the whole funnel needs first (the event names that occur and
the last instant of a row with an actor, bad rows settled there), then once per bucket of actors (64-bit
actor key mod the bucket count; past a few buckets the log is split once into temporary files instead, so
it is never read more than a fixed number of times), each bucket holding only its actors' rows, cleaned as
hygiene cleans
them: bad rows out, and a row equal in every column to an earlier one (a 128-bit hash of all columns,
as the streamed counts use) dropped, the first in file order kept. Ties of (actor, instant) keep file
order. Per-entrant results are gathered across buckets, so medians are over every entrant.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement.events import actor_key, event_rules

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset

BUCKET_ROWS = 4_000_000  # log rows per bucket of actors
# Up to this many buckets the log is read once per bucket (20M rows: 5 reads, 13 s against 21 s through
# temporary files); beyond, it is split once into temporary files, so the cost stays linear in rows.
REREAD_BUCKETS = 8
ROW_SEEDS = (21, 22)
META = ("_file", "_line", "_check")


def _who(actor: str) -> str:
    return "account_id" if actor == "account" else "user_id"


def first_pass(ds: Dataset, actor: str) -> tuple[set[str], int | None]:
    """The event names of the good rows with an actor, and their last instant (None without such rows)."""
    from kpi_cli.engagement.streamed import SLICE_STATS, stream

    who = _who(actor)
    ok = ~pl.col("_bad") & pl.col(who).is_not_null()

    def cut(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.group_by(pl.when(ok).then(pl.col("event")).alias("_event")).agg(
            pl.when(ok).then(pl.col("timestamp")).max().alias("_last"), *SLICE_STATS)

    found, _ = stream(ds, who, cut)
    names = pl.concat(found) if found else pl.DataFrame(schema={"_event": pl.String, "_last": pl.Int64})
    named = names.filter(pl.col("_event").is_not_null())
    last = named["_last"].max()
    return set(named["_event"].to_list()), (None if last is None else int(last))  # type: ignore[arg-type]


def buckets(ds: Dataset, actor: str) -> Iterator[pl.DataFrame]:
    """The clean rows of each bucket of actors: ``_row, who, ts, event``, numbered in (actor, time) order.

    Up to :data:`REREAD_BUCKETS` buckets are each read straight from the log. More are split in one pass
    over the log's slices into one temporary Parquet file per bucket (cost linear in rows: the log is read
    once and the narrow rows written once, however many buckets), each then read back alone.
    """
    from kpi_cli.engagement.streamed import BATCH_ROWS, bad_row

    typed = ds.typed("events", rules=event_rules)
    who = _who(actor)
    values = [c for c in typed.frame.collect_schema().names() if c not in META]
    total = typed.frame.select(pl.len()).collect().item()
    n = max(1, math.ceil(total / BUCKET_ROWS))
    key = actor_key(pl.col(who))
    row = pl.struct(values)

    def narrow(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.filter(~bad_row(ds), pl.col(who).is_not_null()).select(
            key.alias("who"), pl.col("timestamp").alias("ts"), pl.col("event"), "_file", "_line",
            *[row.hash(seed).alias(f"_h{i}") for i, seed in enumerate(ROW_SEEDS)])

    if n <= REREAD_BUCKETS:  # a few buckets: reading the log once per bucket beats writing it out
        for b in range(n):
            yield _clean(narrow(typed.frame.filter(key % n == b)).collect(engine="streaming"))
        return
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="kpi-funnel-") as folder:
        writers: dict[int, pq.ParquetWriter] = {}
        try:
            for offset in range(0, total, BATCH_ROWS):
                # The slice first, then the filter: a slice after a filter would read the log from its start.
                part = narrow(typed.frame.slice(offset, BATCH_ROWS)).with_columns(
                    (pl.col("who") % n).alias("_b")).collect(engine="streaming")
                for (b,), frame in part.partition_by("_b", as_dict=True).items():
                    table = frame.drop("_b").to_arrow(compat_level=pl.CompatLevel.oldest())
                    if b not in writers:
                        writers[b] = pq.ParquetWriter(Path(folder) / f"{b}.parquet", table.schema)
                    writers[b].write_table(table)
        finally:
            for writer in writers.values():
                writer.close()
        for b in sorted(writers):
            yield _clean(pl.read_parquet(Path(folder) / f"{b}.parquet"))


def _clean(rows: pl.DataFrame) -> pl.DataFrame:
    """A bucket's rows as hygiene leaves them (copies out, the first in file order kept), numbered in
    (actor, time) order with ties in file order."""
    rows = rows.sort("_file", "_line").unique(["_h0", "_h1"], keep="first", maintain_order=True)
    return rows.sort("who", "ts", maintain_order=True).with_row_index("_row").select("_row", "who", "ts", "event")
