"""Funnels of plain logs in actor buckets equal the full hygiene path (issue 10).

``audit=True`` forces the full path; buckets of 300 rows make several passes. Logs: exact duplicate rows
(the very next event of ``--order strict`` must not be a copy), rows tied at one instant across files,
a step repeating the step before, null accounts, bad rows, DST; every order, actor and range kind.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_streamed import _log

from kpi_cli import api
from kpi_cli.engagement import streamed_funnel
from kpi_cli.errors import BadRowsError, DataError

STEPS = ["Signed In", "Report Created", "Invite Sent"]


@pytest.fixture(autouse=True)
def small_buckets(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Buckets of 300 rows; returns the number of buckets each run made (the proof it ran bucketed)."""
    monkeypatch.setattr(streamed_funnel, "BUCKET_ROWS", 300)
    made: list[int] = []
    real = streamed_funnel.buckets

    def spy(*args, **kw):
        for frame in real(*args, **kw):
            made.append(frame.height)
            yield frame

    monkeypatch.setattr(streamed_funnel, "buckets", spy)
    return made


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("funnel_buckets")
    log = _log(2_500, seed=17)
    (folder / "events").mkdir()
    log.write_parquet(folder / "events" / "a.parquet", row_group_size=400)
    # Copies of some rows (duplicates across files) and rows tied with them but for the event.
    again = pl.concat([log.slice(500, 80), log.slice(900, 40).with_columns(event=pl.lit("Report Created"))])
    again.write_parquet(folder / "events" / "b.parquet")
    return folder


@pytest.mark.parametrize("kw", [
    {"order": "loose", "from_": "2024-01", "to": "2024-03"},
    {"order": "strict", "from_": "2024-01", "to": "2024-03", "window": "30d"},
    {"order": "any", "from_": "2024-02-01", "to": "2024-03-31", "window": "3d", "tz": "America/New_York"},
    {"order": "loose", "actor": "account", "from_": "2024-01", "to": "2024-04"},
    {"order": "strict", "actor": "account", "month": "2024-03", "window": "2d"},
    {"order": "loose", "last": 2, "as_of": "2024-04-20"},
    {"order": "loose"},
])
@pytest.mark.parametrize("steps", [STEPS, ["Signed In", "Signed In", "Report Created"]])
def test_equals_full_path(data: Path, small_buckets: list[int], kw: dict, steps: list[str]) -> None:
    bucketed = api.funnel(steps, data=data, **kw)
    assert len(small_buckets) > 3
    full = api.funnel(steps, data=data, audit=True, **kw)
    assert bucketed["actors"][0] > 0
    assert_frame_equal(bucketed, full)


@pytest.mark.parametrize("reread", [0, 100])
def test_temporary_files_and_rereads_agree(data: Path, small_buckets: list[int], monkeypatch: pytest.MonkeyPatch,
                                           reread: int) -> None:
    """Buckets split through temporary files (reread 0) and read from the log each (100) give the full path's."""
    monkeypatch.setattr(streamed_funnel, "REREAD_BUCKETS", reread)
    bucketed = api.funnel(STEPS, data=data, order="strict", from_="2024-01", to="2024-03")
    assert len(small_buckets) > 3
    assert_frame_equal(bucketed, api.funnel(STEPS, data=data, order="strict", from_="2024-01", to="2024-03",
                                            audit=True))


def test_missing_step_and_bad_rows_alike(tmp_path: Path) -> None:
    log = _log(900, seed=3).with_columns(
        event=pl.when(pl.int_range(pl.len()) % 97 == 4).then(pl.lit("")).otherwise(pl.col("event")))
    log.write_parquet(tmp_path / "events.parquet", row_group_size=200)
    with pytest.raises(DataError, match="'Nope' never occurs"):
        api.funnel(["Signed In", "Nope"], data=tmp_path, on_bad_rows="skip")
    with pytest.raises(BadRowsError) as bucketed:
        api.funnel(STEPS, data=tmp_path)
    with pytest.raises(BadRowsError) as full:
        api.funnel(STEPS, data=tmp_path, audit=True)
    assert bucketed.value.total == full.value.total == 900 // 97 + 1
    assert_frame_equal(api.funnel(STEPS, data=tmp_path, on_bad_rows="skip"),
                       api.funnel(STEPS, data=tmp_path, on_bad_rows="skip", audit=True))


def test_hand_computed_strict_with_a_copy(tmp_path: Path) -> None:
    """u1: Signed In, the same row again (an upload repeated), Report Created 5 minutes later: strict
    converts (the copy is no event of its own). u2: Signed In, Page Viewed, Report Created: strict does
    not. u3's later event closes both windows (14 days). Two entrants, one converts: 50 %, median 300 s."""
    t = datetime(2024, 3, 4, 9, tzinfo=UTC)
    rows = [(t, "Signed In", "u1"), (t, "Signed In", "u1"), (t + timedelta(minutes=5), "Report Created", "u1"),
            (t, "Signed In", "u2"), (t + timedelta(minutes=1), "Page Viewed", "u2"),
            (t + timedelta(minutes=2), "Report Created", "u2"), (t + timedelta(days=20), "Page Viewed", "u3")]
    pl.DataFrame(rows, orient="row", schema={"timestamp": pl.Datetime("us", "UTC"), "event": pl.String,
                                             "user_id": pl.String}).write_parquet(tmp_path / "events.parquet")
    out = api.funnel(["Signed In", "Report Created"], data=tmp_path, order="strict", month="2024-03",
                     as_of="2024-04-01")
    assert out.select("actors", "conversion", "median_time_to_convert").rows() == [(2, 1.0, None), (1, 0.5, 300.0)]
