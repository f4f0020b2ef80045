"""Event counts, active accounts, sessions, off-grain WAU/MAU and calendar shares of a plain Parquet log,
computed by the engine itself (issue 11): equal to the default Polars engine.

DuckDB here (``make test``); the same cases on local Spark are marked ``spark`` (``make test-spark``).
Logs: exact duplicates within and across files, rows differing only in an extra column, events tied at
one instant in two files (sessions must see one order), bad rows, DST days, accounts.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_streamed import _log

from kpi_cli import compute
from kpi_cli.engagement import portable_parts

METRICS = ("dau,wau,mau,dau_mau,wau_mau,dau_wau,active_accounts,logins_per_user,key_actions_per_user,"
           "invites_per_user,sessions_per_user,avg_session_duration,median_session_duration,session_minutes_per_user")
CONFIG = '[events]\nkey_actions = ["Report Created"]\n'
CASES = [
    {"from_": "2024-01", "to": "2024-04"},
    {"from_": "2024-02-01", "to": "2024-04-30", "period": "week", "tz": "America/New_York"},
    {"from_": "2024-03-01", "to": "2024-03-20", "period": "day", "tz": "America/New_York"},
    {"from_": "2024-01", "to": "2024-04", "actor": "account"},
    {"last": 2, "as_of": "2024-04-15"},
]


@pytest.fixture
def parts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The parts the engine computed (the proof the portable path ran)."""
    seen: list[str] = []
    for name in ("counts", "session_table", "window_tables"):
        real = getattr(portable_parts, name)

        def spy(*args, _real=real, _name=name, **kw):
            seen.append(_name)
            return _real(*args, **kw)

        monkeypatch.setattr(portable_parts, name, spy)
    return seen


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two files: the second repeats 60 rows of the first exactly (duplicates across files), and 40 with
    another ``plan`` (not duplicates), and holds events tied with the first's at one instant."""
    folder = tmp_path_factory.mktemp("portable_parts")
    log = _log(2_500, seed=21).with_columns(plan=pl.lit("pro"))
    (folder / "events").mkdir()
    log.write_parquet(folder / "events" / "a.parquet", row_group_size=400)
    tied = log.head(30).with_columns(event=pl.lit("Page Viewed"))
    again = pl.concat([log.slice(200, 60), log.slice(300, 40).with_columns(plan=pl.lit("free")), tied])
    again.write_parquet(folder / "events" / "b.parquet")
    (folder / "kpi.toml").write_text(CONFIG)
    return folder


def _both(data: Path, engine: str, metrics: str = METRICS, **kw) -> tuple[pl.DataFrame, pl.DataFrame]:
    config = str(data / "kpi.toml")
    return (compute(metrics, data=data, config=config, **kw),
            compute(metrics, data=data, config=config, engine=engine, **kw))


@pytest.mark.parametrize("kw", CASES)
def test_duckdb_equals_polars(data: Path, parts: list[str], kw: dict) -> None:
    polars, duck = _both(data, "duckdb", **kw)
    assert {"counts", "session_table", "window_tables"} <= set(parts)
    assert polars.filter(pl.col("metric") == "logins_per_user")["value"].drop_nulls().len() > 0
    assert_frame_equal(polars, duck, check_exact=False, rel_tol=1e-9)


def test_exact_duplicates_count_once_and_near_copies_twice(tmp_path: Path) -> None:
    """Hand-made: u1 signs in at one instant three times (one row, uploaded thrice: 1 login), u2 twice at
    one instant with another ``plan`` (2 logins). March 2024: 3 logins, 2 active users: 1.5."""
    rows = [("2024-03-04T10:00:00Z", "u1", "pro")] * 3 + [("2024-03-04T10:00:00Z", "u2", "pro"),
                                                          ("2024-03-04T10:00:00Z", "u2", "free")]
    frame = pl.DataFrame({"timestamp": [r[0] for r in rows], "event": ["Signed In"] * 5,
                          "user_id": [r[1] for r in rows], "plan": [r[2] for r in rows]})
    frame.with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC")).write_parquet(tmp_path / "events.parquet")
    out = compute("logins_per_user", data=tmp_path, month="2024-03", engine="duckdb")
    assert out.select("numerator", "denominator", "value").row(0) == (3.0, 2.0, 1.5)


def test_bad_rows_skipped_alike(tmp_path: Path) -> None:
    log = _log(600, seed=5).with_columns(
        user_id=pl.when(pl.int_range(pl.len()) % 41 == 3).then(None).otherwise(pl.col("user_id")))
    log.write_parquet(tmp_path / "events.parquet", row_group_size=200)
    (tmp_path / "kpi.toml").write_text(CONFIG)
    polars, duck = _both(tmp_path, "duckdb", from_="2024-01", to="2024-04", on_bad_rows="skip")
    assert_frame_equal(polars, duck, check_exact=False, rel_tol=1e-9)


@pytest.mark.spark
@pytest.mark.parametrize("kw", CASES[:3])
def test_spark_equals_polars(data: Path, parts: list[str], kw: dict) -> None:
    from kpi_cli import engines

    engines.configure_spark("local[2]", {"spark.sql.shuffle.partitions": "2"})
    polars, spark = _both(data, "spark", **kw)
    assert {"counts", "session_table", "window_tables"} <= set(parts)
    assert_frame_equal(polars, spark, check_exact=False, rel_tol=1e-9)
