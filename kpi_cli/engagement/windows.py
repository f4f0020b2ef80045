"""WAU and MAU off their own grain (SPEC §3.3): calendar weeks or months read against other periods.

At its own grain (``--period week`` for WAU, ``month`` for MAU) the window *is* the period and the
value is the period's distinct actors. At a coarser grain the value is the average, over the
calendar windows that start in P, of each window's distinct actors (as DAU averages days: a monthly
report's WAU is the average weekly count, never the month's count). At a finer grain it is the
calendar window that contains P's last day. Windows are whole, read from the full log, even where
they stick out of P.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, timedelta

import polars as pl

from kpi_cli.engagement.groups import groups_cross
from kpi_cli.locate import slot
from kpi_cli.periods import GRAINS, Calendar

OWN_GRAIN = {"wau": "week", "mau": "month"}


def off_grain(metric_id: str, grain: str) -> bool:
    """True when ``metric_id`` (wau, mau) is asked at another grain than its window's."""
    return metric_id in OWN_GRAIN and OWN_GRAIN[metric_id] != grain


def windows_of(starts: list[date], first: int, last: int, cal: Calendar, window: str) -> tuple[list[date], list[
        tuple[int, int]]]:
    """The calendar windows (``week``/``month``) that periods ``first..last`` read, and (period, window) pairs.

    Examples
    --------
    >>> cal = Calendar("month")
    >>> wins, pairs = windows_of([date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)], 1, 1, cal, "week")
    >>> [w.isoformat() for w in wins], pairs
    (['2024-02-05', '2024-02-12', '2024-02-19', '2024-02-26'], [(1, 0), (1, 1), (1, 2), (1, 3)])
    """
    wcal = Calendar(window, cal.tz, cal.week_start)
    coarser = GRAINS.index(cal.grain) > GRAINS.index(window)
    wanted: list[tuple[int, date]] = []
    for idx in range(first, last + 1):
        lo, hi = starts[idx], starts[idx + 1]
        if coarser:  # the windows starting in P
            w = wcal.floor(lo)
            w = w if w >= lo else wcal.step(w)
            while w < hi:
                wanted.append((idx, w))
                w = wcal.step(w)
        else:  # the window containing P's last day
            wanted.append((idx, wcal.floor(hi - timedelta(days=1))))
    wins = sorted({w for _, w in wanted})
    position = {w: i for i, w in enumerate(wins)}
    return wins, [(idx, position[w]) for idx, w in wanted]


def window_reach(starts: list[date], first: int, last: int, cal: Calendar, metric_id: str
                 ) -> tuple[date, date] | None:
    """The first and the end (exclusive) local day of the windows :func:`window_counts` reads."""
    wins, _ = windows_of(starts, first, last, cal, OWN_GRAIN[metric_id])
    if not wins:
        return None
    return wins[0], Calendar(OWN_GRAIN[metric_id], cal.tz, cal.week_start).step(wins[-1])


def window_counts(log: pl.DataFrame, starts: list[date], first: int, last: int, cal: Calendar, metric_id: str,
                  keys: list[str]) -> pl.DataFrame:
    """Per (group…,) period: ``metric_id`` (``wau``/``mau``) read from calendar windows, as a column
    of that name. ``log`` holds the active rows ``who, ts`` and the group columns."""
    window = OWN_GRAIN[metric_id]
    wins, pairs = windows_of(starts, first, last, cal, window)
    schema = {**dict.fromkeys(keys, pl.String), "idx": pl.Int64, metric_id: pl.Float64}
    if not wins:
        return pl.DataFrame(schema=schema)
    wcal = Calendar(window, cal.tz, cal.week_start)
    # Windows need not be adjacent (one per day of a daily report): each gets its own [start, end).
    begins = [cal.instant(w) for w in wins]
    ends = [cal.instant(wcal.step(w)) for w in wins]
    bounds = sorted({*begins, *ends})
    rows = log.filter(pl.col("ts") >= bounds[0], pl.col("ts") < bounds[-1]).with_columns(
        slot(pl.col("ts"), bounds).alias("_b"))
    # A boundary slot belongs to a window when it lies inside one (adjacent windows share edges).
    slot_window = {bisect_right(bounds, b) - 1: i for i, b in enumerate(begins)}
    lookup = pl.DataFrame({"_b": list(slot_window), "_w": list(slot_window.values())},
                          schema={"_b": pl.Int64, "_w": pl.Int64})
    counted = rows.join(lookup, on="_b").group_by(*keys, "_w").agg(pl.col("who").n_unique().alias("_n"))
    owner = pl.DataFrame({"idx": [p for p, _ in pairs], "_w": [w for _, w in pairs]},
                         schema={"idx": pl.Int64, "_w": pl.Int64})
    per = groups_cross(log, keys, owner).join(counted, on=[*keys, "_w"], how="left")
    # Sorted first so the mean adds the same numbers in the same order on every run.
    return per.sort(*keys, "idx", "_w").group_by(*keys, "idx", maintain_order=True).agg(
        pl.col("_n").fill_null(0).mean().cast(pl.Float64).alias(metric_id))
