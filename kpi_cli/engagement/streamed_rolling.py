"""Event cohorts of a plain log on the rolling clock, and the log's span, streamed (issue 10).

``kpi cohort --clock rolling`` puts an actor's activity in bucket k = ⌊(t − t₀) / L⌋ of its own entry
instant t₀ (L = 7 days a week, 30 a month). The entries come from the first streamed pass
(:func:`kpi_cli.engagement.streamed.cohort_inputs`); a second pass over the same slices joins each
slice's active rows to them and keeps the distinct (actor, cohort, bucket) triples: memory follows those,
not the rows. The default range (no ``--from``/``--to``) and ``--last`` need the log's first and last
good instants: one pass over the timestamps and the checks (:func:`span`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement.events import Roles, actor_key, event_rules

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset

HITS = pl.Schema({"who": pl.UInt64(), "c0": pl.Int64(), "k": pl.Int64()})


def span(ds: Dataset) -> tuple[int, int]:
    """The first and last instant of the plain log's good rows (one pass, cached per run)."""
    from kpi_cli.engagement import streamed

    key = "events:plain:span"
    if key not in ds.memo:
        found = streamed._scan(ds, Roles(), "user_id", [], before=False, by=())
        firsts = [s for s in found.starts if s is not None]
        ds.memo[key] = (min(firsts), found.end)
        ds.memo["events:plain:end"] = found.end
    found_span: tuple[int, int] = ds.memo[key]  # type: ignore[assignment]
    return found_span


def rolling_hits(ds: Dataset, roles: Roles, who: str, entries: pl.DataFrame, length_us: int) -> pl.DataFrame:
    """``who, c0, k``: each entered actor's buckets of active rows at or after its entry (``entries``: ``who``
    key, ``t0``, cohort ``c0``), ``k`` counted in ``length_us`` from ``t0``; distinct."""
    from kpi_cli.engagement.streamed import BATCH_ROWS, _acting, bad_row

    typed = ds.typed("events", rules=event_rules)
    bad = bad_row(ds)
    ts = pl.col("timestamp")
    entered = entries.lazy().select(pl.col("who").cast(pl.UInt64), pl.col("t0"), pl.col("c0").cast(pl.Int64))

    def plan(lf: pl.LazyFrame) -> pl.LazyFrame:
        rows = lf.filter(~bad & _acting(roles, who)).select(actor_key(pl.col(who)).alias("who"), ts.alias("ts"))
        return (rows.join(entered, on="who").filter(pl.col("ts") >= pl.col("t0"))
                .select("who", "c0", ((pl.col("ts") - pl.col("t0")) // length_us).alias("k")).unique())

    total = typed.frame.select(pl.len()).collect().item()

    def read(offset: int) -> pl.DataFrame:
        # The slice first, then the filter: a slice after a filter would read the log from its start.
        return plan(typed.frame.slice(offset, BATCH_ROWS)).collect(engine="streaming")

    with ThreadPoolExecutor(max_workers=2) as workers:
        found = [f.cast(HITS) for f in workers.map(read, range(0, total, BATCH_ROWS))]
    return pl.concat(found).unique() if found else pl.DataFrame(schema=HITS)
