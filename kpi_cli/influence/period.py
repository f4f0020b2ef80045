"""``kpi tree --level period``: a KPI's per-period changes against its influencers' (SPEC §3.5).

One compute run gives every series over the window and the period before it (the first change reads
it). Changes follow :mod:`kpi_cli.changes`; for lags 0–3 (influencer leading) the Spearman ρ of
(Δx_{t−k}, Δy_t), its Fisher-z interval, n and ``r_needed`` (Bonferroni over influencers × 4 lags);
one verdict per influencer in fixed words. Incomplete periods show in the change table but never
enter the statistics.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from kpi_cli.changes import change, change_unit
from kpi_cli.errors import UsageError
from kpi_cli.influence import stats
from kpi_cli.influence.mechanical import shared_base
from kpi_cli.influence.model import Change, Scatter, StatRow, TreeResult
from kpi_cli.registry import METRICS
from kpi_cli.summary.fmt import fmt_rho

if TYPE_CHECKING:
    import polars as pl

    from kpi_cli.api import Run

DEFAULT_INFLUENCERS = {
    "customer_churn_rate": ("key_actions_per_user", "session_minutes_per_user", "logins_per_user", "dau_mau"),
    "nps": ("ces", "tickets_per_user", "first_response_time"),
}
LAGS = (0, 1, 2, 3)
MIN_PAIRS = 10
WARN_PERIODS = 18
WINDOW = 24
# Metrics that are trailing averages: differencing them inflates false positives (research §3.2).
SMOOTHED = ("ltv", "nrr_ttm", "grr_ttm")
TRAILING = ("wau", "mau", "active_users", "dau_mau", "wau_mau", "dau_wau")  # under --window trailing


def smoothed(mid: str, window: str | None) -> str | None:
    """Why ``mid`` is a smoothed series (itself or a part of it), or None.

    Examples
    --------
    >>> smoothed("ltv_cac_ratio", None)
    'ltv_cac_ratio reads ltv, a trailing average'
    >>> smoothed("dau_mau", "trailing"), smoothed("dau_mau", None)
    ('dau_mau is a trailing window under --window trailing', None)
    """
    if mid in SMOOTHED:
        return f"{mid} is a trailing average"
    if window == "trailing" and mid in TRAILING:
        return f"{mid} is a trailing window under --window trailing"
    for part in METRICS[mid].of:
        pid = part.partition("@")[0]
        if smoothed(pid, window):
            return f"{mid} reads {pid}, a {'trailing average' if pid in SMOOTHED else 'trailing window'}"
    return None


def check_ids(run: Run, kpi: str, influencers: list[str], allow_smoothed: bool, kpi_only: bool = False) -> None:
    """Refuse unknown ids, the KPI among its influencers, and smoothed series (exit 2); ``kpi_only``
    checks the KPI alone."""
    from kpi_cli.registry import resolve

    for mid in (kpi, *influencers):
        if mid not in METRICS:
            resolve(mid)  # an unknown id: its usage error, with suggestions
            msg = f"kpi tree takes metric ids, not the group {mid!r}"
            raise UsageError(msg, hint="`kpi list` shows every metric id")
    if kpi_only:
        influencers = []
    elif kpi in influencers:
        msg = f"{kpi} is the KPI: it cannot also be one of its influencers"
        raise UsageError(msg)
    if not influencers and not kpi_only:
        msg = f"no influencers for {kpi}"
        raise UsageError(msg, hint="name them: --influencers a,b,c")
    if not allow_smoothed:
        for mid in (kpi, *influencers):
            why = smoothed(mid, run.options.window)
            if why:
                msg = (f"{why}: changes of smoothed series correlate by construction (one test on them "
                       "gives 17–34% false positives, not 5%)")
                raise UsageError(msg, hint="use the unsmoothed metric, or --allow-smoothed to read it anyway")


Series = dict[str, dict[date, tuple[float | None, bool, float | None, float | None]]]


SLACK = 3  # extra periods a "--last N" window reads, so N periods complete for every series remain


def series_run(run: Run, ids: list[str]) -> tuple[list[date], Series, int | None]:
    """The window's periods (oldest first), each metric's (value, complete, numerator, denominator) from
    the period before the window through its end, from one compute run, and N for ``--last N`` (the
    window then reads ``SLACK`` periods more, for :func:`complete_window` to end where every series is
    complete: the latest data end of one source is not the others')."""
    from kpi_cli.api import compute_run
    from kpi_cli.graph import Graph
    from kpi_cli.options import calendar_of
    from kpi_cli.periods import RangeRequest

    cal = calendar_of(run.settings.values)
    req = run.options.range
    if req.is_empty():
        req = RangeRequest(last=WINDOW)
        run.options = replace(run.options, range=req)
    size = req.last
    graph = Graph(run, ids)
    first, last = graph.first, graph.last
    if size is not None:
        first = cal.step(first, -SLACK)
    window = cal.starts(first, cal.step(last, 1))[:-1]
    run.options = replace(run.options, range=RangeRequest(from_=cal.step(first, -1).isoformat(),
                                                          to=last.isoformat()))
    return window, series_of(compute_run(ids, run), ids), size


def complete_window(window: list[date], values: Series, ids: list[str], size: int | None) -> list[date]:
    """The last ``size`` periods of ``window`` that end no later than the last period complete for every
    one of ``ids`` (all of ``window`` when ``size`` is None: a range the user named)."""
    if size is None:
        return window
    end = len(window)
    while end > 0 and not all(values[m].get(window[end - 1], (None, True))[1] for m in ids):
        end -= 1
    return window[max(0, end - size):end]


def series_of(df: pl.DataFrame, ids: list[str]) -> Series:
    """Long compute rows as metric → period → (value, complete, numerator, denominator); NaN as None."""
    out: Series = {m: {} for m in ids}
    for mid, period, value, complete, num, den in df.select(
            "metric", "period", "value", "complete", "numerator", "denominator").iter_rows():
        if mid in out:
            out[mid][period] = (_known(value), bool(complete), _known(num), _known(den))
    return out


def _known(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) else float(v)


def changes_of(mid: str, window: list[date], before: date,
               values: dict[date, tuple[float | None, bool, float | None, float | None]], unit: str) -> list[Change]:
    """The change table rows of one metric over the window."""
    cu = change_unit(unit)
    rows = []
    prev = values.get(before, (None,))[0]
    for p in window:
        v, complete = values.get(p, (None, True))[:2]
        rows.append(Change(mid, p, v, change(v, prev, unit), cu, complete))
        prev = v
    return rows


def lag_pairs(x: list[Change], y: list[Change], lag: int) -> list[tuple[date, float, float]]:
    """(period of Δy, Δx_{t−lag}, Δy_t) for every complete t whose two changes exist."""
    out = []
    for t in range(lag, len(y)):
        dx, dy = x[t - lag], y[t]
        if dx.change is None or dy.change is None or not dx.complete or not dy.complete:
            continue
        out.append((dy.period, dx.change, dy.change))
    return out


def verdict_of(kpi: str, influencer: str, rows: list[StatRow]) -> tuple[str | None, str]:
    """The influencer's verdict and its evidence, from its rows at every lag."""
    base = shared_base(kpi, influencer)
    tested = [r for r in rows if r.value is not None]
    if base is not None:
        return "mechanical", f"shares {base.partition('.')[2]} with {kpi} in the catalogue"
    if not tested:
        return None, rows[0].reason if rows else "no pairs"

    def evidence(r: StatRow) -> str:
        return f"lag {r.lag}, ρ = {fmt_rho(r.value)} [{fmt_rho(r.ci_low)}, {fmt_rho(r.ci_high)}], n = {r.n}"

    above = [r for r in tested if r.r_needed is not None and abs(r.value or 0) > r.r_needed]
    if above:
        best = max(above, key=lambda r: (abs(r.value or 0), -(r.lag or 0)))
        return ("moved together" if (best.value or 0) > 0 else "moved opposite"), evidence(best)
    excluding = [r for r in tested if r.ci_low is not None and r.ci_high is not None
                 and (r.ci_low > 0 or r.ci_high < 0)]
    if excluding:
        best = max(excluding, key=lambda r: (abs(r.value or 0), -(r.lag or 0)))
        return "possible, not reliable", evidence(best) + f"; |ρ| ≤ r_needed {best.r_needed:.2f}"
    widest = max(tested, key=lambda r: (r.n, -(r.lag or 0)))
    return ("no detectable relationship",
            f"at n = {widest.n} only |ρ| ≥ {widest.r_needed:.2f} would show" if widest.r_needed is not None else "")


def period_level(run: Run, kpi: str, influencers: list[str], method: str = "spearman") -> TreeResult:
    """Changes, lagged correlations and verdicts of ``influencers`` against ``kpi``."""
    from kpi_cli.influence.decompose import parts_of

    if method not in ("spearman", "pearson"):
        msg = f"--method {method!r} is not one of spearman, pearson"
        raise UsageError(msg)
    ids = [kpi, *influencers]
    window, values, size = series_run(run, [*ids, *(p for p in parts_of(kpi) if p not in ids)])
    return from_series(run, kpi, influencers, method, complete_window(window, values, ids, size), values)


def from_series(run: Run, kpi: str, influencers: list[str], method: str, window: list[date],
                values: Series) -> TreeResult:
    """:func:`period_level` on series already computed (``kpi report`` reuses its own run's)."""
    from kpi_cli.influence.decompose import decomposition
    from kpi_cli.options import calendar_of

    if not window:
        msg = "the range holds no period"
        raise UsageError(msg)
    ids = [kpi, *influencers]
    # A window reaching back before the data (24 quarters of two years' data) starts where the data does.
    while len(window) > 1 and all(values[m].get(window[0], (None,))[0] is None for m in ids):
        window = window[1:]
    cal = calendar_of(run.settings.values)
    before = cal.step(window[0], -1)
    table = {m: changes_of(m, window, before, values[m], METRICS[m].unit_for(run.options)) for m in ids}
    tests = len(influencers) * len(LAGS)
    y = table[kpi]
    rows: list[StatRow] = []
    verdicts: dict[str, tuple[str | None, str]] = {}
    scatters = []
    for infl in influencers:
        mine = []
        by_lag = {}
        for lag in LAGS:
            pairs = lag_pairs(table[infl], y, lag)
            by_lag[lag] = pairs
            n = len(pairs)
            need = stats.r_needed(n, tests)
            if n < MIN_PAIRS:
                mine.append(StatRow(kpi, infl, "period", lag, n, method, None, None, None, need, None, "",
                                    f"needs ≥ {MIN_PAIRS} pairs of changes, has {n}"))
                continue
            xs, ys = [p[1] for p in pairs], [p[2] for p in pairs]
            rho = stats.spearman(xs, ys) if method == "spearman" else stats.pearson(xs, ys)
            ci = stats.fisher_interval(rho, n, method=method) if rho is not None else None
            mine.append(StatRow(kpi, infl, "period", lag, n, method, rho, ci[0] if ci else None,
                                ci[1] if ci else None, need, None, "",
                                "" if rho is not None else "a series is constant over the window"))
        verdict, detail = verdict_of(kpi, infl, mine)
        verdicts[infl] = (verdict, detail)
        rows += [replace(r, verdict=None if r.value is None else verdict, detail=detail) for r in mine]
        tested = [r for r in mine if r.value is not None]
        if tested:
            best = max(tested, key=lambda r: (abs(r.value or 0), -(r.lag or 0)))
            lag = best.lag or 0
            scatters.append(Scatter(infl, lag, tuple(by_lag[lag]), best.value,
                                    (best.ci_low, best.ci_high) if best.ci_low is not None and best.ci_high
                                    is not None else None,
                                    change_unit(METRICS[infl].unit_for(run.options)),
                                    change_unit(METRICS[kpi].unit_for(run.options))))
    complete = sum(1 for c in y if c.complete)
    warnings = []
    if complete < WARN_PERIODS:
        need = rows[0].r_needed if rows else None
        shown = (f"at lag 0 only |ρ| above {need:.2f} would show" if need is not None
                 else f"too few for any correlation (it needs {MIN_PAIRS} pairs)")
        warnings.append(f"only {complete} complete period{'s' * (complete != 1)}: {shown}; "
                        f"{WARN_PERIODS} or more periods read better")
    changes = tuple(c for m in ids for c in table[m])
    return TreeResult(kpi, "period", complete, tuple(rows), changes, verdicts,
                      decomposition=decomposition(run, kpi, window, values), scatters=tuple(scatters),
                      warnings=tuple(warnings))
