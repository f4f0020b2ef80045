"""``kpi_cli.locate.slot`` agrees with a binary search on every calendar, DST zones included."""

from __future__ import annotations

import random
from datetime import date

import polars as pl
import pytest

from kpi_cli.locate import slot
from kpi_cli.periods import WEEKDAYS, Calendar


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
                                "Asia/Kathmandu", "Pacific/Apia"])
@pytest.mark.parametrize("grain", ["day", "week", "month", "quarter", "year"])
def test_slot_matches_binary_search(tz: str, grain: str) -> None:
    cal = Calendar(grain, tz, WEEKDAYS[0])
    bounds = [cal.instant(d) for d in cal.starts(date(2010, 1, 1), date(2025, 1, 1))]
    rng = random.Random(f"{tz}{grain}")
    # Random instants around the span, and every boundary and the microsecond before it.
    ts = [rng.randint(bounds[0] - 10**11, bounds[-1] + 10**11) for _ in range(5000)]
    ts += bounds + [b - 1 for b in bounds]
    frame = pl.DataFrame({"ts": ts}, schema={"ts": pl.Int64})
    got = frame.select(slot(pl.col("ts"), bounds)).to_series()
    want = frame.select(pl.lit(pl.Series(bounds, dtype=pl.Int64)).search_sorted(pl.col("ts"), side="right")
                        .cast(pl.Int64) - 1).to_series()
    assert got.to_list() == want.to_list()


def test_slot_at_the_edges() -> None:
    frame = pl.DataFrame({"ts": [-5, 0, 9, 10, 19, 20, 99]}, schema={"ts": pl.Int64})
    assert frame.select(slot(pl.col("ts"), [0, 10, 20])).to_series().to_list() == [-1, 0, 0, 1, 1, 2, 2]
    assert frame.select(slot(pl.col("ts"), [5])).to_series().to_list() == [-1, -1, 0, 0, 0, 0, 0]
