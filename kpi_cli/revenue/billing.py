"""A run's validated billing items, where they live: the Polars frame the default load made, or the
engine's own scan of typed Parquet (:mod:`kpi_cli.revenue.portable_load`).

The base (:mod:`kpi_cli.revenue.base`) reads the items through this one shape, so the same segment and
roll-forward pipelines run on both; only the small facts (the data's span, its currencies) and, for
the metrics that read items or segments row by row, those tables are collected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.dataset import HELD
from kpi_cli.engines import engine_for
from kpi_cli.errors import DataError
from kpi_cli.revenue import portable_load
from kpi_cli.revenue.prep import FAR, flag_overlaps, invoices_to_items, subscription_rules

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset
    from kpi_cli.engines import Engine

TS_COLS = ("start_at", "end_at", "canceled_at", "trial_end_at")


@dataclass
class Billing:
    """Subscription items on ``engine`` and what the base needs to know of them before the grid."""

    engine: Engine
    items: nw.LazyFrame  # canonical columns and _file/_line (Polars load) or the place (engine scan)
    end: int  # the last instant mentioned anywhere in the billing rows
    first: int  # the first start
    currencies: list[str | None]  # the distinct currencies, null included where some row has none
    open_end: bool = False  # some item has no end_at (it runs on)
    on_engine: bool = False  # read by the engine from typed Parquet (not loaded by Polars): places are _row

    def rows(self, condition: nw.Expr) -> pl.DataFrame:
        """``_file, _line`` of the items where ``condition`` holds (to reject them)."""
        return self.collected(self.items.filter(condition).select(portable_load.PLACE if self.on_engine
                                                                  else nw.col("_file", "_line")))

    def where(self, items: nw.LazyFrame) -> Billing:
        """The same billing with ``items`` (filtered or with columns added)."""
        return Billing(self.engine, items, self.end, self.first, self.currencies, self.open_end, self.on_engine)

    def collected(self, frame: nw.LazyFrame) -> pl.DataFrame:
        """``frame`` (items or a frame derived from them) as Polars, ``_file``/``_line`` as the Polars load's."""
        got = self.engine.collect(frame)
        return portable_load.places(got) if self.on_engine and portable_load.PLACE in got.columns else got


def load_items(ds: Dataset) -> pl.DataFrame:
    """Validated subscription items, from ``subscriptions`` or derived from ``invoices``, loaded by Polars
    (:func:`billing` reads them for a run, on the engine where it can)."""
    if ds.has("subscriptions") or not ds.has("invoices"):
        items = ds.load("subscriptions", rules=subscription_rules, frame_step=flag_overlaps)
    else:
        inverted = ("period_end", pl.col("period_end") < pl.col("period_start"), "period_end before period_start")
        inv = ds.load("invoices", rules=lambda _src, _cols: ([], [inverted]))
        assert inv is not None
        items = invoices_to_items(inv)
    assert items is not None
    return items


def billing_source(ds: Dataset) -> str:
    """The source billing rows came from: ``subscriptions``, else ``invoices``."""
    return "subscriptions" if "subscriptions" in ds.reports or "invoices" not in ds.reports else "invoices"


def billing(ds: Dataset, engine_name: str) -> Billing:
    """The run's billing items (once per run): read by the engine where it can, else loaded by Polars."""
    key = f"{HELD}billing:{engine_name}"
    if key in ds.memo:
        found: Billing = ds.memo[key]  # type: ignore[assignment]
        return found
    if portable_load.applies(ds, engine_name):
        engine = engine_for(engine_name)
        made = _facts(engine, portable_load.load(engine, ds), ds, on_engine=True)
        # What kpi_cli.coverage reads of a source held in Polars (the span; whether some item is still open).
        ds.memo[f"span:{portable_load.NAME}"] = ("start_at", made.first, made.end, made.open_end)
    else:
        polars = engine_for("polars")
        loaded = load_items(ds)
        made = _facts(polars, nw.from_native(loaded.lazy()), ds)
    ds.memo[key] = made
    return made


def _facts(engine: Engine, items: nw.LazyFrame, ds: Dataset, *, on_engine: bool = False) -> Billing:
    cols = items.collect_schema().names()
    if "currency" in cols:  # currency codes are case-insensitive (SPEC §1.3): `usd` is `USD` (text is trimmed)
        items = items.with_columns(nw.col("currency").str.to_uppercase())
    stamps = [nw.when(nw.col(c) < FAR).then(nw.col(c)).max().alias(c) for c in TS_COLS if c in cols]
    running = [nw.col("end_at").is_null().cast(nw.Int64).sum().alias("_open")] if "end_at" in cols else []
    span = engine.collect(items.select(nw.len().alias("_n"), nw.col("start_at").min().alias("_first"), *stamps,
                                       *running))
    if int(span["_n"][0]) == 0:
        rep = ds.reports[billing_source(ds)]
        why = "every row was rejected" if rep.rejected else "the file has only a header" if rep.rows_read == 0 \
            else "no row is a recurring billing row"
        msg = f"source {rep.name} ({', '.join(rep.files)}): no billing rows to compute from ({why})"
        raise DataError(msg, hint="check the export, or run `kpi validate` to see why rows were rejected")
    ends = [span[c][0] for c in TS_COLS if c in cols and span[c][0] is not None]
    currencies: list[str | None] = []
    if "currency" in cols:
        currencies = engine.collect(items.group_by("currency").agg(nw.len()))["currency"].to_list()
    open_end = "end_at" in cols and bool(span["_open"][0])
    return Billing(engine, items, int(max(ends)), int(span["_first"][0]), currencies, open_end, on_engine)
