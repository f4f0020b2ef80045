"""Plain event logs (no event_id, no anonymous_id) are streamed as (day, actor) pairs (issue 10).

The streamed path must give exactly what the full hygiene path gives: ``audit=True`` (what ``-v``
sets) forces the full path, so every case below is computed both ways and compared, on logs with
the awkward parts a real export has: exact duplicate rows, bad rows, events around a DST change,
rows outside the range, accounts, inactive event names. A hand-computed case pins the values.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi_cli import api, compute
from kpi_cli.api import Run, _options
from kpi_cli.engagement import streamed as streaming
from kpi_cli.errors import BadRowsError

NAMES = ["Page Viewed", "Signed In", "Report Created", "Invite Sent", "Heartbeat"]


def _log(n: int = 3_000, seed: int = 7) -> pl.DataFrame:
    """A plain log over Jan–Apr 2024 with exact duplicates and rows around the US DST change (Mar 10)."""
    rng = random.Random(seed)
    start = datetime(2023, 12, 20, tzinfo=UTC)
    rows = []
    for _ in range(n):
        user = int(60 * rng.random() ** 2)
        if rng.random() < 0.3:  # near the New York spring-forward night and midnights around it
            at = datetime(2024, 3, 10, 4, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 48 * 60))
        else:
            at = start + timedelta(seconds=rng.randint(0, 130 * 86_400))
        rows.append((at, rng.choice(NAMES), f"u{user}", f"a{user % 7}" if user % 11 else None))
    rows += rows[:40]  # exact duplicates (a retried upload)
    rows.sort(key=lambda r: r[0])
    return pl.DataFrame(rows, schema={"timestamp": pl.Datetime("us", "UTC"), "event": pl.String,
                                      "user_id": pl.String, "account_id": pl.String}, orient="row")


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of 256 rows, so days straddle batches and their pairs must be made distinct again."""
    monkeypatch.setattr(streaming, "BATCH_ROWS", 256)


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    """The log as Parquet, in row groups of 500 rows (so batches and days straddle each other)."""
    _log().write_parquet(tmp_path / "events.parquet", row_group_size=500)
    return tmp_path


def _both(fn, data: Path, **kw):
    return fn(data=data, **kw), fn(data=data, audit=True, **kw)


CASES = [
    {"from_": "2024-01", "to": "2024-04"},
    {"from_": "2024-01", "to": "2024-04", "tz": "America/New_York"},
    {"from_": "2024-02-01", "to": "2024-04-30", "period": "week", "tz": "America/New_York"},
    {"from_": "2024-03-01", "to": "2024-03-31", "period": "day", "tz": "America/New_York"},
    {"from_": "2024-01", "to": "2024-04", "window": "trailing", "mau_days": 28},
    # Early in the range the trailing month reaches back before the grid (into December's events).
    {"from_": "2024-01-02", "to": "2024-01-12", "period": "day", "window": "trailing"},
    {"from_": "2024-01", "to": "2024-04", "actor": "account"},
    {"from_": "2024-01", "to": "2024-04", "week_start": "sun", "period": "week"},
    {"last": 2, "as_of": "2024-04-15"},
    {},
]


@pytest.mark.parametrize("kw", CASES)
def test_active_family_equals_full_path(plain: Path, kw: dict) -> None:
    metrics = "dau,wau,mau,dau_mau,active_users" + (",dau_wau,wau_mau" if kw.get("window") else "")
    streamed, full = _both(lambda **k: compute(metrics, **k), plain, **kw)
    assert streamed.height > 0
    assert_frame_equal(streamed, full)


@pytest.mark.parametrize("kw", CASES[:4] + CASES[5:7])
def test_lifecycle_and_stickiness_equal_full_path(plain: Path, kw: dict) -> None:
    kw = {k: v for k, v in kw.items() if k not in ("window", "mau_days")}
    for fn in (api.lifecycle, api.stickiness):
        streamed, full = _both(fn, plain, **kw)
        assert streamed.height > 0
        assert_frame_equal(streamed, full)


def test_inactive_events_are_left_out_alike(plain: Path) -> None:
    (plain / "kpi.toml").write_text('[events]\ninactive_events = ["Heartbeat"]\n')
    config = str(plain / "kpi.toml")
    streamed, full = _both(lambda **k: compute("dau,mau", **k), plain, from_="2024-01", to="2024-04", config=config)
    assert_frame_equal(streamed, full)
    everything = compute("mau", data=plain, from_="2024-01", to="2024-04")
    assert (streamed.filter(pl.col("metric") == "mau")["value"] <= everything["value"]).all()


def _report(data: Path, **kw) -> object:
    run = Run.start(_options(data, {"from_": "2024-01", "to": "2024-04", **kw}))
    api.compute_run("dau,mau", run)
    return run.dataset.reports["events"]


def test_streamed_run_reports_rows_and_leaves_duplicates_uncounted(plain: Path) -> None:
    streamed, full = _report(plain), _report(plain, audit=True)
    assert streamed.rows_read == full.rows_read == 3_040
    assert full.duplicates == 40
    assert streamed.duplicates is None
    assert streamed.used == 3_040
    assert full.used == 3_000


def test_bad_rows_are_found_on_every_row_alike(tmp_path: Path) -> None:
    frame = _log(400).with_columns(
        user_id=pl.when(pl.int_range(pl.len()) % 97 == 5).then(None).otherwise(pl.col("user_id")),
        event=pl.when(pl.int_range(pl.len()) % 89 == 3).then(pl.lit("")).otherwise(pl.col("event")))
    frame.write_parquet(tmp_path / "events.parquet", row_group_size=100)
    bad = 440 // 97 + 1 + 440 // 89 + 1 - 0  # rows 5, 102, … and 3, 92, … (no row is both)
    with pytest.raises(BadRowsError) as streamed_error:
        compute("dau", data=tmp_path, from_="2024-01", to="2024-04")
    with pytest.raises(BadRowsError) as full_error:
        compute("dau", data=tmp_path, from_="2024-01", to="2024-04", audit=True)
    assert streamed_error.value.total == full_error.value.total == bad
    streamed, full = (compute("dau,mau", data=tmp_path, from_="2024-01", to="2024-04", on_bad_rows="skip", **kw)
                      for kw in ({}, {"audit": True}))
    assert_frame_equal(streamed, full)
    assert _report(tmp_path, on_bad_rows="skip").rejected == bad


def test_csv_plain_log_streams_too(tmp_path: Path) -> None:
    frame = _log(800)
    frame.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")).write_csv(tmp_path / "events.csv")
    streamed, full = _both(lambda **k: compute("dau,mau,dau_mau", **k), tmp_path, from_="2024-01", to="2024-04")
    assert_frame_equal(streamed, full)
    assert _report(tmp_path).duplicates is None


def test_hand_computed_month(tmp_path: Path) -> None:
    """March 2024 (31 days): u1 on the 1st (twice, one an exact copy) and the 2nd, u2 on the 2nd,
    u3 at 23:59:59.999999 on the 31st; u4 at midnight April 1st is April's. Σ daily actives = 4,
    dau = 4 / 31, mau = 3, dau_mau = (4 / 31) / 3."""
    at = [datetime(2024, 3, 1, 9, tzinfo=UTC), datetime(2024, 3, 1, 9, tzinfo=UTC), datetime(2024, 3, 2, tzinfo=UTC),
          datetime(2024, 3, 2, 12, tzinfo=UTC), datetime(2024, 3, 31, 23, 59, 59, 999_999, tzinfo=UTC),
          datetime(2024, 4, 1, tzinfo=UTC)]
    pl.DataFrame({"timestamp": at, "event": ["Page Viewed"] * 6, "user_id": ["u1", "u1", "u1", "u2", "u3", "u4"]},
                 schema={"timestamp": pl.Datetime("us", "UTC"), "event": pl.String, "user_id": pl.String}
                 ).write_parquet(tmp_path / "events.parquet")
    out = compute("dau,mau,dau_mau", data=tmp_path, month="2024-03")
    values = dict(zip(out["metric"], out["value"], strict=True))
    assert values["dau"] == pytest.approx(4 / 31, rel=1e-12)
    assert values["mau"] == 3
    assert values["dau_mau"] == pytest.approx(4 / 31 / 3, rel=1e-12)
    assert _report(tmp_path).duplicates is None


def test_several_files_are_read_as_one_log(tmp_path: Path) -> None:
    """Slices of the scan run across file boundaries; bad-row lines name their own file."""
    frame = _log(900).with_columns(
        user_id=pl.when(pl.int_range(pl.len()) == 700).then(None).otherwise(pl.col("user_id")))
    (tmp_path / "events").mkdir()  # a folder of parts
    frame.head(500).write_parquet(tmp_path / "events" / "part_1.parquet", row_group_size=128)
    frame.tail(frame.height - 500).write_parquet(tmp_path / "events" / "part_2.parquet", row_group_size=128)
    streamed, full = (compute("dau,mau,wau", data=tmp_path, from_="2024-01", to="2024-04", on_bad_rows="skip", **kw)
                      for kw in ({}, {"audit": True}))
    assert_frame_equal(streamed, full)
    with pytest.raises(BadRowsError) as error:
        compute("dau", data=tmp_path, from_="2024-01", to="2024-04")
    assert error.value.total == 1
    assert "part_2.parquet" in " ".join(error.value.lines)


@pytest.mark.parametrize("kw", [
    {"of": "users", "period": "week", "from_": "2024-01-01", "to": "2024-04-30"},
    {"of": "users", "period": "month", "from_": "2024-01", "to": "2024-04", "tz": "America/New_York"},
    {"of": "accounts", "period": "week", "from_": "2023-12-18", "to": "2024-04-30", "criterion": "on-or-after"},
])
@pytest.mark.parametrize("signups", [False, True])
@pytest.mark.parametrize("config", ['inactive_events = ["Heartbeat"]', 'active_events = ["Report Created"]'])
def test_cohorts_equal_full_path(tmp_path: Path, kw: dict, signups: bool, config: str) -> None:
    """With active_events, a sign-up is no activity: period 0 needs an active event after it."""
    frame = _log(2_000)
    if signups:  # sign-ups later than some of their actor's events: the entry instant decides period 0
        frame = frame.with_columns(event=pl.when(pl.int_range(pl.len()) % 13 == 0).then(pl.lit("Signed Up"))
                                   .otherwise(pl.col("event")))
    frame.write_parquet(tmp_path / "events.parquet", row_group_size=300)
    (tmp_path / "kpi.toml").write_text(f"[events]\n{config}\n")
    kw = {**kw, "config": str(tmp_path / "kpi.toml")}
    streamed, full = api.cohort(data=tmp_path, **kw), api.cohort(data=tmp_path, audit=True, **kw)
    assert streamed.height > 0
    assert_frame_equal(streamed, full)
    run = Run.start(_options(tmp_path, {k: v for k, v in kw.items() if k not in ("of", "criterion")}))
    api.cohort_run(run, of=kw["of"], criterion=kw.get("criterion", "on"))
    assert run.dataset.reports["events"].duplicates is None  # the streamed path ran


def test_verbose_counts_exact_duplicates_through_the_full_path(tmp_path: Path, run) -> None:
    """``-v`` promises an exact-duplicate count: it takes the full path, whose answer is the same."""
    _log(500).write_parquet(tmp_path / "events.parquet")
    quiet = run("compute", "dau,mau", "--data", tmp_path, "--from", "2024-01", "--to", "2024-04", "-f", "csv")
    loud = run("compute", "dau,mau", "--data", tmp_path, "--from", "2024-01", "--to", "2024-04", "-f", "csv", "-v")
    assert quiet.exit_code == loud.exit_code == 0
    assert "events: 540 rows read, 40 exact duplicates dropped, 0 rejected, 500 used" in loud.stderr
    assert quiet.stdout == loud.stdout
