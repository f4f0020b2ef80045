"""The support family on the metric graph: clean tickets once, then each ticket metric per period.

Tickets belong to the period of their creation (``reopen_rate``: of their final resolution).
The times (``first_response_time``, ``resolution_time``) and ``first_response_rate`` count only a
response or resolution that happened by ``--as-of``, as SPEC §3.4 says; ``reopen_rate`` counts every
resolution in P, an incomplete period being computed as if its data were complete (SPEC §2). A
period is complete when it ends by both ``--as-of`` and the last instant in the tickets.
``tickets_per_user`` and ``tickets_per_customer`` are ratios the graph forms from ``tickets`` and
the engagement / revenue families' own metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.errors import DataError, UsageError
from kpi_cli.graph import Family
from kpi_cli.locate import slot
from kpi_cli.support.tickets import INTERNAL, Hygiene, clean, instants

if TYPE_CHECKING:
    from kpi_cli.graph import Graph

NULL_GROUP = "\u2400null\u2400"  # a blank group while computing: joins and group-bys keep it
BUSINESS = {"first_response_time": "first_response_business_minutes",
            "first_response_time_p90": "first_response_business_minutes",
            "resolution_time": "full_resolution_business_minutes"}
HEADERS = {"first_response_business_minutes": "First reply time in minutes within business hours",
           "full_resolution_business_minutes": "Full resolution time in minutes within business hours"}


@dataclass
class SupportBase:
    """Clean tickets placed on the run's periods, one row per ticket (per tag with ``--by tag``).

    ``c_idx``/``r_idx``: index in ``periods`` of the creation / final resolution (null outside);
    ``answered``/``resolved_by``: a first response / final resolution by ``--as-of``; ``_g*``: the
    ``--by`` group keys.
    """

    tickets: pl.DataFrame
    periods: list[date]
    complete: list[bool]
    groups: pl.DataFrame  # every group key combination seen in the periods (one empty row without --by)
    keys: list[str]
    dims: list[str]
    columns: list[str]  # canonical and extra columns of the tickets source
    hygiene: Hygiene
    hours: str = "calendar"
    notes: list[str] = field(default_factory=list)


def _table(graph: Graph) -> dict[str, object]:
    found = graph.run.settings.tables.get("tickets", {})
    return found if isinstance(found, dict) else {}


def data_end(graph: Graph) -> int | None:
    """The last instant the tickets record: a creation, a first response or a final resolution."""
    raw = graph.run.dataset.load("tickets")
    if raw is None or raw.height == 0:
        return None
    found = raw.select(instants(list(raw.columns))).select(
        pl.max_horizontal(pl.col("answered_at").max(), pl.col("resolved").max()).alias("a"))
    ends = found.select(pl.max_horizontal(pl.col("a"), pl.lit(raw["created_at"].max())).cast(pl.Int64)).item()
    return None if ends is None else int(ends)


def dims(graph: Graph) -> set[str]:
    """``--by`` dimensions: ticket columns (via, status, extras), ``tag``, and customers columns."""
    ds = graph.run.dataset
    raw = ds.load("tickets")
    assert raw is not None
    found = {c for c in raw.columns if not c.startswith("_") and c not in INTERNAL}
    if "tags" in raw.columns:
        found.add("tag")
    customers = ds.load("customers", required=False) if ds.has("customers") else None
    if customers is not None:
        found |= {c for c in customers.columns if not c.startswith("_") and c != "customer_id"}
    return found


def build(graph: Graph) -> SupportBase:
    """The clean tickets with their periods and ``--by`` groups."""
    run = graph.run
    ds = run.dataset
    raw = ds.load("tickets")
    if raw is None or raw.height == 0:  # as billing and surveys: nothing read is not "no tickets"
        rep = ds.reports["tickets"]
        why = "every row was rejected" if rep.rejected else "the file has only a header"
        msg = f"source tickets ({', '.join(rep.files)}): no tickets to compute from ({why})"
        raise DataError(msg, hint="check the export, or run `kpi validate` to see why rows were rejected")
    frame, hygiene = clean(ds, _table(graph), run.options.tag, "tag" in graph.by)
    cal = graph.calendar
    periods = graph.periods(lookback=graph.lookback("support"))
    bounds = [cal.instant(d) for d in periods] + [cal.instant(cal.step(periods[-1]))]
    end = data_end(graph)
    # Without a single ticket nothing says how far the export reaches: no period is complete.
    horizon = min(graph.as_of, end) if end is not None else bounds[0]
    complete = [bounds[i + 1] <= horizon for i in range(len(periods))]
    n = len(periods)

    def place(expr: pl.Expr) -> pl.Expr:
        i = slot(expr, bounds)
        return pl.when(expr.is_not_null() & (i >= 0) & (i < n)).then(i)

    by = list(graph.by)
    keys = [f"_g{i}" for i in range(len(by))]
    frame = frame.with_columns(
        place(pl.col("created_at")).alias("c_idx"),
        place(pl.col("resolved")).alias("r_idx"),
        (pl.col("answered_at") <= graph.as_of).fill_null(False).alias("answered"),
        (pl.col("resolved") <= graph.as_of).fill_null(False).alias("resolved_by"),
    ).filter(pl.col("c_idx").is_not_null() | pl.col("r_idx").is_not_null())
    frame = _grouped(graph, frame, by, keys)
    groups = frame.select(keys).unique().sort(keys) if keys else pl.DataFrame()
    raw = ds.load("tickets")
    assert raw is not None
    return SupportBase(frame, periods, complete, groups, keys, by, list(raw.columns), hygiene, run.options.hours)


def _grouped(graph: Graph, frame: pl.DataFrame, by: list[str], keys: list[str]) -> pl.DataFrame:
    """One key column per ``--by`` dimension: a ticket column, ``tag`` (a ticket in each of its
    tags, so groups may sum to more than the total), else a customers column via the account."""
    for dim, key in zip(by, keys, strict=True):
        if dim == "tag" and "tag" not in frame.columns:
            tags = pl.when(pl.col("tag_list").list.len() > 0).then(pl.col("tag_list"))
            frame = frame.with_columns(tags.alias(key)).explode(key)
        elif dim in frame.columns and dim not in INTERNAL:
            frame = frame.with_columns(pl.col(dim).cast(pl.String).str.strip_chars().alias(key))
        else:
            frame = frame.with_columns(_customer_attribute(graph, dim).alias(key))
        frame = frame.with_columns(pl.when(pl.col(key) != "").then(pl.col(key)).fill_null(NULL_GROUP).alias(key))
    return frame


def _customer_attribute(graph: Graph, dim: str) -> pl.Expr:
    """``customers.DIM`` of the ticket's account (null without one, or for an unknown account)."""
    ds = graph.run.dataset
    customers = ds.load("customers", required=False) if ds.has("customers") else None
    if customers is None or dim not in customers.columns:
        known = ", ".join(sorted(dims(graph))) or "(none)"
        msg = f"--by {dim}: not a column of tickets (nor tag) nor of customers"
        raise UsageError(msg, hint=f"tickets can split by: {known}")
    attrs = customers.select(pl.col("customer_id").cast(pl.String), pl.col(dim).cast(pl.String)).filter(
        pl.col("customer_id").is_not_null()).unique("customer_id", keep="first", maintain_order=True)
    if attrs.height == 0:
        return pl.lit(None, dtype=pl.String)
    return pl.col("account").replace_strict(attrs["customer_id"], attrs[dim], default=None, return_dtype=pl.String)


def _hours_column(base: SupportBase, metric_id: str) -> str:
    """``fr_h``/``res_h``, or with ``--hours business`` the export's business-hours column."""
    calendar = "res_h" if metric_id == "resolution_time" else "fr_h"
    if base.hours != "business":
        return calendar
    needed = BUSINESS[metric_id]
    if needed not in base.columns:
        msg = (f"--hours business: {metric_id} reads the export's {needed} column, and the tickets have none "
               "(kpi does not model business-hours schedules)")
        hint = (f'map it: [sources.tickets.columns] {needed} = "<header>" (Zendesk: "{HEADERS[needed]}"), '
                "or use --hours calendar")
        raise UsageError(msg, hint=hint)
    return calendar.replace("_h", "_bh")


def evaluate(graph: Graph, base: SupportBase, metric_id: str) -> pl.DataFrame:
    """Rows of one ticket metric over the base's periods."""
    t, keys = base.tickets, base.keys
    created = t.filter(pl.col("c_idx").is_not_null())
    none = pl.lit(None, dtype=pl.Float64)
    if metric_id in ("tickets", "unanswered_tickets", "first_response_rate"):
        agg = created.group_by("c_idx", *keys).agg(pl.len().alias("n"), pl.col("answered").sum().alias("a"))
        rows = _on_grid(base, agg.rename({"c_idx": "idx"}), {"n": 0, "a": 0})
        n, a = pl.col("n").cast(pl.Float64), pl.col("a").cast(pl.Float64)
        if metric_id == "tickets":
            return _shaped(base, rows, n, none, none)
        if metric_id == "unanswered_tickets":
            return _shaped(base, rows, n - a, none, none)
        return _shaped(base, rows, pl.when(n != 0).then(a / n), a, n)
    if metric_id in ("first_response_time", "first_response_time_p90", "resolution_time"):
        col = _hours_column(base, metric_id)
        done = pl.col("answered" if metric_id != "resolution_time" else "resolved_by")
        hours = created.filter(done, pl.col(col).is_not_null()).select("c_idx", *keys, pl.col(col).alias("h"))
        stat = pl.col("h").quantile(0.9, "linear") if metric_id.endswith("_p90") else pl.col("h").median()
        agg = hours.group_by("c_idx", *keys).agg(stat.alias("v"))
        # SPEC §4.1: numerator and denominator belong to ratios; a median has neither.
        return _shaped(base, _on_grid(base, agg.rename({"c_idx": "idx"}), {}), pl.col("v"), none, none)
    if metric_id == "reopen_rate":
        resolved = t.filter(pl.col("r_idx").is_not_null())
        agg = resolved.group_by("r_idx", *keys).agg(pl.len().alias("n"), pl.col("reopened").sum().alias("a"))
        rows = _on_grid(base, agg.rename({"r_idx": "idx"}), {"n": 0, "a": 0})
        n, a = pl.col("n").cast(pl.Float64), pl.col("a").cast(pl.Float64)
        return _shaped(base, rows, pl.when(n != 0).then(a / n), a, n)
    msg = f"{metric_id} is not a support metric"
    raise UsageError(msg)


def _on_grid(base: SupportBase, agg: pl.DataFrame, zeros: dict[str, int]) -> pl.DataFrame:
    """``agg`` (``idx``, keys, values) on every period × group, counts 0 where nothing happened."""
    grid = pl.DataFrame({"idx": list(range(len(base.periods)))}, schema={"idx": pl.Int64})
    if base.keys:
        grid = base.groups.join(grid, how="cross")
    agg = agg.with_columns(pl.col("idx").cast(pl.Int64))
    out = grid.join(agg, on=["idx", *base.keys], how="left")
    return out.with_columns([pl.col(c).fill_null(v) for c, v in zeros.items()])


def _shaped(base: SupportBase, rows: pl.DataFrame, value: pl.Expr, num: pl.Expr, den: pl.Expr) -> pl.DataFrame:
    """The rows shape of the graph: ``period, <dims>, value, numerator, denominator, complete``."""
    periods = pl.Series(base.periods, dtype=pl.Date)
    complete = pl.Series(base.complete, dtype=pl.Boolean)
    named = [pl.when(pl.col(k) != NULL_GROUP).then(pl.col(k)).cast(pl.String).alias(d)
             for k, d in zip(base.keys, base.dims, strict=True)]
    out = rows.select(
        pl.lit(periods).gather(pl.col("idx")).alias("period"), *named,
        value.cast(pl.Float64).alias("value"), num.cast(pl.Float64).alias("numerator"),
        den.cast(pl.Float64).alias("denominator"), pl.lit(complete).gather(pl.col("idx")).alias("complete"))
    return out.sort("period", *base.dims, nulls_last=True)


FAMILY = Family(name="support", sources=("tickets",), build=build, evaluate=evaluate, dims=dims, data_end=data_end)
