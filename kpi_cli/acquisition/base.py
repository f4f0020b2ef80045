"""The acquisition family's base: spend, new customers and web sessions, each read on first use.

One base per run (the graph builds it once); each part loads only the sources it needs, so a run
asking for ``bounce_rate`` alone never reads spend. Every part is laid over the same periods: the
requested ones plus the look-back other metrics read (``--cac-lag N``: N periods before the first).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.acquisition import customers as cust
from kpi_cli.acquisition import spend as sp
from kpi_cli.acquisition import traffic as tr
from kpi_cli.acquisition.channels import UNATTRIBUTED, ChannelMap
from kpi_cli.errors import KpiError
from kpi_cli.money import fsum

if TYPE_CHECKING:
    from kpi_cli.graph import Graph
    from kpi_cli.revenue.base import RevenueBase

ROW = ("value", "numerator", "denominator", "complete")


def label(d: date, grain: str) -> str:
    """A period as people write it: ``2024-05``, ``2024-Q2``, ``2024``, ``week of 2024-05-06``."""
    if grain == "month":
        return d.strftime("%Y-%m")
    if grain == "quarter":
        return f"{d.year}-Q{(d.month - 1) // 3 + 1}"
    if grain == "year":
        return str(d.year)
    return f"week of {d.isoformat()}" if grain == "week" else d.isoformat()


@dataclass
class AcquisitionBase:
    """What acquisition metrics read, per period (``starts``) and, with ``--by channel``, per channel."""

    graph: Graph
    channels: ChannelMap

    @property
    def by_channel(self) -> bool:
        """Whether rows are split by channel."""
        return "channel" in self.graph.by

    @cached_property
    def starts(self) -> list[date]:
        """Period starts the rows cover: the look-back before the first requested period through the last."""
        return self.graph.periods(lookback=self.graph.lookback("acquisition"))

    def periods(self, complete: dict[date, bool] | None = None, end: int | None = None) -> pl.DataFrame:
        """``period, complete``: complete from ``complete`` (a family's own view), else a period ending
        at or before the earlier of ``--as-of`` and ``end``."""
        cal, horizon = self.graph.calendar, min(self.graph.as_of, end if end is not None else self.graph.as_of)
        flags = [complete.get(d, True) if complete is not None else cal.instant(cal.step(d, 1)) <= horizon
                 for d in self.starts]
        return pl.DataFrame({"period": self.starts, "complete": flags}, schema={"period": pl.Date,
                                                                                "complete": pl.Boolean})

    # --- spend ----------------------------------------------------------------------------------
    @cached_property
    def spend(self) -> sp.Spend:
        """Spend of the run in the reporting currency."""
        ds = self.graph.run.dataset
        raw = ds.load("spend")
        assert raw is not None
        wanted = self.graph.run.settings.values.get("currency")
        # Billing is read for its currency only when --currency leaves the choice open.
        currency = sp.spend_currency(ds, raw, wanted, None if wanted else self._billing_currency())
        out = sp.load_spend(ds, self.graph.calendar, currency, self.graph.run.options.spend_allocation)
        names = out.rows["channel"].drop_nulls().unique().to_list()
        unmapped = self.channels.unmapped(names)
        if unmapped:
            ds.notes.append(f"spend channels without a [channels] line, counted as other: {', '.join(unmapped)}")
        self.graph.run.info.setdefault("currency", currency)
        return out

    def _billing_currency(self) -> str | None:
        """The reporting currency revenue uses, when the run reads billing data (or it exists)."""
        from kpi_cli.revenue.base import reporting_currency
        from kpi_cli.revenue.billing import billing

        if "revenue" in self.graph.families:
            found: str = self.graph.base("revenue").currency
            return found or None
        ds = self.graph.run.dataset
        if not (ds.has("subscriptions") or ds.has("invoices")):
            return None
        seen = len(ds.pending)
        try:
            bill = billing(ds, self.graph.run.settings.values["engine"])
            found_currency: str | None = reporting_currency(ds, bill.currencies, None)
        except KpiError:  # several currencies, bad billing rows: revenue is not asked, so the spend decides
            found_currency = None
        if len(ds.pending) > seen:  # bad billing rows (held back under --on-bad-rows error): the same
            del ds.pending[seen:]
            found_currency = None
        return found_currency

    @cached_property
    def spend_periods(self) -> pl.DataFrame:
        """``period, category, channel, class, amount, rows`` over :attr:`starts`."""
        out = sp.per_period(self.spend, self.starts, self.graph.calendar, channel=True)
        return out.with_columns(self.channels.expr("channel").alias("class"))

    def spend_rows(self, category: str, paid: bool = False) -> pl.DataFrame:
        """Spend of ``category`` (paid channels only with ``paid``) per period [and channel].

        A period no row of ``category`` covers is null, never 0 (a note at ``-v`` names it). In a
        covered period a channel without rows spent 0, if it has rows in some period of the run;
        a channel with none at all (e.g. the (unattributed) customers' group, when every spend row
        names its channel) is null throughout: its cost is unknown, not nothing.
        """
        mine = self.spend_periods.filter(pl.col("category") == category)
        covered = mine.select("period").unique()
        if paid:
            mine = mine.filter(pl.col("class") == "paid")
        keys = ["period", *(["channel"] if self.by_channel else [])]
        agg = mine.group_by(keys).agg(fsum(pl.col("amount")).alias("amount"))
        end = self.graph.calendar.instant(self.spend.end) if self.spend.end else None
        periods = self.periods(end=end).join(covered.with_columns(pl.lit(True).alias("_covered")), on="period",
                                             how="left")
        every = self.spend.rows.filter(pl.col("category") == category)
        if paid:
            every = every.filter(self.channels.expr("channel") == "paid")
        frame = self.dense(periods, agg, every)
        # With --cac-basis paid and no spend row on a paid channel at all, paid spend is unknown, not 0.
        known = pl.col("_covered").fill_null(False) & pl.lit(every.height > 0 or not paid)
        value = pl.when(known).then(pl.col("amount").fill_null(0.0))
        rows = frame.select(*keys, value.cast(pl.Float64).alias("value"), *_no_parts(), "complete")
        missing = [d for d in self.starts if d not in set(covered["period"].to_list())]
        self._note_missing(missing, f"{category} spend")
        return rows

    def _note_missing(self, missing: list[date], what: str) -> None:
        if missing:
            shown = ", ".join(label(d, self.graph.calendar.grain) for d in missing[:6])
            more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
            note = f"no {what} data for {shown}{more}: metrics reading it are null there"
            if note not in self.graph.run.dataset.notes:
                self.graph.run.dataset.notes.append(note)

    def dense(self, periods: pl.DataFrame, agg: pl.DataFrame, universe: pl.DataFrame | None = None) -> pl.DataFrame:
        """``periods`` (× the channels of ``universe``, else of ``agg``, with ``--by channel``) left-joined
        with ``agg``."""
        if not self.by_channel:
            return periods.join(agg, on="period", how="left")
        source = agg if universe is None else universe
        groups = source.select(pl.col("channel").fill_null(UNATTRIBUTED)).unique().sort("channel")
        agg = agg.with_columns(pl.col("channel").fill_null(UNATTRIBUTED))
        return periods.join(groups, how="cross").join(agg, on=["period", "channel"], how="left")

    # --- customers ------------------------------------------------------------------------------
    @cached_property
    def revenue(self) -> RevenueBase:
        """The revenue family's base (built once for the run)."""
        found: RevenueBase = self.graph.base("revenue")
        return found

    @cached_property
    def new_customers(self) -> pl.DataFrame:
        """``period, customer_id, channel, class``: new customers over :attr:`starts`."""
        need = self.graph.run.options.cac_basis == "paid" or self.by_channel or any(
            m in self.graph.closure for m in ("paid_share", "unattributed_share"))
        attrs = cust.channels(self.graph.run.dataset, "--cac-basis paid, --by channel and paid_share", required=need)
        rows = cust.new_customers(self.revenue, attrs, self.starts)
        return rows.with_columns(self.channels.expr("channel").alias("class"))

    def customer_counts(self, keep: pl.Expr | None = None, name: str = "n", spend_channels: bool = False
                        ) -> pl.DataFrame:
        """New customers (those ``keep`` selects) per period [and channel], 0 where none.

        With ``--by channel`` every channel new customers have gets rows, and with ``spend_channels``
        every channel acquisition spend names too: CAC's denominator for a channel with spend and no new customer
        is that channel's new customers, 0, not a missing value.
        """
        rows = self.new_customers if keep is None else self.new_customers.filter(keep)
        keys = ["period", *(["channel"] if self.by_channel else [])]
        agg = rows.group_by(keys).agg(pl.len().cast(pl.Float64).alias(name))
        if self.by_channel:  # every channel new customers have, so groups line up across counts
            named = [self.new_customers.select("channel")]
            if spend_channels and self.graph.run.dataset.has("spend"):
                spent = self.spend.rows.filter(pl.col("category") == "acquisition")
                named.append(spent.select(pl.col("channel").cast(pl.String)))
            groups = (pl.concat(named, how="vertical_relaxed").select(pl.col("channel").fill_null(UNATTRIBUTED))
                      .unique().sort("channel"))
            periods = self.periods(cust.complete_map(self.revenue)).join(groups, how="cross")
            agg = agg.with_columns(pl.col("channel").fill_null(UNATTRIBUTED))
            out = periods.join(agg, on=keys, how="left")
        else:
            out = self.periods(cust.complete_map(self.revenue)).join(agg, on=keys, how="left")
        return out.with_columns(pl.col(name).fill_null(0.0))

    # --- web sessions ---------------------------------------------------------------------------
    @cached_property
    def sessions(self) -> tr.Sessions:
        """Sessions from ``traffic``, else page-view sessions of ``events``."""
        from kpi_cli.engagement.events import Roles
        from kpi_cli.options import parse_duration_days

        run = self.graph.run
        ds, cal, opts = run.dataset, self.graph.calendar, run.options
        if ds.has("traffic"):
            return tr.from_traffic(ds, self.starts, cal, opts.engaged_seconds)
        roles = Roles.from_table(run.settings.tables.get("events", {}))
        gap = parse_duration_days(opts.session_gap, "--session-gap") * 86_400
        out = tr.from_events(ds, self.starts, cal, roles.events("pageview"), gap, opts.identified_only,
                             run.exclusions)
        ds.notes.append("bounce_rate from events: sessions of page-view events (no traffic source); "
                        "--bounce ga4 reads as single_page there (events carry no engagement time)")
        return out

    def session_counts(self) -> pl.DataFrame:
        """Per period [and channel]: sessions, bounces, visitors, converted (0 where none)."""
        s = self.sessions
        agg = tr.counts(s, self.by_channel)
        frame = self.dense(self.periods(end=s.end), agg)
        return frame.with_columns(pl.col(c).fill_null(0).cast(pl.Float64)
                                  for c in ("sessions", "bounces", "bounces_ga4", "visitors", "converted"))


def _no_parts() -> list[pl.Expr]:
    return [pl.lit(None, dtype=pl.Float64).alias("numerator"), pl.lit(None, dtype=pl.Float64).alias("denominator")]
