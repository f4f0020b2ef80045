"""``kpi tree --level account``: each account's influencer in P − 1 read against its churn in P (SPEC §3.5).

Aggregate changes give a few dozen points at most; accounts give hundreds, so real effects become
detectable (research §3.2, "Recommendation for kpi (`kpi tree`)" part B). Units are account-periods
paying at the start of P over the last ``last`` complete periods; the outcome is churned in P; the
predictor is the influencer the metric engine computes for that account (``--by account_id``) in P − 1.
Per influencer: churn rate by predictor quartile, and the AUC, the chance a retained account had more
of the influencer than a churned one (ties count half), with its DeLong interval. Choices the spec
leaves open are in docs/decisions/issue9-account.md.

Examples
--------
>>> idle_is_zero("logins_per_user"), idle_is_zero("first_response_time")
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from statistics import NormalDist

import polars as pl

from kpi_cli.api import Run, compute_run
from kpi_cli.errors import KpiError, UsageError
from kpi_cli.influence.mechanical import mechanical
from kpi_cli.influence.model import StatRow
from kpi_cli.influence.stats import auc, quartile_of
from kpi_cli.periods import RangeRequest
from kpi_cli.registry import METRICS

MIN_CHURNED = 20  # SPEC §3.5: null under 20 churn events
ALPHA = 0.05
EPS = 1e-9  # an MRR below this is zero (the roll-forward's own tolerance)


@dataclass(frozen=True)
class Units:
    """One influencer's account-periods: predictor and outcome, and how many were filled or left out."""

    predictors: list[float]
    churned: list[bool]
    zero: int = 0  # no activity in P − 1 (numerator 0, value undefined): predictor 0
    left_out: int = 0  # no value for the account in P − 1 (never in the events, or P − 1 incomplete)
    reason: str = ""  # why the influencer could not be computed per account at all


def require_sources(run: Run) -> None:
    """A usage error unless billing and events both exist (SPEC §3.5)."""
    ds = run.dataset
    if not ((ds.has("subscriptions") or ds.has("invoices")) and ds.has("events")):
        msg = "--level account needs billing and events"
        raise UsageError(msg, hint="add subscriptions.csv (or invoices) and events.csv, or use --level period")


def account_periods(run: Run, last: int) -> tuple[list[date], list[tuple[str, int, bool]]]:
    """Period starts and the account-periods paying at the start of P: ``(customer, P index, churned)``.

    P runs over the last ``last`` complete periods (each with a P − 1 in the grid). Paying at the start
    of P means MRR > 0 at the end of P − 1; churned means MRR 0 at the end of P, over every currency
    the customer bills in (a customer moving from one currency to another has not churned).
    """
    rev = Run(replace(run.options, by=(), range=RangeRequest(last=last)), run.settings, run.dataset)
    base = rev.revenue()
    grid = base.grid
    periods = grid.periods()
    complete = dict(zip(periods["idx"].to_list(), periods["complete"].to_list(), strict=True))
    wanted = [i for i in range(max(grid.first, 1), grid.last + 1) if complete.get(i)]
    wanted_set = set(wanted)
    if not wanted:
        return grid.starts, []
    # MRR at the end of each period per unit (customer, currency): the change points' b, carried forward.
    pts = base.points.select("customer_id", "currency", "idx", "b")
    units = pts.select("customer_id", "currency").unique()
    span = pl.DataFrame({"idx": list(range(wanted[0] - 1, wanted[-1] + 1))}, schema={"idx": pl.Int64})
    full = units.join(span, how="cross").join(pts, on=["customer_id", "currency", "idx"], how="full",
                                              coalesce=True)
    full = full.sort("customer_id", "currency", "idx").with_columns(
        pl.col("b").forward_fill().over("customer_id", "currency").fill_null(0.0))
    mrr = full.filter(pl.col("idx") >= wanted[0] - 1, pl.col("idx") <= wanted[-1]).group_by(
        "customer_id", "idx").agg((pl.col("b") > EPS).any().alias("paying"))
    state = {(c, i): p for c, i, p in mrr.iter_rows()}
    out = []
    for (customer, i), paying in sorted(state.items()):
        if paying and i + 1 in wanted_set:
            out.append((customer, i + 1, not state.get((customer, i + 1), False)))
    return grid.starts, out


def account_values(run: Run, influencers: list[str], first: date, last: date
                   ) -> tuple[dict[str, dict[tuple[str, date], tuple[float | None, float | None, bool]]],
                              dict[str, str]]:
    """Each influencer per account and period from ``first`` to ``last``: ``(value, numerator, complete)``.

    The metric engine computes them with ``--by account_id``, so an account's logins per user is the
    very metric ``kpi compute`` gives. An influencer the engine cannot compute per account gets a reason.
    """
    rng = RangeRequest(from_=first.isoformat(), to=last.isoformat())
    acc = Run(replace(run.options, by=("account_id",), range=rng), run.settings, run.dataset)
    reasons: dict[str, str] = {}
    try:
        frames = [compute_run(list(influencers), acc)]
    except KpiError:
        # One influencer that cannot be computed must not hide the others: ask for each on its own.
        frames = []
        for mid in influencers:
            try:
                frames.append(compute_run([mid], acc))
            except KpiError as e:
                reasons[mid] = e.message
    values: dict[str, dict[tuple[str, date], tuple[float | None, float | None, bool]]] = {
        m: {} for m in influencers}
    for frame in frames:
        if "account_id" not in frame.columns:
            continue
        for mid, period, account, value, numerator, done in frame.select(
                "metric", "period", "account_id", "value", "numerator", "complete").iter_rows():
            if mid in values and account is not None:
                values[mid][(account, period)] = (value, numerator, bool(done))
    for mid in influencers:
        if not values[mid] and mid not in reasons:
            reasons[mid] = f"{mid} is not computed per account (--by account_id gives no rows)"
    return values, reasons


def event_accounts(run: Run) -> set[str]:
    """Every account id in the events log (read after the engine has loaded it, so from its cache)."""
    events = run.dataset.load("events", required=False)
    if events is None or "account_id" not in events.columns:
        return set()
    return {a for a in events["account_id"].unique().to_list() if a is not None}


def idle_is_zero(mid: str) -> bool:
    """Whether an account with no active actors in a period has, in plain words, 0 of ``mid``.

    True for the per-active-actor rates and stickiness (``logins_per_user``, ``dau_mau``: x / active):
    no activity is the least activity there is. Not for durations or anything else, where "no value"
    is not a number (a first response time of 0 hours would be the best one).
    """
    m = METRICS.get(mid)
    return m is not None and m.family == "engagement" and m.ratio is not None and m.ratio[1] == "active"


def churn_units(run: Run, influencers: list[str], last: int = 24) -> dict[str, Units]:
    """Predictor (the influencer in P − 1) and outcome (churned in P) of every paying account-period.

    An account in the events log with no activity in P − 1 (0 actions / 0 active users) counts as 0
    for the per-active-actor rates (:func:`idle_is_zero`), the least activity there is. An account never
    in the events, a P − 1 the events do not cover to its end, or another undefined value (a duration
    with nothing to time) is left out and counted.
    """
    starts, periods = account_periods(run, last)
    if not periods:
        return {m: Units([], [], reason="no account was paying at the start of a complete period")
                for m in influencers}
    idxs = sorted({i for _, i, _ in periods})
    values, reasons = account_values(run, influencers, starts[idxs[0] - 1], starts[idxs[-1] - 1])
    known = event_accounts(run)
    out: dict[str, Units] = {}
    for mid in influencers:
        if mid in reasons:
            out[mid] = Units([], [], reason=reasons[mid])
            continue
        xs: list[float] = []
        ys: list[bool] = []
        zero = left_out = 0
        # The engine has a row for each account active in the range, each period; done[P − 1] is
        # whether the events cover P − 1 to its end.
        done = {p: c for (_, p), (_, _, c) in values[mid].items()}
        for customer, i, churned in periods:
            prev = starts[i - 1]
            value, numerator, _ = values[mid].get((customer, prev), (None, None, False))
            if not done.get(prev, False) or customer not in known:
                left_out += 1
                continue
            if value is None:
                if not idle_is_zero(mid) or (numerator is not None and abs(numerator) > EPS):
                    left_out += 1
                    continue
                value, zero = 0.0, zero + 1
            xs.append(float(value))
            ys.append(churned)
        out[mid] = Units(xs, ys, zero, left_out)
    return out


def churn_row(kpi: str, mid: str, units: Units, tests: int) -> StatRow:
    """The AUC row of one influencer, its verdict and its evidence in ``detail``."""
    n, churned = len(units.predictors), sum(units.churned)
    counts = f"n = {n} account-periods, {churned} churned"
    if units.zero:
        counts += f", {units.zero} with no activity in P − 1 counted as 0"
    if units.left_out:
        counts += f", {units.left_out} left out (no value in P − 1)"
    if units.reason:
        return StatRow(kpi, mid, "account", 1, 0, "auc", None, None, None, None, None, "", units.reason)
    if churned < MIN_CHURNED:
        reason = f"needs ≥ {MIN_CHURNED} churn events (found {churned})"
        return StatRow(kpi, mid, "account", 1, n, "auc", None, None, None, None, None, counts, reason)
    retained = [x for x, c in zip(units.predictors, units.churned, strict=True) if not c]
    lost = [x for x, c in zip(units.predictors, units.churned, strict=True) if c]
    result = auc(retained, lost)
    if result is None:  # every account-period churned: no retained side to compare with
        reason = "needs retained and churned account-periods"
        return StatRow(kpi, mid, "account", 1, n, "auc", None, None, None, None, None, counts, reason)
    value, lo, hi = result
    quartiles = quartile_of(units.predictors)
    parts = []
    for q in (1, 2, 3, 4):
        outcomes = [c for c, k in zip(units.churned, quartiles, strict=True) if k == q]
        if outcomes:  # a block of ties (often the idle accounts' zeros) fills one quartile, leaving others empty
            parts.append(f"Q{q} {sum(outcomes) / len(outcomes):.1%} ({sum(outcomes)}/{len(outcomes)})")
    ties = " (tied values share a quartile)" if len(parts) < 4 else ""
    detail = f"churn by quartile{ties} {' · '.join(parts)}; AUC {value:.2f} [{lo:.2f}, {hi:.2f}]; {counts}"
    z_adj = NormalDist().inv_cdf(1 - ALPHA / (2 * max(tests, 1)))
    wide = auc(retained, lost, z=z_adj)
    assert wide is not None  # both sides are non-empty, as for the 95% interval above
    verdict = churn_verdict(kpi, mid, (lo, hi), (wide[1], wide[2]))
    return StatRow(kpi, mid, "account", 1, n, "auc", value, lo, hi, None, verdict, detail, "")


def churn_verdict(kpi: str, mid: str, ci: tuple[float, float], adjusted: tuple[float, float]) -> str:
    """The verdict from the AUC's 95% interval and its Bonferroni-adjusted one (z at α / (2 · influencers)).

    AUC > 0.5 means retained accounts had more of the influencer: it moved opposite to churn.

    Examples
    --------
    >>> churn_verdict("customer_churn_rate", "logins_per_user", (0.62, 0.78), (0.60, 0.80))
    'moved opposite'
    >>> churn_verdict("customer_churn_rate", "logins_per_user", (0.40, 0.499), (0.39, 0.51))
    'possible, not reliable'
    """
    if mechanical(kpi, mid):
        return "mechanical"
    if adjusted[0] > 0.5 or adjusted[1] < 0.5:
        return "moved opposite" if adjusted[0] > 0.5 else "moved together"
    if ci[0] > 0.5 or ci[1] < 0.5:
        return "possible, not reliable"
    return "no detectable relationship"


def account_level(run: Run, kpi: str, influencers: list[str], last: int = 24
                  ) -> tuple[list[StatRow], dict[str, tuple[str | None, str]], list[str]]:
    """Stats rows, verdicts ``{influencer: (verdict, detail)}`` and warnings of ``kpi tree --level account``.

    Parameters
    ----------
    run
        The started run (its options give the data, calendar and ``--as-of``; its range is replaced).
    kpi
        ``customer_churn_rate`` (``nps``: respondents, in :mod:`kpi_cli.influence.respondents`).
    influencers
        Metric ids computed per account with ``--by account_id``.
    last
        Complete periods P in the window.
    """
    if kpi == "nps":  # respondents, not account-periods: surveys are needed, not billing and events
        from kpi_cli.influence.respondents import nps_account_level

        return nps_account_level(run, kpi, influencers, last)
    require_sources(run)
    if kpi != "customer_churn_rate":
        msg = f"--level account reads customer_churn_rate (or nps), not {kpi}"
        raise UsageError(msg, hint="use --level period for other KPIs")
    units = churn_units(run, influencers, last)
    rows = [churn_row(kpi, mid, units[mid], len(influencers)) for mid in influencers]
    verdicts = {r.influencer: (r.verdict, r.detail if r.verdict is not None or not r.reason else r.reason)
                for r in rows}
    warnings = [f"{mid}: no paying account matched an events account_id in P − 1 (account_id must equal "
                f"customer_id)" for mid in influencers
                if not units[mid].reason and units[mid].left_out and not units[mid].predictors]
    return rows, verdicts, warnings
