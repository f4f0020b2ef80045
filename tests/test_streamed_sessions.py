"""Sessions of a plain event log, streamed slice by slice with the open runs carried (issue 10).

Every case is computed both ways (``audit=True`` forces the full path) and must agree; a spy checks
the streamed path ran. Slices of 256 rows put session boundaries, long runs and the 24-hour cap
across slices; a shuffled log (nothing closes early) and a hand-computed actor pin the values.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_streamed import _log

from kpi_cli import compute
from kpi_cli.engagement import streamed, streamed_sessions

SESSION_IDS = "sessions_per_user,avg_session_duration,median_session_duration,session_minutes_per_user,dau,active_users"


@pytest.fixture(autouse=True)
def small_slices(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Slices of 256 rows; the list counts the streamed sessions passes."""
    monkeypatch.setattr(streamed, "BATCH_ROWS", 256)
    calls: list[int] = []
    real = streamed_sessions.table

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(streamed_sessions, "table", spy)
    return calls


def _long_runs(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` plus one user active every 20 minutes for 60 hours (one run, cut every 24 hours) and
    one whose events are 31 minutes apart (a session each, under the default 30-minute gap)."""
    t0 = datetime(2024, 2, 10, 7, tzinfo=UTC)
    extra = [(t0 + timedelta(minutes=20 * i), "Page Viewed", "u_long", "a1") for i in range(180)]
    extra += [(t0 + timedelta(minutes=31 * i), "Page Viewed", "u_gappy", None) for i in range(40)]
    more = pl.DataFrame(extra, schema=frame.schema, orient="row")
    return pl.concat([frame, more]).sort("timestamp")


@pytest.mark.parametrize("kw", [
    {"from_": "2024-01", "to": "2024-04"},
    {"from_": "2024-01", "to": "2024-04", "tz": "America/New_York"},
    {"from_": "2024-02-01", "to": "2024-04-30", "period": "week", "tz": "America/New_York"},
    {"from_": "2024-03-01", "to": "2024-03-31", "period": "day", "session_gap": "5m"},
    {"from_": "2024-01", "to": "2024-04", "session_gap": "2h"},
    {"from_": "2024-01", "to": "2024-04", "actor": "account"},
    # Local days in Los Angeles: the 60-hour run's 24-hour pieces start at 23:00 local, not at midnight.
    {"from_": "2024-02-12", "to": "2024-02-14", "period": "day", "tz": "America/Los_Angeles"},
])
@pytest.mark.parametrize("shuffled", [False, True])
def test_sessions_equal_full_path(tmp_path: Path, small_slices: list[int], kw: dict, shuffled: bool) -> None:
    frame = _long_runs(_log())
    if shuffled:  # every slice reaches back to the start: runs close only at the end
        frame = frame.sample(fraction=1.0, shuffle=True, seed=3)
    frame.write_parquet(tmp_path / "events.parquet", row_group_size=500)
    fast = compute(SESSION_IDS, data=tmp_path, **kw)
    assert small_slices == [1]
    full = compute(SESSION_IDS, data=tmp_path, audit=True, **kw)
    assert fast.filter(pl.col("metric") == "sessions_per_user")["numerator"].sum() > 40
    assert_frame_equal(fast, full, rel_tol=1e-12)


def test_a_log_with_session_ids_takes_the_full_path(tmp_path: Path, small_slices: list[int]) -> None:
    frame = _log().with_columns(session_id=pl.lit("s") + (pl.int_range(pl.len()) // 50).cast(pl.String))
    frame.write_parquet(tmp_path / "events.parquet")
    kw = {"from_": "2024-01", "to": "2024-04"}
    fast, full = compute(SESSION_IDS, data=tmp_path, **kw), compute(SESSION_IDS, data=tmp_path, audit=True, **kw)
    assert small_slices == []
    assert_frame_equal(fast, full)


def test_hand_computed_sessions(tmp_path: Path, small_slices: list[int]) -> None:
    """u1: 09:00, 09:20, 09:50 (one session, 50 min), 10:30 (40 min later: alone, 0 s), 23:50 and 00:10
    the next day (one session across midnight, 20 min); u2: 12:00 and 12:05 (5 min). March: 4 sessions
    of 2 users, 3000 + 0 + 1200 + 300 = 4500 s, median of 0, 300, 1200, 3000 = 750 s. Shuffled, in
    slices of 3 rows: the sessions straddle slices."""
    def at(day: int, hh: int, mm: int) -> datetime:
        return datetime(2024, 3, day, hh, mm, tzinfo=UTC)

    rows = [(at(4, 9, 0), "u1"), (at(4, 9, 20), "u1"), (at(4, 9, 50), "u1"), (at(4, 10, 30), "u1"),
            (at(5, 23, 50), "u1"), (at(6, 0, 10), "u1"), (at(7, 12, 0), "u2"), (at(7, 12, 5), "u2")]
    rng = random.Random(1)
    rng.shuffle(rows)
    frame = pl.DataFrame([(t, "Page Viewed", u, None) for t, u in rows], orient="row",
                         schema={"timestamp": pl.Datetime("us", "UTC"), "event": pl.String,
                                 "user_id": pl.String, "account_id": pl.String})
    frame.write_parquet(tmp_path / "events.parquet", row_group_size=3)
    streamed.BATCH_ROWS = 3  # the autouse fixture puts it back
    out = compute("sessions_per_user,avg_session_duration,median_session_duration", data=tmp_path, month="2024-03")
    assert small_slices == [1]
    values = dict(zip(out["metric"], out["value"], strict=True))
    assert values == {"sessions_per_user": 4 / 2, "avg_session_duration": 4500 / 4,
                      "median_session_duration": (300 + 1200) / 2}
