"""Event cohorts of messy plain logs, streamed, against the full path on every clock and range (issue 10).

The log is two files, with tied instants (several actors and events at one microsecond), rows without
an account, exact copies, bad rows (an empty event name, a missing timestamp), events around the US DST
change, and optionally sign-ups later than some of their actor's events. Every clock × criterion × of ×
range kind (named, default, ``--last``) with and without ``--periods`` is computed both ways
(``audit=True`` forces the full hygiene path) and must be equal, bad-row counts, reasons and rejects too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_streamed import NAMES, _log

from kpi_cli import api
from kpi_cli.api import Run, _options
from kpi_cli.engagement import streamed as streaming
from kpi_cli.engagement import streamed_rolling
from kpi_cli.errors import BadRowsError

RANGES = {
    "named": {"from_": "2024-01-01", "to": "2024-04-30"},
    "default": {},
    "last": {"last": 5, "as_of": "2024-03-20", "tz": "America/New_York", "week_start": "sun"},
}


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "BATCH_ROWS", 200)


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The streamed passes that ran (the proof a case streamed)."""
    seen: list[str] = []
    for module, name in ((streamed_rolling, "rolling_hits"), (streamed_rolling, "span"),
                         (streaming, "cohort_inputs")):
        real = getattr(module, name)

        def spy(*args, _real=real, _name=name, **kw):
            seen.append(_name)
            return _real(*args, **kw)

        monkeypatch.setattr(module, name, spy)
    return seen


def _messy(folder: Path, *, signups: bool) -> Path:
    frame = _log(1_600, seed=29)
    # Late entrants (users and accounts first seen from mid-February), so every range has cohorts.
    late = [(datetime(2024, 2, 15, tzinfo=UTC) + timedelta(hours=29 * i), NAMES[i % len(NAMES)], f"late{i % 40}",
             f"b{i % 13}") for i in range(120)]
    frame = pl.concat([frame, pl.DataFrame(late, schema=frame.schema, orient="row")]).sort("timestamp",
                                                                                         maintain_order=True)
    n = pl.int_range(pl.len())
    # Ties: every 17th row takes the instant of the row before it (another actor, often another event).
    frame = frame.with_columns(timestamp=pl.when(n % 17 == 0).then(pl.col("timestamp").shift(1).fill_null(
        pl.col("timestamp"))).otherwise(pl.col("timestamp")))
    if signups:
        frame = frame.with_columns(event=pl.when(n % 11 == 0).then(pl.lit("Signed Up")).otherwise(pl.col("event")))
    # Bad rows: an empty event name, a missing timestamp.
    frame = frame.with_columns(event=pl.when(n % 173 == 9).then(pl.lit("")).otherwise(pl.col("event")),
                               timestamp=pl.when(n % 211 == 4).then(None).otherwise(pl.col("timestamp")))
    (folder / "events").mkdir()
    frame.head(700).write_parquet(folder / "events" / "part_1.parquet", row_group_size=128)
    frame.tail(frame.height - 700).write_parquet(folder / "events" / "part_2.parquet", row_group_size=128)
    return folder


@pytest.mark.parametrize("signups", [False, True])
@pytest.mark.parametrize("range_kind", list(RANGES))
@pytest.mark.parametrize("of", ["users", "accounts"])
@pytest.mark.parametrize("criterion", ["on", "on-or-after"])
@pytest.mark.parametrize("clock", ["calendar", "rolling"])
def test_messy_log_equals_full_path(tmp_path: Path, passes: list[str], clock: str, criterion: str, of: str,
                                    range_kind: str, signups: bool) -> None:
    data = _messy(tmp_path, signups=signups)
    kw = {"of": of, "period": "week", "clock": clock, "criterion": criterion, "on_bad_rows": "skip",
          "periods": 4 if of == "accounts" else None, **RANGES[range_kind]}
    streamed = api.cohort(data=data, **kw)
    ran = set(passes)
    full = api.cohort(data=data, audit=True, **kw)
    assert streamed.height > 0
    assert_frame_equal(streamed, full)
    assert "cohort_inputs" in ran
    assert ("rolling_hits" in ran) == (clock == "rolling")
    assert ("span" in ran) == (range_kind != "named")


def _rejects(data: Path, **kw) -> tuple[int, pl.DataFrame]:
    run = Run.start(_options(data, {"period": "week", "on_bad_rows": "skip", **kw}))
    api.cohort_run(run, of="users", clock="rolling")
    rejected = pl.concat(run.dataset.rejected).sort("source", "file", "line", "column")
    return run.dataset.reports["events"].rejected, rejected


@pytest.mark.parametrize("range_kw", [RANGES["named"], RANGES["default"]])
def test_bad_rows_raise_and_skip_alike(tmp_path: Path, range_kw: dict) -> None:
    data = _messy(tmp_path, signups=True)
    errors = []
    for audit in (False, True):
        with pytest.raises(BadRowsError) as error:
            api.cohort(data=data, of="users", period="week", clock="rolling", audit=audit, **range_kw)
        errors.append(error.value)
    # 1,760 rows: empty event names at 9, 182, … (11 rows), missing timestamps at 4, 215, … (9 rows), none both.
    assert errors[0].total == errors[1].total == 20
    assert sorted(errors[0].lines) == sorted(errors[1].lines)
    (n_streamed, streamed), (n_full, full) = _rejects(data, **range_kw), _rejects(data, audit=True, **range_kw)
    assert n_streamed == n_full == 20
    assert_frame_equal(streamed, full)


def test_a_signup_row_without_an_actor_makes_signups_the_entry(tmp_path: Path, passes: list[str]) -> None:
    """The one sign-up has a user but no account: by accounts no one enters (as on the full path: any good
    sign-up row makes sign-ups the entry), so there is no cohort; by users its user alone enters."""
    n = pl.int_range(pl.len())
    frame = _log(600, seed=5).with_columns(
        event=pl.when(n == 50).then(pl.lit("Signed Up")).otherwise(pl.col("event")),
        account_id=pl.when(n == 50).then(None).otherwise(pl.col("account_id")))
    frame.write_parquet(tmp_path / "events.parquet", row_group_size=100)
    kw = {"period": "week", "clock": "rolling", "from_": "2023-12-18", "to": "2024-04-30"}
    for of in ("accounts", "users"):
        streamed, full = api.cohort(data=tmp_path, of=of, **kw), api.cohort(data=tmp_path, of=of, audit=True, **kw)
        assert_frame_equal(streamed, full)
        assert "rolling_hits" in passes
        sizes = streamed.filter(pl.col("cohort_size") > 0)["cohort_size"].unique().to_list()
        assert sizes == ([] if of == "accounts" else [1.0])


def test_hand_computed_rolling_month_across_dst(tmp_path: Path, passes: list[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Rolling months are 30 days of 24 h from each user's own entry, whatever the clocks do.
    u1 enters Fri 1 Mar 2024 12:00 UTC (07:00 New York), is back 29 days 23 h 59 min later (bucket 0: the
    US spring-forward on 10 March does not shorten the 30 days) and 30 days later exactly (bucket 1);
    u2 enters 20 Mar 05:00 UTC (01:00 New York, March's cohort) and is back 61 days later (bucket 2).
    A tie: u3 enters at u1's entry instant, never back. March–May, so buckets
    0–2 are in range. March cohort, 3 users: k0 3/3 (everyone is active
    at entry), k1 1/3 (u1), k2 1/3 (u2). Slices of 2 rows split every user's rows."""
    monkeypatch.setattr(streaming, "BATCH_ROWS", 2)
    t1, t2 = datetime(2024, 3, 1, 12, tzinfo=UTC), datetime(2024, 3, 20, 5, tzinfo=UTC)
    rows = [(t1, "u1"), (t1, "u3"), (t2, "u2"), (t1 + timedelta(days=29, hours=23, minutes=59), "u1"),
            (t1 + timedelta(days=30), "u1"), (t2 + timedelta(days=61), "u2"), (datetime(2024, 7, 1, tzinfo=UTC), "u4")]
    pl.DataFrame([(t, "Page Viewed", u) for t, u in rows], orient="row", schema={
        "timestamp": pl.Datetime("us", "UTC"), "event": pl.String, "user_id": pl.String}).write_parquet(
        tmp_path / "events.parquet")
    out = api.cohort(data=tmp_path, of="users", period="month", clock="rolling", from_="2024-03", to="2024-05",
                     tz="America/New_York", as_of="2024-08-01")
    assert "rolling_hits" in passes
    cells = {r["period_index"]: (r["retained"], r["cohort_size"])
             for r in out.iter_rows(named=True) if str(r["cohort"]) == "2024-03-01"}
    assert cells[0] == (3.0, 3.0)
    assert cells[1] == (1.0, 3.0)
    assert cells[2] == (1.0, 3.0)
