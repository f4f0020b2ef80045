"""reactivation_rate in one pass over (actor, period) pairs equals the period-by-period definition (issue 10).

The reference below is the definition read literally (it was the implementation until it proved to
cost periods × rows): for each requested period, each actor's last event before it, idle if that
was more than the idle span before the period's start, reactivated if active in the period; with
``--by`` the group of that last event.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi_cli import compute
from kpi_cli.engagement import metrics
from kpi_cli.engagement.groups import at_last
from kpi_cli.engagement.signups import DAY_US, _per_period


def _reference(base: Any, _roles: Any, _id: str, options: dict[str, Any]) -> pl.DataFrame:
    idle_us = int(float(options.get("inactive_days", 30)) * DAY_US)
    bounds = base.grid.frame()["b_us"].to_list()
    frames = [pl.DataFrame(schema={"who": base.events.schema["who"], **dict.fromkeys(base.keys, pl.String),
                                   "idx": pl.Int64, "hit": pl.Boolean})]
    for j in range(base.grid.first, base.grid.last + 1):
        start, stop = bounds[j], bounds[j + 1]
        last_before = base.events.filter(pl.col("ts") < start).group_by("who").agg(
            pl.col("ts").max().alias("t_last"), *[at_last(k) for k in base.keys])
        idle = last_before.filter(pl.col("t_last") < start - idle_us).select("who", *base.keys)
        back = base.events.filter(pl.col("ts") >= start, pl.col("ts") < stop)["who"].unique()
        frames.append(idle.with_columns(pl.lit(j, dtype=pl.Int64).alias("idx"),
                                        pl.col("who").is_in(back.implode()).alias("hit")))
    return _per_period(base, pl.concat(frames), pl.col("hit").sum(), pl.len(), tuple(base.keys))


def _log(seed: int) -> pl.DataFrame:
    """Actors with bursts of activity separated by idle spells of 0–90 days, a plan column to group by,
    some events exactly on month starts and exactly the idle span after an earlier event."""
    rng = random.Random(seed)
    rows = []
    for user in range(80):
        at = datetime(2023, 10, 1, tzinfo=UTC) + timedelta(hours=rng.randint(0, 24 * 60))
        for _ in range(rng.randint(1, 12)):
            rows.append((at, "Page Viewed", f"u{user}", rng.choice(["free", "pro", None])))
            step = rng.choice([timedelta(days=30), timedelta(days=rng.randint(0, 90)), timedelta(hours=5)])
            at = at + step
            if rng.random() < 0.1:
                at = at.replace(day=1, hour=0, minute=0, second=0)
    return pl.DataFrame(rows, schema={"timestamp": pl.Datetime("us", "UTC"), "event": pl.String,
                                      "user_id": pl.String, "plan": pl.String}, orient="row")


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("kw", [
    {"from_": "2023-11", "to": "2024-06"},
    {"from_": "2023-11", "to": "2024-06", "inactive_days": 7, "by": "plan"},
    {"from_": "2023-11-06", "to": "2024-03-31", "period": "week", "inactive_days": 14, "tz": "America/New_York"},
    {"from_": "2024-01", "to": "2024-04", "inactive_days": 30.5, "by": "plan", "period": "week"},
])
def test_equals_the_definition_period_by_period(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int,
                                                kw: dict) -> None:
    _log(seed).write_parquet(tmp_path / "events.parquet")
    fast = compute("reactivation_rate", data=tmp_path, **kw)
    monkeypatch.setitem(metrics.SPECIALS, "reactivation", _reference)
    slow = compute("reactivation_rate", data=tmp_path, **kw)
    assert fast["denominator"].sum() > 0
    assert fast["numerator"].sum() > 0
    assert_frame_equal(fast, slow)


def test_an_event_exactly_the_idle_span_before_the_start_is_not_idle(tmp_path: Path) -> None:
    """Idle means the last event is *more* than ``inactive_days`` before P's start: u1's last event at
    2023-02-01 00:00 minus 30 days is not idle on 1 February (not counted), u2's a microsecond earlier is."""
    start = datetime(2023, 2, 1, tzinfo=UTC)
    rows = [(start - timedelta(days=30), "u1"), (start - timedelta(days=30, microseconds=1), "u2"),
            (start + timedelta(days=3), "u1"), (start + timedelta(days=3), "u2")]
    pl.DataFrame([(t, "Page Viewed", u) for t, u in rows], orient="row", schema={
        "timestamp": pl.Datetime("us", "UTC"), "event": pl.String, "user_id": pl.String}).write_parquet(
        tmp_path / "events.parquet")
    out = compute("reactivation_rate", data=tmp_path, month="2023-02")
    assert out.select("numerator", "denominator", "value").row(0) == (1.0, 1.0, 1.0)
