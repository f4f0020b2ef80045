"""NPS (with its margin), CSAT, CES and detractor recovery from a :class:`SurveyBase` (SPEC §3.4).

Every function returns rows keyed by ``_idx`` (the base's period index) and the group columns,
with ``value``, ``numerator``, ``denominator``; :func:`finish` lays them on the requested periods
(every period × every group seen, empty ones with zero counts and a null value).
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.money import fsum

if TYPE_CHECKING:
    from kpi_cli.surveys.base import SurveyBase

PROMOTER, DETRACTOR = 9, 6  # promoters score 9–10, detractors 0–6 (passives 7–8)
RECOVERED = 7  # a previous detractor who now scores 7 or more has recovered
Z95 = 1.96


def latest(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """One row per ``keys``: the latest by responded_at (a tie: the later line of the files)."""
    return frame.sort("_at", "_file", "_line").unique(keys, keep="last", maintain_order=True)


def finish(base: SurveyBase, dates: list[date], stats: pl.DataFrame, seen: pl.DataFrame,
           value: pl.Expr, numerator: pl.Expr, denominator: pl.Expr) -> pl.DataFrame:
    """Rows over ``dates`` × the groups in ``seen``: the shared rows shape (SPEC §4.1 via the graph).

    ``stats`` holds per ``_idx`` and group the columns the three expressions read; a period or group
    without any is filled with zeros first, so counts read 0 and the value (a ratio of them) null.
    """
    g = base.groups
    skeleton = base.periods(dates)
    if g:
        skeleton = skeleton.join(seen.select(g).unique(), how="cross")
    rows = skeleton.join(stats, on=["_idx", *g], how="left", nulls_equal=True)
    counts = [c for c in stats.columns if c not in ("_idx", *g)]
    rows = rows.with_columns(pl.col(c).fill_null(0) for c in counts)
    out = rows.select("period", *g, value.cast(pl.Float64).alias("value"),
                      numerator.cast(pl.Float64).alias("numerator"),
                      denominator.cast(pl.Float64).alias("denominator"), "complete")
    return out.sort("period", *g, nulls_last=True)


def ratio(a: str, b: str) -> pl.Expr:
    """``a / b``, null when ``b`` is 0 (SPEC §3)."""
    return pl.when(pl.col(b) != 0).then(pl.col(a) / pl.col(b)).otherwise(None)


# --- NPS ---------------------------------------------------------------------------------------
def respondent_units(base: SurveyBase) -> pl.DataFrame:
    """The nps responses that count: each respondent's latest in each period (and group).

    Columns ``_idx``, groups, ``_s`` (score), ``_w`` (weight 1) and ``_account``.
    """
    nps = base.responses.filter(pl.col("survey") == "nps")
    last = latest(nps, ["_idx", *base.groups, "_key"])
    return last.select("_idx", *base.groups, pl.col("score").cast(pl.Float64).alias("_s"),
                       pl.lit(1.0).alias("_w"), "_account")


def nps_stats(units: pl.DataFrame, groups: list[str]) -> pl.DataFrame:
    """Per period and group: ``n`` (units with weight), ``w`` = Σw, ``pw``/``dw`` promoters' and
    detractors' weight, ``w2`` = Σw² (for the effective sample size of a weighted NPS)."""
    w = pl.col("_w")
    counted = units.filter(w > 0)
    return counted.group_by("_idx", *groups).agg(
        pl.len().alias("n"), fsum(w).alias("w"),
        fsum(pl.when(pl.col("_s") >= PROMOTER).then(w).otherwise(0.0)).alias("pw"),
        fsum(pl.when(pl.col("_s") <= DETRACTOR).then(w).otherwise(0.0)).alias("dw"),
        fsum(w * w).alias("w2"))


def nps_rows(base: SurveyBase, dates: list[date], units: pl.DataFrame, seen: pl.DataFrame
             ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``nps`` and ``nps_moe`` rows from scored units (respondents or accounts, weighted or not).

    NPS = 100 × (pw − dw) / w; numerator = n × (pw − dw) / w (= promoters − detractors unweighted),
    denominator = n. Margin = 1.96 × 100 × √((p + d − (p − d)²) / n_eff), p = pw / w, d = dw / w,
    n_eff = w² / Σw² (= n unweighted).
    """
    stats = nps_stats(units, base.groups)
    n, w, pw, dw, w2 = (pl.col(c) for c in ("n", "w", "pw", "dw", "w2"))
    has = w > 0
    value = pl.when(has).then(100 * (pw - dw) / w)
    numerator = pl.when(has).then((pw - dw) * n / w).otherwise(0.0)
    nps = finish(base, dates, stats, seen, value, numerator, n)
    p, d = pw / w, dw / w
    n_eff = w * w / w2
    spread = (p + d - (p - d) ** 2).clip(lower_bound=0.0)  # never below 0 by more than float dust
    moe = pl.when(has).then(Z95 * 100 * (spread / n_eff).sqrt())
    margin = finish(base, dates, stats, seen, moe, pl.lit(None), pl.lit(None))
    return nps, margin


# --- CSAT and CES ------------------------------------------------------------------------------
def csat_rows(base: SurveyBase, dates: list[date], how: str = "share") -> pl.DataFrame:
    """CSAT per period: the share scoring 4–5 (Good for a binary answer), or with ``how="mean"`` the
    mean 1–5 score (binary answers have no 1–5 value: left out, counted at -v). Every response counts."""
    csat = base.responses.filter(pl.col("survey") == "csat")
    seen = csat
    if how == "mean":
        binary = csat.filter(pl.col("_binary")).height
        if binary:
            base.dataset.notes.append(f"csat --csat mean: {binary} Good/Bad answer{'s' * (binary != 1)} left out "
                                      "(a binary answer has no 1–5 score)")
        csat = csat.filter(~pl.col("_binary"))
        part = pl.col("score")
    else:
        part = pl.when(pl.col("_binary")).then(pl.col("score") == 1).otherwise(pl.col("score") >= 4)
    stats = csat.group_by("_idx", *base.groups).agg(part.cast(pl.Int64).sum().alias("num"), pl.len().alias("den"))
    return finish(base, dates, stats, seen, ratio("num", "den"), pl.col("num"), pl.col("den"))


def ces_rows(base: SurveyBase, dates: list[date]) -> pl.DataFrame:
    """CES per period: the mean score of every ces response (scale checked at load and build)."""
    ces = base.responses.filter(pl.col("survey") == "ces")
    stats = ces.group_by("_idx", *base.groups).agg(pl.col("score").sum().alias("num"), pl.len().alias("den"))
    return finish(base, dates, stats, ces, ratio("num", "den"), pl.col("num"), pl.col("den"))


# --- detractor recovery ------------------------------------------------------------------------
def slots(base: SurveyBase) -> pl.DataFrame:
    """nps responses with ``_slot`` (what "previous" steps over) and ``_row`` (the period reported in).

    Without waves both are the period. When any nps response carries a wave, waves are the slots:
    ordered by their first response (then name), each reported in the period of its first response;
    responses without a wave then take no part (counted at -v).
    """
    nps = base.responses.filter(pl.col("survey") == "nps")
    waved = nps.filter(pl.col("_wave").is_not_null())
    if waved.height == 0:
        return nps.with_columns(pl.col("_idx").alias("_slot"), pl.col("_idx").alias("_row"))
    if base.later.height:  # a wave is compared whole, including its answers after --to
        waved = pl.concat([waved, base.later.filter(pl.col("survey") == "nps", pl.col("_wave").is_not_null())])
    left = nps.height - waved.height
    if left:
        base.dataset.notes.append(f"detractor_recovery_rate: {left} nps response{'s' * (left != 1)} without a wave "
                                  "left out (the responses carry waves: waves are compared, not periods)")
    order = (waved.group_by("_wave").agg(pl.col("_at").min().alias("_first"), pl.col("_idx").min().alias("_row"))
             .sort("_first", "_wave").with_row_index("_slot").with_columns(pl.col("_slot").cast(pl.Int64)))
    return waved.join(order.select("_wave", "_slot", "_row"), on="_wave", how="left")


def recovery_rows(base: SurveyBase, dates: list[date]) -> pl.DataFrame:
    """detractor_recovery_rate: previous detractors who answered again and now score ≥ 7 / those who
    answered again. Matched on respondent id, else (either side without one) on lower-cased email."""
    g = base.groups
    nps = slots(base)
    last = latest(nps, ["_slot", *g, "_key"])
    prev = last.filter(pl.col("score") <= DETRACTOR).select(
        (pl.col("_slot") + 1).alias("_slot"), *g, pl.col("_key").alias("_pkey"), pl.col("_rid").alias("_prid"),
        "_email")
    cur = last.select("_slot", "_row", *g, pl.col("_key").alias("_ckey"), pl.col("_rid").alias("_crid"), "_email",
                      pl.col("score").alias("_now"), "_at", "_file", "_line")
    on = ["_slot", *g]
    by_id = (prev.filter(pl.col("_prid").is_not_null())
             .join(cur.filter(pl.col("_crid").is_not_null()), left_on=[*on, "_prid"], right_on=[*on, "_crid"],
                   how="inner", nulls_equal=True, suffix="_c"))
    pairs = by_id.select(*on, "_pkey", "_ckey", "_row", "_now")
    prev_left = prev.join(pairs, on=[*on, "_pkey"], how="anti", nulls_equal=True).filter(pl.col("_email").is_not_null())
    cur_left = cur.join(pairs, on=[*on, "_ckey"], how="anti", nulls_equal=True).filter(pl.col("_email").is_not_null())
    by_mail = (prev_left.join(cur_left, on=[*on, "_email"], how="inner", nulls_equal=True)
               .filter(pl.col("_prid").is_null() | pl.col("_crid").is_null()))
    # Several current responses under one address (with and without an id): the latest answers.
    by_mail = latest(by_mail, [*on, "_pkey"])
    matched = pl.concat([pairs, by_mail.select(pairs.columns)])
    stats = matched.group_by(pl.col("_row").alias("_idx"), *g).agg(
        (pl.col("_now") >= RECOVERED).cast(pl.Int64).sum().alias("num"), pl.len().alias("den"))
    return finish(base, dates, stats, nps, ratio("num", "den"), pl.col("num"), pl.col("den"))
