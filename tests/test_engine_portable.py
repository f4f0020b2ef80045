"""``--engine duckdb`` reads a plain Parquet log itself (issue 11): the same numbers as Polars.

Each case is computed on the default engine and on DuckDB, whose scan, row checks, local days and
per-period reduction run in DuckDB (a spy checks the portable path ran); bad rows are found, counted,
raised and rejected alike; a column the port cannot read is a usage error naming it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_streamed import CASES, _log

from kpi_cli import compute
from kpi_cli.api import Run, _options
from kpi_cli.engagement import portable
from kpi_cli.errors import BadRowsError, UsageError

ACTIVE = "dau,mau,dau_mau,active_users"


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    _log().write_parquet(tmp_path / "events.parquet", row_group_size=500)
    return tmp_path


@pytest.mark.parametrize("kw", CASES)
def test_active_family_equals_polars(plain: Path, spy: list[str], kw: dict) -> None:
    ids = {"week": "dau,wau,active_users", "day": "dau,active_users"}.get(kw.get("period", "month"), ACTIVE)
    if kw.get("window"):
        ids += ",dau_wau,wau_mau"
    fast = compute(ids, data=plain, **kw)
    duck = compute(ids, data=plain, engine="duckdb", **kw)
    assert spy == ["duckdb"]
    assert fast.height > 0
    assert_frame_equal(fast, duck)


def test_a_hand_computed_new_york_day(tmp_path: Path, spy: list[str]) -> None:
    """Around the spring-forward night in New York (2024-03-10: 23 hours long), UTC instants:
    u1 at 04:59 (Mar 9, 23:59 local), u1 and u2 at 05:00 (Mar 10, 00:00), u3 at 03:59 Mar 11 (Mar 10,
    23:59 EDT), u3 at 04:00 Mar 11 (Mar 11, 00:00 EDT). Local days: Mar 9 {u1}, Mar 10 {u1, u2, u3},
    Mar 11 {u3}."""
    stamps = ["2024-03-10T04:59:00", "2024-03-10T05:00:00", "2024-03-10T05:00:00", "2024-03-11T03:59:00",
              "2024-03-11T04:00:00"]
    frame = pl.DataFrame({"timestamp": stamps, "event": ["x"] * 5, "user_id": ["u1", "u1", "u2", "u3", "u3"]})
    frame = frame.with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
    frame.write_parquet(tmp_path / "events.parquet")
    out = compute("dau", data=tmp_path, from_="2024-03-09", to="2024-03-11", period="day", tz="America/New_York",
                  engine="duckdb")
    assert spy == ["duckdb"]
    assert out["value"].to_list() == [1.0, 3.0, 1.0]


def _bad_log(tmp_path: Path) -> Path:
    frame = _log(400).with_columns(
        user_id=pl.when(pl.int_range(pl.len()) % 97 == 5).then(None).otherwise(pl.col("user_id")),
        event=pl.when(pl.int_range(pl.len()) % 89 == 3).then(pl.lit("")).otherwise(pl.col("event")))
    frame.write_parquet(tmp_path / "events.parquet", row_group_size=100)
    return tmp_path


def test_bad_rows_are_raised_alike(tmp_path: Path, spy: list[str]) -> None:
    data = _bad_log(tmp_path)
    errors = []
    for engine in ("polars", "duckdb"):
        with pytest.raises(BadRowsError) as caught:
            compute("dau", data=data, from_="2024-01", to="2024-04", engine=engine)
        errors.append(caught.value)
    assert spy == ["duckdb"]
    assert errors[0].total == errors[1].total == 10
    assert str(errors[0]) == str(errors[1])


def test_bad_rows_are_skipped_and_rejected_alike(tmp_path: Path, spy: list[str]) -> None:
    data = _bad_log(tmp_path)
    runs = {}
    for engine in ("polars", "duckdb"):
        run = Run.start(_options(data, {"from_": "2024-01", "to": "2024-04", "on_bad_rows": "skip",
                                        "engine": engine}))
        from kpi_cli import api

        runs[engine] = (api.compute_run(ACTIVE, run), run.dataset.reports["events"], run.dataset.rejected)
    assert spy == ["duckdb"]
    (fast, fast_report, fast_rejects), (duck, duck_report, duck_rejects) = runs["polars"], runs["duckdb"]
    assert_frame_equal(fast, duck)
    assert (fast_report.rows_read, fast_report.rejected, fast_report.used) == (
        duck_report.rows_read, duck_report.rejected, duck_report.used) == (440, 10, 430)
    assert fast_report.reasons == duck_report.reasons
    assert_frame_equal(pl.concat(fast_rejects).sort("line"), pl.concat(duck_rejects).sort("line"))


def test_several_files_are_one_log(tmp_path: Path, spy: list[str]) -> None:
    log = _log()
    folder = tmp_path / "events"
    folder.mkdir()
    for i, part in enumerate(log.iter_slices(1_000)):
        part.write_parquet(folder / f"part-{i}.parquet")
    kw = {"from_": "2024-01", "to": "2024-04"}
    assert_frame_equal(compute(ACTIVE, data=tmp_path, **kw), compute(ACTIVE, data=tmp_path, engine="duckdb", **kw))
    assert spy == ["duckdb"]


def test_inactive_events_are_left_out_alike(plain: Path, spy: list[str]) -> None:
    (plain / "kpi.toml").write_text('[events]\ninactive_events = ["Heartbeat"]\n')
    kw = {"from_": "2024-01", "to": "2024-04", "config": str(plain / "kpi.toml")}
    fast, duck = compute(ACTIVE, data=plain, **kw), compute(ACTIVE, data=plain, engine="duckdb", **kw)
    assert spy == ["duckdb"]
    assert_frame_equal(fast, duck)
    assert fast.filter(pl.col("metric") == "active_users")["value"].sum() < compute(
        "active_users", data=plain, from_="2024-01", to="2024-04")["value"].sum()


def test_a_text_timestamp_is_refused_by_name(tmp_path: Path) -> None:
    _log().with_columns(pl.col("timestamp").dt.to_string()).write_parquet(tmp_path / "events.parquet")
    with pytest.raises(UsageError, match="timestamp is String in the Parquet file; --engine duckdb reads a Parquet "
                                         "timestamp column"):
        compute("dau", data=tmp_path, month="2024-02", engine="duckdb")
    assert compute("dau", data=tmp_path, month="2024-02").height == 1


@pytest.mark.parametrize("kw", [c for c in CASES if "window" not in c and "mau_days" not in c])
def test_lifecycle_and_stickiness_equal_polars(plain: Path, spy: list[str], kw: dict) -> None:
    from kpi_cli import api

    for table in (api.lifecycle, api.stickiness):
        spy.clear()
        fast, duck = table(data=plain, **kw), table(data=plain, engine="duckdb", **kw)
        assert spy == ["duckdb"]
        assert fast.height > 0
        assert_frame_equal(fast, duck)


def test_hand_computed_lifecycle(tmp_path: Path, spy: list[str]) -> None:
    """u1 active in Jan and Mar, u2 in Feb and Mar, u3 in Dec 2023 and Mar. March: new 0, returning 1 (u2),
    resurrecting 2 (u1, u3: seen before, not in Feb); February: new 1 (u2), dormant -1 (u1)."""
    stamps = {"u1": ["2024-01-05", "2024-03-02"], "u2": ["2024-02-10", "2024-03-03"],
              "u3": ["2023-12-20", "2024-03-09"]}
    rows = [(f"{d}T12:00:00", u) for u, ds in stamps.items() for d in ds]
    frame = pl.DataFrame(rows, schema=["timestamp", "user_id"], orient="row").with_columns(
        pl.col("timestamp").str.to_datetime(time_zone="UTC"), event=pl.lit("x"))
    frame.write_parquet(tmp_path / "events.parquet")
    from kpi_cli import api

    out = api.lifecycle(data=tmp_path, from_="2024-02", to="2024-03", engine="duckdb")
    assert spy == ["duckdb"]
    assert out.select("new", "returning", "resurrecting", "dormant").rows() == [(1, 0, 0, -1), (0, 1, 2, 0)]


@pytest.mark.parametrize("kw", [c for c in CASES if "window" not in c and "mau_days" not in c])
def test_the_portable_pipeline_on_polars_equals_the_streamed_path(plain: Path, spy: list[str],
                                                                  monkeypatch: pytest.MonkeyPatch, kw: dict) -> None:
    """The default engine's own fast path (streamed slices) and the portable pipeline run on the Polars
    engine give the same numbers and tables."""
    from kpi_cli import api

    ids = {"week": "dau,wau,active_users", "day": "dau,active_users"}.get(kw.get("period", "month"), ACTIVE)
    streamed = [compute(ids, data=plain, **kw), api.lifecycle(data=plain, **kw), api.stickiness(data=plain, **kw)]
    assert spy == []
    real = portable.applies

    def everywhere(ds, *, engine: str, **rest):
        return real(ds, engine="duckdb", **rest)  # the same conditions, on any engine

    monkeypatch.setattr(portable, "applies", everywhere)
    ported = [compute(ids, data=plain, **kw), api.lifecycle(data=plain, **kw), api.stickiness(data=plain, **kw)]
    assert spy == ["polars"] * 3
    for left, right in zip(streamed, ported, strict=True):
        assert_frame_equal(left, right)


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_hand_computed_trailing_week(tmp_path: Path, spy: list[str], engine: str) -> None:
    """u1 active on 1 March only, u2 on 8 March: the 7 days ending 8 March (2–8 March) hold u2 alone,
    the 30 days both. On 8 March: WAU 1, MAU 2, DAU/WAU 1, WAU/MAU 0.5."""
    frame = pl.DataFrame({"timestamp": ["2024-03-01T10:00:00", "2024-03-08T10:00:00"], "event": ["x", "x"],
                          "user_id": ["u1", "u2"]}).with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
    frame.write_parquet(tmp_path / "events.parquet")
    out = compute("wau,mau,dau_wau,wau_mau", data=tmp_path, from_="2024-03-08", to="2024-03-08", period="day",
                  window="trailing", engine=engine)
    assert spy == (["duckdb"] if engine == "duckdb" else [])
    assert dict(zip(out["metric"], out["value"], strict=True)) == {"wau": 1.0, "mau": 2.0, "dau_wau": 1.0,
                                                                   "wau_mau": 0.5}


FUNNEL_STEPS = ["Signed In", "Report Created"]
TABLES = [("cohort", {"of": "users", "period": "week", "from_": "2024-01", "to": "2024-04"}),
          ("funnel", {"steps": FUNNEL_STEPS, "from_": "2024-01", "to": "2024-04"})]


@pytest.mark.parametrize(("command", "kw"), TABLES)
def test_table_commands_settle_bad_rows_alike(tmp_path: Path, command: str, kw: dict) -> None:
    """Cohorts and funnels on the engine raise the log's bad rows as Polars does (they were silently left
    out), and under --on-bad-rows skip give the same table, counts and rejects."""
    from kpi_cli import api

    data = _bad_log(tmp_path)
    errors = []
    for engine in ("polars", "duckdb"):
        with pytest.raises(BadRowsError) as caught:
            getattr(api, command)(data=data, engine=engine, **kw)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    runs = {}
    for engine in ("polars", "duckdb"):
        run = Run.start(_options(data, {"on_bad_rows": "skip", "engine": engine,
                                        **{k: v for k, v in kw.items() if k in ("from_", "to", "period")}}))
        args = {k: v for k, v in kw.items() if k not in ("from_", "to", "period")}
        table = getattr(api, f"{command}_run")(run, **args)
        report = run.dataset.reports["events"]
        runs[engine] = (table, (report.rows_read, report.rejected, report.used, report.reasons),
                        pl.concat(run.dataset.rejected).sort("line"))
    assert_frame_equal(runs["polars"][0], runs["duckdb"][0])
    assert runs["polars"][1] == runs["duckdb"][1]
    assert runs["polars"][1][:3] == (440, 10, 430)  # 400 rows, 40 repeated; 10 bad
    assert_frame_equal(runs["polars"][2], runs["duckdb"][2])


def test_a_run_lets_go_of_what_the_engine_kept(plain: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a run keeps on DuckDB (a funnel's tables) is dropped when the run ends, also
    when it fails: one process runs many (a notebook, a test session), and Spark's cached frames, never let
    go, once filled its driver's heap. A second run after the first gives the same numbers."""
    from kpi_cli import api
    from kpi_cli.engines import engine_for

    engine = engine_for("duckdb")
    kept = [0]
    real = type(engine).keep
    fail = []

    def counted(self: object, frame: object) -> object:
        kept[0] += 1
        held = real(self, frame)  # type: ignore[arg-type]
        if fail:
            raise RuntimeError("late")
        return held

    monkeypatch.setattr(type(engine), "keep", counted)

    def tables() -> list[str]:
        return [r[0] for r in engine.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
                if r[0].startswith("_kpi_kept_")]

    def funnel() -> pl.DataFrame:
        return api.funnel(["Signed In", "Report Created"], data=plain, engine="duckdb", from_="2024-01", to="2024-03")

    first = funnel()
    # Kept: the funnel's rows, and the first instants and rows at them (portable_hygiene.earliest) of the
    # entries and of the one loose step: 1 + 2 + 2 tables ...
    assert kept == [5]
    assert tables() == []  # ... and dropped
    assert engine.held == []
    fail.append(True)  # a run that fails once it has kept a table
    with pytest.raises(RuntimeError, match="late"):
        funnel()
    assert tables() == []
    fail.clear()
    assert_frame_equal(funnel(), first)


def test_days_around_the_one_samoa_skipped(tmp_path: Path, spy: list[str]) -> None:
    """Pacific/Apia moved its clocks a whole day (30 December 2011 never happened there): each event's local
    day on DuckDB is the Polars one. By hand (zoneinfo): u1 at 09:00 UTC on 29 and 30 December is local 23:00
    (UTC-10) on the 28th and the 29th; u2 at 11:00 UTC on 30 December is 01:00 (UTC+14) on the 31st."""
    at = [datetime(2011, 12, 29, 9, tzinfo=UTC), datetime(2011, 12, 30, 9, tzinfo=UTC),
          datetime(2011, 12, 30, 11, tzinfo=UTC)]
    pl.DataFrame({"timestamp": at, "event": ["Viewed"] * 3, "user_id": ["u1", "u1", "u2"]}).write_parquet(
        tmp_path / "events.parquet")
    kw = {"data": tmp_path, "from_": "2011-12-27", "to": "2012-01-01", "period": "day", "tz": "Pacific/Apia"}
    fast, duck = compute("dau", **kw), compute("dau", engine="duckdb", **kw)
    assert spy == ["duckdb"]
    assert_frame_equal(fast, duck)
    days = {str(p): v for p, v in fast.select("period", "value").iter_rows()}
    assert (days["2011-12-28"], days["2011-12-29"], days["2011-12-31"]) == (1.0, 1.0, 1.0)
