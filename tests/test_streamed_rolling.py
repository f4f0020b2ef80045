"""Event cohorts of plain logs on the rolling clock and on the default range, streamed (issue 10).

Each case is computed both ways (``audit=True`` forces the full hygiene path) on logs with sign-ups later
than some of their actor's events, exact duplicates, DST days and null accounts; a hand-computed rolling
cohort pins the values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_streamed import _log

from kpi_cli import api
from kpi_cli.api import Run, _options
from kpi_cli.engagement import streamed as streaming
from kpi_cli.engagement import streamed_rolling


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "BATCH_ROWS", 256)


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The streamed passes that ran (the proof a case streamed)."""
    seen: list[str] = []
    for name in ("rolling_hits", "span"):
        real = getattr(streamed_rolling, name)

        def spy(*args, _real=real, _name=name, **kw):
            seen.append(_name)
            return _real(*args, **kw)

        monkeypatch.setattr(streamed_rolling, name, spy)
    return seen


def _write(folder: Path, signups: bool) -> Path:
    frame = _log(2_000, seed=13)
    if signups:
        frame = frame.with_columns(event=pl.when(pl.int_range(pl.len()) % 11 == 0).then(pl.lit("Signed Up"))
                                   .otherwise(pl.col("event")))
    frame.write_parquet(folder / "events.parquet", row_group_size=300)
    return folder


@pytest.mark.parametrize("kw", [
    {"of": "users", "period": "week", "clock": "rolling", "from_": "2024-01-01", "to": "2024-04-30"},
    {"of": "users", "period": "month", "clock": "rolling", "from_": "2024-01", "to": "2024-04",
     "tz": "America/New_York", "criterion": "on-or-after"},
    {"of": "accounts", "period": "week", "clock": "rolling", "from_": "2023-12-18", "to": "2024-04-30",
     "periods": 6},
    {"of": "users", "period": "week", "clock": "rolling"},  # the default range: from the first event's month
    {"of": "users", "period": "month"},  # the calendar clock on the default range
    {"of": "accounts", "period": "week", "last": 6, "as_of": "2024-01-20"},
    {"of": "users", "period": "week", "clock": "rolling", "last": 5, "as_of": "2024-01-25", "week_start": "sun"},
])
@pytest.mark.parametrize("signups", [False, True])
def test_equals_full_path(tmp_path: Path, passes: list[str], kw: dict, signups: bool) -> None:
    data = _write(tmp_path, signups)
    streamed, full = api.cohort(data=data, **kw), api.cohort(data=data, audit=True, **kw)
    assert streamed.height > 0
    assert_frame_equal(streamed, full)
    wanted = ({"rolling_hits"} if kw.get("clock") == "rolling" else set()) | (
        {"span"} if "from_" not in kw else set())
    assert wanted <= set(passes)
    run = Run.start(_options(data, {k: v for k, v in kw.items() if k not in ("of", "criterion", "clock", "periods")}))
    api.cohort_run(run, of=kw["of"], criterion=kw.get("criterion", "on"), clock=kw.get("clock", "calendar"))
    assert run.dataset.reports["events"].duplicates is None  # the streamed path ran


def test_hand_computed_rolling_weeks(tmp_path: Path, passes: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """u1 enters Wed 3 Jan 2024 12:00 and is back 6 days 23 h later (bucket 0) and 7 days later (bucket 1);
    u2 enters Mon 8 Jan 09:00 and is back 20 days later (bucket 2). Weeks start Mondays: u1's cohort is
    the week of 1 January, u2's that of 8 January. Cells: 1 Jan k0 1/1, k1 1/1, k2 0/1; 8 Jan k0 1/1,
    k1 0/1, k2 1/1. Slices of 2 rows, so u1's rows sit in two slices."""
    monkeypatch.setattr(streaming, "BATCH_ROWS", 2)
    t1, t2 = datetime(2024, 1, 3, 12, tzinfo=UTC), datetime(2024, 1, 8, 9, tzinfo=UTC)
    rows = [(t1, "u1"), (t1 + timedelta(days=6, hours=23), "u1"), (t2, "u2"), (t1 + timedelta(days=7), "u1"),
            (t2 + timedelta(days=20), "u2"), (datetime(2024, 2, 20, tzinfo=UTC), "u3")]
    pl.DataFrame([(t, "Page Viewed", u) for t, u in rows], orient="row", schema={
        "timestamp": pl.Datetime("us", "UTC"), "event": pl.String, "user_id": pl.String}).write_parquet(
        tmp_path / "events.parquet")
    out = api.cohort(data=tmp_path, of="users", period="week", clock="rolling", from_="2024-01-01",
                     to="2024-02-04", as_of="2024-03-01")
    assert "rolling_hits" in passes
    cells = {(str(r["cohort"]), r["period_index"]): (r["retained"], r["cohort_size"])
             for r in out.iter_rows(named=True) if r["cohort"] is not None}
    assert cells[("2024-01-01", 0)] == (1.0, 1.0)
    assert cells[("2024-01-01", 1)] == (1.0, 1.0)
    assert cells[("2024-01-08", 1)] == (0.0, 1.0)
    assert cells[("2024-01-08", 2)] == (1.0, 1.0)
    assert cells[("2024-01-01", 2)] == (0.0, 1.0)
    assert cells[("2024-01-08", 0)] == (1.0, 1.0)
