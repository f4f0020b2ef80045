"""Event counts, active accounts and calendar windows of plain logs, streamed (issue 10).

Logins, key actions and invites count rows, so exact duplicates matter to them; active accounts and
WAU/MAU off their grain (and the calendar shares) read distinct pairs. Each streamed answer must be
the full hygiene path's (``audit=True`` forces that one), on logs with duplicates inside a slice and
across slices, rows that differ only in a column no metric reads, unsorted rows and DST days.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_streamed import CASES, _log

from kpi_cli import compute
from kpi_cli.engagement import streamed as streaming
from kpi_cli.engagement import streamed_counts
from kpi_cli.engagement.streamed_counts import shared_days

COUNTED = "active_accounts,logins_per_user,key_actions_per_user,invites_per_user"
WINDOWS = "wau,mau,dau_wau,wau_mau"
CONFIG = '[events]\nkey_actions = ["Report Created", "Invite Sent"]\n'


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices of 256 rows: days straddle slices, so duplicates do too."""
    monkeypatch.setattr(streaming, "BATCH_ROWS", 256)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the streamed counts ran (the proof that a case took the streamed path)."""
    seen: list[int] = []
    real = streamed_counts.table

    def spy(*args, **kw):
        seen.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(streamed_counts, "table", spy)
    return seen


def _write(frame: pl.DataFrame, folder: Path) -> Path:
    frame.write_parquet(folder / "events.parquet", row_group_size=500)
    (folder / "kpi.toml").write_text(CONFIG)
    return folder


def _both(metrics: str, data: Path, **kw) -> tuple[pl.DataFrame, pl.DataFrame]:
    config = str(data / "kpi.toml")
    return (compute(metrics, data=data, config=config, **kw),
            compute(metrics, data=data, config=config, audit=True, **kw))


@pytest.mark.parametrize("kw", [c for c in CASES if c.get("window") is None])
def test_counts_and_windows_equal_full_path(tmp_path: Path, calls: list[int], kw: dict) -> None:
    data = _write(_log(), tmp_path)
    streamed, full = _both(f"dau,{COUNTED},{WINDOWS}", data, **kw)
    assert calls  # the streamed counts ran
    assert streamed.filter(pl.col("metric") == "logins_per_user")["value"].drop_nulls().len() > 0
    assert_frame_equal(streamed, full)


def test_unsorted_log_with_an_extra_column(tmp_path: Path, calls: list[int]) -> None:
    """Shuffled rows (every day reaches every slice), and copies differing only in ``plan``: those are
    not duplicates, so they count; true copies do not."""
    log = _log(2_000, seed=3).with_columns(plan=pl.lit("pro"))
    near = log.head(60).with_columns(plan=pl.lit("free"))  # same instant, event and actor: another row
    frame = pl.concat([log, near, log.slice(100, 50)]).sample(fraction=1.0, shuffle=True, seed=5)
    data = _write(frame, tmp_path)
    for kw in ({"from_": "2024-01", "to": "2024-04"}, {"from_": "2024-01-01", "to": "2024-04-30", "period": "week"}):
        streamed, full = _both(f"{COUNTED},{WINDOWS}", data, **kw)
        assert_frame_equal(streamed, full)
    assert calls


def test_hand_computed_logins(tmp_path: Path, calls: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """Three users in March 2024 (UTC). u1: two logins, one of them uploaded three times (in three
    slices: rows 0, 3 and 6 of slices of 3 rows). u2: one login and a row equal to it but for the
    account (another row: it counts). u3: an invite only. Logins in March: u1 2 + u2 2 = 4; active
    users 3: logins per user 4 / 3; invites 1 / 3; active accounts a1, a2 = 2. February: u1's one
    login, 1 active user: 1.0; WAU at month grain: mean over the weeks starting in March."""
    at = datetime(2024, 3, 5, 9, tzinfo=UTC)
    login = (at, "Signed In", "u1", "a1")
    rows = [login, (at + timedelta(days=2), "Signed In", "u1", "a1"), (at, "Signed In", "u2", "a1"),
            login, (at, "Signed In", "u2", "a2"), (at + timedelta(days=9), "Invite Sent", "u3", None),
            login, (datetime(2024, 2, 20, tzinfo=UTC), "Signed In", "u1", "a1")]
    frame = pl.DataFrame(rows, schema={"timestamp": pl.Datetime("us", "UTC"), "event": pl.String,
                                       "user_id": pl.String, "account_id": pl.String}, orient="row")
    data = _write(frame, tmp_path)
    monkeypatch.setattr(streaming, "BATCH_ROWS", 3)
    out = compute("logins_per_user,invites_per_user,active_accounts,wau", data=data, config=str(data / "kpi.toml"),
                  from_="2024-02", to="2024-03")
    assert calls
    value = {(r["metric"], str(r["period"])[:7]): r["value"] for r in out.iter_rows(named=True)}
    assert value["logins_per_user", "2024-03"] == pytest.approx(4 / 3)
    assert value["invites_per_user", "2024-03"] == pytest.approx(1 / 3)
    assert value["active_accounts", "2024-03"] == 2
    assert value["logins_per_user", "2024-02"] == 1.0
    assert value["active_accounts", "2024-02"] == 1
    # Weeks starting in March 2024 (Mondays 4, 11, 18, 25): actives 2 (u1, u2), 1 (u3), 0, 0.
    assert value["wau", "2024-03"] == pytest.approx(3 / 4)
    # Weeks starting in February (5, 12, 19, 26): u1 in the week of the 19th alone.
    assert value["wau", "2024-02"] == pytest.approx(1 / 4)


def test_windows_past_the_grid_are_read_whole(tmp_path: Path, calls: list[int]) -> None:
    """WAU by day reads the week holding each day, past the range's end; MAU by week the month of its
    last day, before the range's start: the pairs must cover those days (the full path reads them)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    frame = _log(1_500, seed=11).filter(pl.col("timestamp") >= start)
    data = _write(frame, tmp_path)
    # By day to Wednesday 27 March: the week of the 25th runs to the 31st, past the grid's one day after.
    # By week from the 18th with a 7-day lookback: March starts before the grid, April ends after it.
    for kw in ({"from_": "2024-03-20", "to": "2024-03-27", "period": "day", "tz": "America/New_York"},
               {"from_": "2024-03-18", "to": "2024-04-21", "period": "week", "mau_days": 7}):
        streamed, full = _both("wau,mau,active_accounts", data, **kw)
        assert_frame_equal(streamed, full)
    assert calls


def test_shared_days_of_unsorted_and_empty_slices() -> None:
    bounds = [0, 10, 20, 30, 40]
    assert shared_days([(0, 9), (10, 19), (20, 39)], bounds) == []  # each day in one slice
    assert shared_days([(0, 35), (5, 12), (None, None)], bounds) == [0, 1]
    assert shared_days([(-5, 50), (-5, 50)], bounds) == [0, 1, 2, 3]  # before and after the days too
    rng = random.Random(1)
    for _ in range(50):
        spans = [tuple(sorted((rng.randint(-10, 50), rng.randint(-10, 50)))) for _ in range(4)]
        slow = [d for d in range(4) if sum(s <= bounds[d + 1] - 1 and e >= bounds[d] for s, e in spans) > 1]
        assert shared_days(spans, bounds) == slow  # type: ignore[arg-type]
