"""The Python API: ``compute``, ``movements`` and ``cohort`` return Polars frames in SPEC §4.1's shape.

The CLI is a thin layer over these functions.

Examples
--------
>>> from kpi_cli import compute
>>> df = compute("mrr,customers", data="sample_data", month="2024-03", currency="USD")
>>> df.select("metric", "period").rows()
[('mrr', datetime.date(2024, 3, 1)), ('customers', datetime.date(2024, 3, 1))]
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import polars as pl

from kpi_cli.config import Settings, load_settings
from kpi_cli.dataset import Dataset
from kpi_cli.engagement import cohorts as event_cohorts
from kpi_cli.engagement import funnel as event_funnel
from kpi_cli.engagement import portable, streamed, tables
from kpi_cli.engagement.base import ALL_PARTS, EngagementBase
from kpi_cli.engagement.base import build as build_engagement
from kpi_cli.engagement.events import Exclusions, Roles
from kpi_cli.engagement.family import ACCOUNT_METRICS, parts_needed, require_accounts  # noqa: F401 (API)
from kpi_cli.engagement.signups import pql_accounts
from kpi_cli.errors import UsageError
from kpi_cli.graph import Graph, split_part
from kpi_cli.loading import load_source
from kpi_cli.money import fsum
from kpi_cli.options import RunOptions, calendar_of, check_choice, parse_duration_days
from kpi_cli.periods import RangeRequest, parse_as_of
from kpi_cli.registry import METRICS, resolve
from kpi_cli.revenue import cohorts
from kpi_cli.revenue.base import RevenueBase, build, shown_group
from kpi_cli.revenue.prep import RevenueRules

ALL_PERIODS = 10_000  # "--last" long enough to reach back to the data's start (clamped there)
LONG = ["metric", "period", "value", "numerator", "denominator", "complete"]
T = TypeVar("T")


@dataclass
class Run:
    """A run's resolved settings and dataset; kept so the CLI can report on it afterwards."""

    options: RunOptions
    settings: Settings
    dataset: Dataset
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, options: RunOptions) -> Run:
        """Resolve settings and validate option values."""
        settings = load_settings(options.flags(), options.config)
        for key in ("discounts", "churn_at", "churn_denominator", "engine"):
            settings.values[key] = check_choice(key, str(settings.values[key]))
        check_choice("on_bad_rows", options.on_bad_rows)
        try:
            settings.values["gross_margin"] = float(settings.values["gross_margin"])
        except ValueError:
            msg = f"--gross-margin {settings.values['gross_margin']!r} is not a number"
            raise UsageError(msg) from None
        if not 0 < settings.values["gross_margin"] <= 1:
            msg = "--gross-margin must be in (0, 1]"
            raise UsageError(msg, hint="e.g. --gross-margin 0.8 for 80%")
        return cls(options, settings, Dataset(settings, options.on_bad_rows, audit=options.audit))

    @property
    def metric_options(self) -> dict[str, object]:
        """Options metric functions read."""
        v = self.settings.values
        return {"churn_denominator": v["churn_denominator"], "gross_margin": v["gross_margin"],
                "within": self.options.within, "churn_at": v["churn_at"], "discounts": v["discounts"]}

    @property
    def exclusions(self) -> Exclusions:
        """``[exclude]`` from the config plus ``--exclude-file``."""
        return Exclusions.from_config(self.settings.tables.get("exclude", {}), self.options.exclude_file)

    def engagement(self, roles: Roles, by: tuple[str, ...] = (), needs: frozenset[str] = ALL_PARTS,
                   req: RangeRequest | None = None) -> EngagementBase:
        """The engagement table for this run's range (or ``req``) and actor."""
        v = self.settings.values
        cal = calendar_of(v)
        req = self.options.range if req is None else req
        as_of = parse_as_of(self.options.as_of, cal)
        if portable.applies(self.dataset, by=by, needs=needs, exclusions=self.exclusions, engine=v["engine"],
                            actor=self.options.actor):
            base = portable.build(self.dataset, cal, req, as_of, roles, v["engine"], self.options.actor,
                                  self.options.mau_days, needs,
                                  parse_duration_days(self.options.session_gap, "--session-gap") * 86_400,
                                  identified_only=self.options.identified_only, by=by)
            self.info["hygiene"] = base.hygiene
            return base
        if streamed.applies(self.dataset, by=by, needs=needs, exclusions=self.exclusions, engine=v["engine"],
                            actor=self.options.actor):
            base = streamed.build(self.dataset, cal, req, as_of, roles, self.options.actor, self.options.mau_days,
                                  needs, parse_duration_days(self.options.session_gap, "--session-gap") * 86_400, by)
            self.info["hygiene"] = base.hygiene
            return base
        base = build_engagement(self.dataset, cal, req, as_of, roles,
                                self.options.actor, self.options.identified_only, v["engine"],
                                parse_duration_days(self.options.session_gap, "--session-gap") * 86_400,
                                self.options.mau_days, self.exclusions, by, needs)
        self.info["hygiene"] = base.hygiene
        if self.options.actor == "account":
            require_accounts(self.dataset, "--actor account")
        return base

    def revenue(self, lookback: int = 0, clamp: bool = False) -> RevenueBase:
        """The revenue base table for this run's range, groups and rules."""
        v = self.settings.values
        cal = calendar_of(v)
        as_of = parse_as_of(self.options.as_of, cal)
        rules = RevenueRules(v["discounts"], v["churn_at"], v["currency"])
        base = build(self.dataset, cal, self.options.range, as_of, rules, self.options.by, v["engine"], lookback,
                     clamp)
        self.info.update(currency=base.currency, first=base.grid.starts[base.grid.first],
                         last=base.grid.starts[base.grid.last])
        return base


def _options(data: str | Path | None, kwargs: dict[str, Any]) -> RunOptions:
    rng = RangeRequest(kwargs.pop("month", None), kwargs.pop("quarter", None), kwargs.pop("year", None),
                       kwargs.pop("from_", None), kwargs.pop("to", None), kwargs.pop("last", None))
    by = kwargs.pop("by", ()) or ()
    by = (by,) if isinstance(by, str) else tuple(by)
    known = set(RunOptions.__dataclass_fields__)
    unknown = set(kwargs) - known
    if unknown:
        msg = f"unknown option(s): {', '.join(sorted(unknown))}"
        raise TypeError(msg)
    return RunOptions(range=rng, by=by, data=str(data) if data is not None else None, **kwargs)


def whole_run(fn: Callable[..., T]) -> Callable[..., T]:
    """Run ``fn(run, …)`` collecting bad rows under ``--on-bad-rows error`` until it is done, so its
    error lists every bad row of every source it read, with the true total."""

    @functools.wraps(fn)
    def collected(run: Run, *args: Any, **kwargs: Any) -> T:
        with run.dataset.deferred():
            return fn(run, *args, **kwargs)

    return collected


def compute(metrics: str | list[str], data: str | Path | None = None, **kwargs: Any) -> pl.DataFrame:
    """Compute metrics per period (and ``by`` group) in the long shape of SPEC §4.1.

    Parameters
    ----------
    metrics
        Metric ids or group names, as a list or a comma-separated string.
    data
        Data directory (default: config, ``KPI_DATA`` or the current directory).
    **kwargs
        ``month``, ``quarter``, ``year``, ``from_``, ``to``, ``last``, ``period``, ``tz``,
        ``week_start``, ``as_of``, ``by``, ``currency``, ``discounts``, ``churn_at``,
        ``churn_denominator``, ``gross_margin``, ``within``, ``on_bad_rows``, ``engine``,
        ``config``.

    Returns
    -------
    polars.DataFrame
        ``metric, period, <by…>, value, numerator, denominator, complete``.

    Examples
    --------
    >>> compute("arr", data="sample_data", month="2024-03", currency="USD").columns
    ['metric', 'period', 'value', 'numerator', 'denominator', 'complete']
    """
    return compute_run(metrics, Run.start(_options(data, kwargs)))


def availability(run: Run) -> Callable[[str], bool]:
    """Whether metric ``id`` can run on this run's data, config and ``--by`` (what a group such as ``all``
    keeps; ``kpi tree`` leaves out a default influencer that cannot)."""
    roles = Roles.from_table(run.settings.tables.get("events", {}))
    by = list(run.options.by)

    @functools.cache
    def available(mid: str) -> bool:
        """What a group keeps: metrics whose sources exist, whose event roles and config tables are
        there, which fit the breakdown (per-feature metrics only with ``--by feature``, the others only
        without; every family they read able to split by ``--by``), and whose parts are all available."""
        m = METRICS[mid]
        have_sources = all(any(run.dataset.has(s) for s in need.split("|")) for need in m.sources)
        fits = ("features" in m.roles) == (by == ["feature"])
        return (have_sources and fits and roles.configured(m.roles)
                and all(run.settings.tables.get(t) for t in m.tables)
                and (m.id not in ACCOUNT_METRICS or has_accounts())
                and all(has_column(c) for c in m.columns)
                and all(available(split_part(p, run.options)[0]) for p in m.of)
                and (not by or Graph(run, [mid]).refusal() is None))

    @functools.cache
    def has_column(where: str) -> bool:
        """Whether source.column is mapped (read from the header alone)."""
        source, _, column = where.partition(".")
        src = load_source(source, run.settings, required=False)
        return src is not None and (column in src.mapping or column in src.extra)

    @functools.cache
    def has_accounts() -> bool:
        """Whether the events map a column to account_id (read from the header alone)."""
        src = load_source("events", run.settings, required=False)
        return src is not None and "account_id" in src.mapping

    return available


def compute_run(metrics: str | list[str], run: Run) -> pl.DataFrame:
    """:func:`compute` on an already started run: the metric graph plans and builds each base once."""
    available = availability(run)
    by = list(run.options.by)
    ids = with_companions(resolve(metrics, lambda m: available(m.id)))
    run.info["metrics"] = ids
    graph = Graph(run, ids)
    run.info["graph"] = graph
    graph.check_by()
    with run.dataset.deferred():  # every bad row of every source in one error, with the true total
        frames = [graph.output(mid).with_columns(pl.lit(mid).alias("metric")) for mid in ids]
    order = {m: i for i, m in enumerate(ids)}
    out = pl.concat(frames, how="diagonal_relaxed").with_columns(
        pl.col("metric").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
    out = out.sort(["_order", "period", *by], nulls_last=True)
    return out.select("metric", "period", *by, "value", "numerator",
                      "denominator", pl.col("complete").cast(pl.Boolean))


def with_companions(ids: list[str]) -> list[str]:
    """``ids`` with each metric's companions right after it: ``nps`` brings ``nps_moe`` (SPEC §3.4:
    every NPS row carries its margin)."""
    out: list[str] = []
    for mid in ids:
        for m in (mid, *COMPANIONS.get(mid, ())):
            if m in METRICS and m not in out and (m == mid or m not in ids):
                out.append(m)
    return out


COMPANIONS = {"nps": ("nps_moe",)}


def movements(data: str | Path | None = None, customers: bool = False, **kwargs: Any) -> pl.DataFrame:
    """The MRR roll-forward per period, or with ``customers`` one row per customer and movement."""
    return movements_run(Run.start(_options(data, kwargs)), customers=customers)


@whole_run
def movements_run(run: Run, customers: bool = False) -> pl.DataFrame:
    """:func:`movements` on an already started run."""
    base = run.revenue()
    periods = base.grid.periods().select("idx", "period", "complete")
    by = list(base.groups)
    if customers:
        unit = list(dict.fromkeys(["customer_id", *by]))
        pts = base.points.filter(pl.col("movement") != "none", pl.col("idx") >= base.grid.first,
                                 pl.col("idx") <= base.grid.last)
        pts = pts.group_by([*unit, "idx"]).agg(
            pl.col("movement").first(), fsum(pl.col("a_r")).alias("start_mrr"), fsum(pl.col("b_r")).alias("end_mrr"))
        pts = pts.with_columns((pl.col("end_mrr") - pl.col("start_mrr")).alias("change"))
        out = pts.join(periods, on="idx", how="left").with_columns([shown_group(b) for b in by])
        out = out.sort(["period", *by, "customer_id"], nulls_last=True)
        return out.select("period", *by, "customer_id", "movement", "start_mrr", "end_mrr",
                          "change", "complete")
    t = base.table.filter(pl.col("idx") >= base.grid.first).with_columns([shown_group(b) for b in by])
    return t.sort(["period", *by], nulls_last=True).select(
        "period", *by, "start_mrr", "new", "expansion", "reactivation", "contraction",
        "churned", "fx",
        pl.col("mrr").alias("end_mrr"))


def cohort(of: str = "customers", data: str | Path | None = None, periods: int | None = None,
           criterion: str = "on", clock: str = "calendar", **kwargs: Any) -> pl.DataFrame:
    """Retention triangles: billing (``customers``, ``mrr``) or events (``users``, ``accounts``)."""
    return cohort_run(Run.start(_options(data, kwargs)), of=of, periods=periods, criterion=criterion, clock=clock)


@whole_run
def cohort_run(run: Run, of: str = "customers", periods: int | None = None, criterion: str = "on",
               clock: str = "calendar") -> pl.DataFrame:
    """:func:`cohort` on an already started run."""
    if of in ("users", "accounts"):
        v = run.settings.values
        cal = calendar_of(v)
        roles = Roles.from_table(run.settings.tables.get("events", {}))
        return event_cohorts.table(run.dataset, cal, run.options.range, parse_as_of(run.options.as_of, cal), roles,
                                   of=of, criterion=criterion, clock=clock, periods=periods,
                                   identified_only=run.options.identified_only, exclusions=run.exclusions,
                                   engine=str(v["engine"]))
    if of not in ("customers", "mrr"):
        msg = f"--of {of!r} is not one of customers, mrr, users, accounts"
        raise UsageError(msg)
    opts = run.options
    if opts.range.is_empty():
        # Every cohort from the first paying period through the last complete one.
        run.options = replace(opts, range=RangeRequest(last=ALL_PERIODS))
    base = run.revenue(clamp=True)
    return cohorts.table(base, of, periods)


def lifecycle(data: str | Path | None = None, **kwargs: Any) -> pl.DataFrame:
    """Growth accounting per period (new, returning, resurrecting, dormant, quick ratio)."""
    return lifecycle_run(Run.start(_options(data, kwargs)))


@whole_run
def lifecycle_run(run: Run) -> pl.DataFrame:
    """:func:`lifecycle` on an already started run."""
    return tables.lifecycle(run.engagement(Roles.from_table(run.settings.tables.get("events", {})),
                                           needs=frozenset({"lifecycle"})))


def stickiness(data: str | Path | None = None, **kwargs: Any) -> pl.DataFrame:
    """Histogram of actors by number of active days in each period."""
    return stickiness_run(Run.start(_options(data, kwargs)))


@whole_run
def stickiness_run(run: Run) -> pl.DataFrame:
    """:func:`stickiness` on an already started run."""
    return tables.stickiness(run.engagement(Roles.from_table(run.settings.tables.get("events", {})),
                                            needs=frozenset({"lifecycle"})))


def funnel(steps: list[str], data: str | Path | None = None, window: str = "14d", order: str = "loose",
           **kwargs: Any) -> pl.DataFrame:
    """Ordered conversion funnel over event names; entrants still inside their window are pending."""
    return funnel_run(Run.start(_options(data, kwargs)), steps, window=window, order=order)


@whole_run
def funnel_run(run: Run, steps: list[str], window: str = "14d", order: str = "loose") -> pl.DataFrame:
    """:func:`funnel` on an already started run."""
    cal = calendar_of(run.settings.values)
    window_us = int(parse_duration_days(window, "--window") * 86_400_000_000)
    return event_funnel.table(run.dataset, cal, run.options.range, parse_as_of(run.options.as_of, cal), steps,
                              window_us=window_us, order=order, actor=run.options.actor,
                              identified_only=run.options.identified_only, exclusions=run.exclusions,
                              engine=str(run.settings.values["engine"]))


@whole_run
def pql_list_run(run: Run) -> pl.DataFrame:
    """The accounts behind ``pqls``: ``period, account_id, active_users, key_actions, complete``."""
    roles = Roles.from_table(run.settings.tables.get("events", {}))
    base = run.engagement(roles)
    rows = pql_accounts(base, roles, {"pql": run.settings.tables.get("pql", {})})
    periods = base.grid.periods().select("idx", "period", "complete")
    return rows.join(periods, on="idx").select("period", "account_id", pl.col("active_users").cast(pl.Int64),
                                               pl.col("key_actions").cast(pl.Int64), "complete")


def report(metrics: str | list[str] = "all", data: str | Path | None = None, **kwargs: Any) -> pl.DataFrame:
    """``kpi report`` as rows: one per metric for one period (default: the last complete one).

    Columns: ``metric, period, value, previous, change, change_unit, year_ago, yoy_change, benchmark_low,
    benchmark_high, benchmark_source, complete`` (SPEC §3.5). :func:`kpi_cli.summary.build.report_run`
    gives the whole :class:`~kpi_cli.summary.model.Report` (history and badges included).

    Examples
    --------
    >>> report("mrr,customer_churn_rate", data="sample_data", month="2024-03")["change_unit"].to_list()
    ['pct', 'pp']
    """
    from kpi_cli.summary.build import report_run, rows_frame

    return rows_frame(report_run(Run.start(_options(data, kwargs)), metrics))


def tree(kpi: str, data: str | Path | None = None, influencers: str | list[str] | None = None,
         level: str = "period", changes: bool = False, allow_smoothed: bool = False, method: str = "spearman",
         **kwargs: Any) -> pl.DataFrame:
    """``kpi tree`` as rows: SPEC §3.5's long statistics, or with ``changes`` the change table.

    :func:`kpi_cli.influence.run.tree_run` gives the whole :class:`~kpi_cli.influence.model.TreeResult`.

    Examples
    --------
    >>> df = tree("customer_churn_rate", data="sample_data", influencers="logins_per_user,dau_mau")
    >>> df.columns[:6], df["lag"].to_list()
    (['kpi', 'influencer', 'level', 'lag', 'n', 'method'], [0, 1, 2, 3, 0, 1, 2, 3])
    """
    from kpi_cli.influence.run import changes_frame, stats_frame, tree_run

    result = tree_run(Run.start(_options(data, kwargs)), kpi, influencers, level, allow_smoothed, method)
    return changes_frame(result) if changes else stats_frame(result)
