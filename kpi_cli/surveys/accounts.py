"""NPS over accounts (``--nps-unit account``, ``--nps-weight mrr``) and ``nps_coverage_mrr`` (SPEC §3.4).

An account's MRR at the end of P comes from the revenue family's change points: per customer
and currency the native MRR holds from one change point to the next, and is converted at the
rate of P's end, exactly as the revenue roll-forward values its MRR stock.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.errors import UsageError
from kpi_cli.money import fsum
from kpi_cli.revenue.engine import UNIT
from kpi_cli.surveys.scores import finish, latest, ratio

if TYPE_CHECKING:
    from kpi_cli.revenue.base import RevenueBase
    from kpi_cli.surveys.base import SurveyBase

EPS = 1e-6  # the revenue engine's "equal" for money


def require_accounts(base: SurveyBase, why: str) -> None:
    """A usage error when the surveys source has no ``account_id`` column to tie responses to accounts."""
    frame = base.dataset.load("surveys")
    if frame is None or "account_id" not in frame.columns:
        msg = f"{why} needs account_id in surveys (the source has no such column)"
        raise UsageError(msg, hint='map it: [sources.surveys.columns] account_id = "<header>"')


def account_units(base: SurveyBase) -> pl.DataFrame:
    """Each account scored once per period (and group): the median of its respondents' latest nps
    scores (an even count: the mean of the middle two). Responses without an account are left out.

    Columns ``_idx``, groups, ``_account``, ``_s`` (median score), ``_w`` (weight 1).
    """
    g = base.groups
    nps = base.responses.filter(pl.col("survey") == "nps")
    # Responses without an account go before "latest" is taken: a respondent's latest answer for the
    # account is what the account's score reads, even when a later answer of theirs has no account.
    loose = nps.filter(pl.col("_account").is_null()).height
    if loose:
        base.dataset.notes.append(f"nps per account: {loose} response{'s' * (loose != 1)} without account_id "
                                  "left out")
    respondents = latest(nps.filter(pl.col("_account").is_not_null()), ["_idx", *g, "_account", "_key"])
    per_account = respondents.group_by("_idx", *g, "_account").agg(
        pl.col("score").cast(pl.Float64).median().alias("_s"))
    return per_account.with_columns(pl.lit(1.0).alias("_w"))


def weighted(units: pl.DataFrame, mrr: pl.DataFrame) -> pl.DataFrame:
    """Account units weighted by MRR at the end of their period (an account without MRR weighs 0)."""
    joined = units.drop("_w").join(mrr.select("_idx", "_account", pl.col("mrr").alias("_w")),
                                   on=["_idx", "_account"], how="left")
    return joined.with_columns(pl.col("_w").fill_null(0.0))


def account_mrr(rev: RevenueBase, base: SurveyBase, dates: list[date]) -> pl.DataFrame:
    """``_idx`` (on the survey grid), ``_account``, ``mrr``: each paying customer's MRR at the end of
    the periods ``dates``, in the reporting currency. A period outside the billing grid has none."""
    starts = rev.grid.starts
    wanted = {starts.index(d): base.starts.index(d) for d in dates if d in starts[:-1]}
    schema = {"_idx": pl.Int64, "_account": pl.String, "mrr": pl.Float64}
    if not wanted:
        return pl.DataFrame(schema=schema)
    lo, hi = min(wanted), max(wanted)
    unit = list(dict.fromkeys([*UNIT, *rev.groups]))  # the revenue engine's unit: customer, currency, groups
    points = rev.points.select(*unit, "idx", "b").sort(*unit, "idx")
    # Native MRR b holds from its change point up to the unit's next one.
    spans = points.with_columns(pl.col("idx").shift(-1).over(unit).fill_null(len(starts)).alias("next"))
    spans = spans.filter(pl.col("b") > EPS, pl.col("next") > lo, pl.col("idx") <= hi)
    held = spans.select("customer_id", "currency", "b",
                        pl.int_ranges(pl.max_horizontal("idx", pl.lit(lo)),
                                      pl.min_horizontal("next", pl.lit(hi + 1))).alias("idx")).explode("idx")
    held = held.filter(pl.col("idx").is_in(list(wanted))).with_columns(pl.col("idx").cast(pl.Int64))
    valued = held.join(rev.rates.select("currency", pl.col("idx").cast(pl.Int64), "rate"), on=["currency", "idx"],
                       how="left")
    per = valued.group_by("customer_id", "idx").agg(fsum(pl.col("b") * pl.col("rate")).alias("mrr"))
    return per.select(pl.col("idx").replace_strict(wanted, return_dtype=pl.Int64).alias("_idx"),
                      pl.col("customer_id").cast(pl.String).alias("_account"), "mrr").cast(schema)  # type: ignore[arg-type]


def coverage_rows(base: SurveyBase, dates: list[date], mrr: pl.DataFrame) -> pl.DataFrame:
    """nps_coverage_mrr: MRR of accounts with ≥ 1 nps response in P / MRR, per period and customers group.

    Groups come from ``customers`` (the same columns the revenue family splits by): an account's
    group is its customers row's value, blank when it has none.
    """
    g = base.groups
    frame = mrr
    if g:
        customers = base.dataset.load("customers", required=False)
        assert customers is not None
        attrs = customers.select(pl.col("customer_id").cast(pl.String).alias("_account"),
                                 *[pl.col(d).cast(pl.String) for d in g]).unique("_account", keep="first")
        frame = frame.join(attrs, on="_account", how="left")
    answered = (base.responses.filter(pl.col("survey") == "nps", pl.col("_account").is_not_null())
                .select("_idx", "_account").unique())
    frame = frame.join(answered.with_columns(pl.lit(True).alias("_answered")), on=["_idx", "_account"], how="left")
    stats = frame.group_by("_idx", *g).agg(
        fsum(pl.when(pl.col("_answered")).then(pl.col("mrr")).otherwise(0.0)).alias("num"),
        fsum(pl.col("mrr")).alias("den"))
    seen = frame.select(g) if g else frame
    return finish(base, dates, stats, seen, ratio("num", "den"), pl.col("num"), pl.col("den"))
