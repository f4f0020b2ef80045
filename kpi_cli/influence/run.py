"""``kpi tree`` end to end: check the ids, read the level asked, and give the result as rows."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from kpi_cli.errors import UsageError
from kpi_cli.influence.model import ACCOUNT_FOOTER, CHANGE_COLUMNS, STAT_COLUMNS, TreeResult
from kpi_cli.influence.period import DEFAULT_INFLUENCERS, check_ids, period_level, smoothed
from kpi_cli.registry import METRICS

if TYPE_CHECKING:
    import polars as pl

    from kpi_cli.api import Run

LEVELS = ("period", "account")


def influencers_for(kpi: str, given: str | list[str] | None) -> list[str]:
    """``given`` (ids, comma-separated or a list), else SPEC §3.5's defaults for ``kpi``.

    Examples
    --------
    >>> influencers_for("nps", None)
    ['ces', 'tickets_per_user', 'first_response_time']
    >>> influencers_for("mrr", "dau, mau")
    ['dau', 'mau']
    """
    if given:
        items = given.split(",") if isinstance(given, str) else [i for g in given for i in g.split(",")]
        return list(dict.fromkeys(i.strip() for i in items if i.strip()))
    if kpi not in DEFAULT_INFLUENCERS:
        msg = f"{kpi} has no default influencers"
        raise UsageError(msg, hint=f"name them: kpi tree {kpi} --influencers a,b,c")
    return list(DEFAULT_INFLUENCERS[kpi])


def tree_run(run: Run, kpi: str, influencers: str | list[str] | None = None, level: str = "period",
             allow_smoothed: bool = False, method: str = "spearman") -> TreeResult:
    """The :class:`~kpi_cli.influence.model.TreeResult` of ``kpi`` against its influencers."""
    from kpi_cli.api import availability

    kpi = kpi.strip()
    check_ids(run, kpi, [], allow_smoothed, kpi_only=True)  # a smoothed KPI is refused before anything else
    chosen = influencers_for(kpi, influencers)
    left_out = []
    if not influencers:  # SPEC's defaults: leave out, and name, the ones this data or config cannot compute
        available = availability(run)
        left_out = [m for m in chosen
                    if not available(m) or (not allow_smoothed and smoothed(m, run.options.window))]
        chosen = [m for m in chosen if m not in left_out]
        if not chosen:
            msg = f"none of {kpi}'s default influencers ({', '.join(left_out)}) can be computed on this data"
            raise UsageError(msg, hint=f"name some: kpi tree {kpi} --influencers a,b,c")
    if level not in LEVELS:
        msg = f"--level {level!r} is not one of period, account"
        raise UsageError(msg)
    if run.options.by:
        msg = "kpi tree reads the whole company: --by is not supported here"
        raise UsageError(msg)
    check_ids(run, kpi, chosen, allow_smoothed)
    notes = tuple(f"{m} left out: " + (f"{smoothed(m, run.options.window)} (--allow-smoothed reads it)"
                                        if smoothed(m, run.options.window) else
                                        f"{METRICS[m].label} cannot be computed on this data or config "
                                        f"(kpi compute {m} says why)") for m in left_out)
    with run.dataset.deferred():
        if level == "period":
            result = period_level(run, kpi, chosen, method)
        else:
            from kpi_cli.influence.account import account_level

            r = run.options.range
            if r.month or r.quarter or r.year or r.from_ or r.to:
                msg = "--level account reads the last N complete periods: give --last N, not a named range"
                raise UsageError(msg, hint=f"kpi tree {kpi} --level account --last 12")

            rows, verdicts, warnings = account_level(run, kpi, chosen, last=run.options.range.last or 24)
            result = TreeResult(kpi, "account", 0, tuple(rows), (), verdicts, warnings=tuple(warnings),
                                footer=ACCOUNT_FOOTER)
    return replace(result, warnings=(*notes, *result.warnings)) if notes else result


def stats_frame(result: TreeResult) -> pl.DataFrame:
    """The long rows: ``kpi, influencer, level, lag, n, method, value, ci_low, ci_high, r_needed, verdict,
    detail, reason``."""
    import polars as pl

    schema = {"kpi": pl.String, "influencer": pl.String, "level": pl.String, "lag": pl.Int64, "n": pl.Int64,
              "method": pl.String, "value": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
              "r_needed": pl.Float64, "verdict": pl.String, "detail": pl.String, "reason": pl.String}
    assert tuple(schema) == STAT_COLUMNS
    rows = [tuple(getattr(r, c) for c in STAT_COLUMNS) for r in result.stats]
    return pl.DataFrame(rows, schema=schema, orient="row")


def changes_frame(result: TreeResult) -> pl.DataFrame:
    """The change table: ``metric, period, value, change, change_unit, complete``."""
    import polars as pl

    schema = {"metric": pl.String, "period": pl.Date, "value": pl.Float64, "change": pl.Float64,
              "change_unit": pl.String, "complete": pl.Boolean}
    assert tuple(schema) == CHANGE_COLUMNS
    rows = [tuple(getattr(c, k) for k in CHANGE_COLUMNS) for c in result.changes]
    return pl.DataFrame(rows, schema=schema, orient="row")
