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
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl

from kpi_cli.config import Settings, load_settings
from kpi_cli.dataset import Dataset
from kpi_cli.engagement import cohorts as event_cohorts
from kpi_cli.engagement import funnel as event_funnel
from kpi_cli.engagement import tables
from kpi_cli.engagement.base import ALL_PARTS, EngagementBase
from kpi_cli.engagement.base import build as build_engagement
from kpi_cli.engagement.events import Exclusions, Roles
from kpi_cli.engagement.metrics import evaluate as evaluate_engagement
from kpi_cli.engagement.signups import pql_accounts
from kpi_cli.engagement.windows import off_grain
from kpi_cli.errors import DataError, UsageError
from kpi_cli.loading import load_source
from kpi_cli.money import fsum
from kpi_cli.options import RunOptions, calendar_of, check_choice, parse_duration_days
from kpi_cli.periods import RangeRequest, parse_as_of
from kpi_cli.registry import METRICS, Metric, resolve
from kpi_cli.revenue import cohorts
from kpi_cli.revenue.base import RevenueBase, build, shown_group
from kpi_cli.revenue.metrics import LTV_WINDOW, PER_YEAR, evaluate
from kpi_cli.revenue.prep import RevenueRules

# Engagement metrics that read account ids whatever --actor says.
ACCOUNT_METRICS = ("active_accounts", "w2wai", "w2wai_count", "pqls")
ALL_PERIODS = 10_000  # "--last" long enough to reach back to the data's start (clamped there)
LONG = ["metric", "period", "value", "numerator", "denominator", "complete"]


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
        return cls(options, settings, Dataset(settings, options.on_bad_rows))

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

    def engagement(self, roles: Roles, by: tuple[str, ...] = (), needs: frozenset[str] = ALL_PARTS
                   ) -> EngagementBase:
        """The engagement table for this run's range and actor."""
        v = self.settings.values
        cal = calendar_of(v)
        base = build_engagement(self.dataset, cal, self.options.range, parse_as_of(self.options.as_of, cal), roles,
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


def compute_run(metrics: str | list[str], run: Run) -> pl.DataFrame:
    """:func:`compute` on an already started run."""
    roles = Roles.from_table(run.settings.tables.get("events", {}))

    by = list(run.options.by)

    def available(m: Metric) -> bool:
        """What a group keeps: metrics whose sources exist and whose event roles are configured, and
        which fit the breakdown (per-feature metrics only with ``--by feature``, the others only without)."""
        have_sources = all(any(run.dataset.has(s) for s in need.split("|")) for need in m.sources)
        fits = ("features" in m.roles) == (by == ["feature"])
        return (have_sources and fits and roles.configured(m.roles)
                and all(run.settings.tables.get(t) for t in m.tables)
                and (m.id not in ACCOUNT_METRICS or has_accounts()))

    @functools.cache
    def has_accounts() -> bool:
        """Whether the events map a column to account_id (read from the header alone)."""
        src = load_source("events", run.settings, required=False)
        return src is not None and "account_id" in src.mapping

    ids = resolve(metrics, available)
    run.info["metrics"] = ids
    frames = []
    revenue_ids = [m for m in ids if METRICS[m].family == "revenue"]
    if revenue_ids:
        lookback = LTV_WINDOW if "ltv" in ids else 0
        if any(m in ids for m in ("nrr_ttm", "grr_ttm")):
            lookback = max(lookback, PER_YEAR[calendar_of(run.settings.values).grain])
        base = run.revenue(lookback)
        periods = base.grid.periods().select("idx", "period", "complete")
        for mid in revenue_ids:
            frames.append(evaluate(base, mid, run.metric_options).join(periods, on="idx", how="left")
                          .with_columns(pl.lit(mid).alias("metric")))
    engagement_ids = [m for m in ids if METRICS[m].family == "engagement"]
    if engagement_ids:
        features = by == ["feature"]
        grain = calendar_of(run.settings.values).grain
        ebase = run.engagement(roles, () if features else tuple(by),
                               parts_needed(engagement_ids, run.options.window, grain))
        accounts = [m for m in engagement_ids if m in ACCOUNT_METRICS]
        if accounts:
            require_accounts(run.dataset, accounts[0])
        periods = ebase.grid.periods().select("idx", "period", "complete")
        options: dict[str, object] = {"inactive_days": run.options.inactive_days,
                                      "pql": run.settings.tables.get("pql", {})}
        for mid in engagement_ids:
            rows = evaluate_engagement(ebase, mid, roles, run.options.window or "calendar", options)
            if ("feature" in rows.columns) != features:
                msg = (f"{mid} is reported per feature: add --by feature" if "feature" in rows.columns
                       else f"--by feature: {mid} has no per-feature breakdown")
                raise UsageError(msg)
            frames.append(rows.join(periods, on="idx", how="left").with_columns(pl.lit(mid).alias("metric")))
    order = {m: i for i, m in enumerate(ids)}
    out = pl.concat(frames, how="diagonal_relaxed").with_columns(
        pl.col("metric").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
    out = out.with_columns([shown_group(b) for b in by]).sort(["_order", "period", *by], nulls_last=True)
    return out.select("metric", "period", *by, "value", "numerator",
                      "denominator", pl.col("complete").cast(pl.Boolean))


def movements(data: str | Path | None = None, customers: bool = False, **kwargs: Any) -> pl.DataFrame:
    """The MRR roll-forward per period, or with ``customers`` one row per customer and movement."""
    return movements_run(Run.start(_options(data, kwargs)), customers=customers)


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


def cohort_run(run: Run, of: str = "customers", periods: int | None = None, criterion: str = "on",
               clock: str = "calendar") -> pl.DataFrame:
    """:func:`cohort` on an already started run."""
    if of in ("users", "accounts"):
        v = run.settings.values
        cal = calendar_of(v)
        roles = Roles.from_table(run.settings.tables.get("events", {}))
        return event_cohorts.table(run.dataset, cal, run.options.range, parse_as_of(run.options.as_of, cal), roles,
                                   of=of, criterion=criterion, clock=clock, periods=periods,
                                   identified_only=run.options.identified_only, exclusions=run.exclusions)
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


def lifecycle_run(run: Run) -> pl.DataFrame:
    """:func:`lifecycle` on an already started run."""
    return tables.lifecycle(run.engagement(Roles.from_table(run.settings.tables.get("events", {}))))


def stickiness(data: str | Path | None = None, **kwargs: Any) -> pl.DataFrame:
    """Histogram of actors by number of active days in each period."""
    return stickiness_run(Run.start(_options(data, kwargs)))


def stickiness_run(run: Run) -> pl.DataFrame:
    """:func:`stickiness` on an already started run."""
    return tables.stickiness(run.engagement(Roles.from_table(run.settings.tables.get("events", {}))))


def funnel(steps: list[str], data: str | Path | None = None, window: str = "14d", order: str = "loose",
           **kwargs: Any) -> pl.DataFrame:
    """Ordered conversion funnel over event names; entrants still inside their window are pending."""
    return funnel_run(Run.start(_options(data, kwargs)), steps, window=window, order=order)


def funnel_run(run: Run, steps: list[str], window: str = "14d", order: str = "loose") -> pl.DataFrame:
    """:func:`funnel` on an already started run."""
    cal = calendar_of(run.settings.values)
    window_us = int(parse_duration_days(window, "--window") * 86_400_000_000)
    return event_funnel.table(run.dataset, cal, run.options.range, parse_as_of(run.options.as_of, cal), steps,
                              window_us=window_us, order=order, actor=run.options.actor,
                              identified_only=run.options.identified_only, exclusions=run.exclusions)


def require_accounts(ds: Dataset, why: str) -> None:
    """A data error when the events have no column mapped to ``account_id``: without one, account
    metrics would be silently 0 (Amplitude exports keep accounts in ``groups``)."""
    src = ds.sources.get("events")
    if src is None or "account_id" in src.mapping:
        return
    found = ", ".join([*src.mapping.values(), *src.extra][:12])
    msg = f"events ({src.files[0]}): {why} needs account ids, and no column maps to account_id; found: {found}"
    raise DataError(msg, hint='map it in kpi.toml: [sources.events.columns] account_id = "<header>" '
                    '(Amplitude: "groups.<your group type>", Segment: "context_groupId")')


def parts_needed(ids: list[str], window: str | None, grain: str = "month") -> frozenset[str]:
    """Which optional parts of the engagement table the metrics ``ids`` read."""
    needs = {i for i in ids if window != "trailing" and off_grain(i, grain)}
    if any(i.startswith("session") or i.endswith("session_duration") for i in ids):
        needs.add("sessions")
    if window == "trailing":
        needs.add("trailing")
    elif any(i in ("wau_mau", "dau_wau") for i in ids):
        needs.add("shares")
    if any(METRICS[i].special for i in ids):  # signup, account and feature metrics read every event
        needs.update(("entrants", "counts"))
    columns = {c for i in ids for c in (METRICS[i].value, *(METRICS[i].ratio or ()))}
    if columns & {"logins", "key_actions", "invites", "active_accounts"}:
        needs.add("counts")
    return frozenset(needs)


def pql_list_run(run: Run) -> pl.DataFrame:
    """The accounts behind ``pqls``: ``period, account_id, active_users, key_actions, complete``."""
    roles = Roles.from_table(run.settings.tables.get("events", {}))
    base = run.engagement(roles)
    rows = pql_accounts(base, roles, {"pql": run.settings.tables.get("pql", {})})
    periods = base.grid.periods().select("idx", "period", "complete")
    return rows.join(periods, on="idx").select("period", "account_id", pl.col("active_users").cast(pl.Int64),
                                               pl.col("key_actions").cast(pl.Int64), "complete")
