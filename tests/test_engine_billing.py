"""``--engine duckdb`` reads typed Parquet subscriptions itself (issue 11): the same numbers as Polars.

The engine scans the billing files, drops exact copies, checks every row, flags overlaps, builds the
segments and their period indexes; a spy checks that path ran. A hand-worked two-file company: A pays
100 a month from 10 January; B a yearly 1,200 × 2 seats (200 a month) from 31 January, its interval
written " Yearly " and its plan " team "; C 30 a month from 31 January 12:00 with a 100 % coupon
``once`` (with ``--discounts all`` it covers one month: to 29 February 12:00, 2024 being a leap year);
D 50 a month from 20 January in a trial to 15 February; F 70 a month ``ON_HOLD``, mapped to paused
(worth nothing). Bad: a negative amount, a row overlapping A's open row, a blank customer id, a EUR row
(no fx rates), an end in 2300, a NaN quantity, a status no table maps; A's first row is repeated
exactly in the second file (one duplicate, not an overlap).

By hand, at each month's end: January A 100 + B 200 + C 30 = 330 (D in trial, F paused; with
``--discounts all`` C is 0: 300); February + D 50 = 380 (C back at 30 on the 29th at noon).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import narwhals as nw
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_engine_equality import assert_long_equal

from kpi_cli import api, compute
from kpi_cli.api import Run, _options
from kpi_cli.engines import engine_for
from kpi_cli.errors import BadRowsError
from kpi_cli.grid import Grid
from kpi_cli.periods import Calendar
from kpi_cli.revenue import portable_load, spans

COLUMNS = {"customer_id": pl.String, "subscription_id": pl.String, "item_id": pl.String,
           "start_at": pl.Datetime("us", "UTC"), "end_at": pl.Datetime("us", "UTC"), "amount": pl.Float64,
           "currency": pl.String, "interval": pl.String, "interval_count": pl.Int64, "quantity": pl.Float64,
           "status": pl.String, "trial_end_at": pl.Datetime("us", "UTC"), "discount_percent": pl.Float64,
           "discount_duration": pl.String, "plan": pl.String}
A = ["A", "a1", "i1", "2024-01-10T08:00", None, 100.0, "usd", "month", 1, 1.0, "active", None, None, None, "pro"]
FIRST = [
    A,
    ["B", "b1", "i2", "2024-01-31T00:00", None, 1200.0, "USD", " Yearly ", 1, 2.0, "active", None, None, None,
     " team "],
    ["C", "c1", "i3", "2024-01-31T12:00", None, 30.0, "USD", "month", 1, 1.0, "active", None, 100.0, "once", "pro"],
    ["D", "d1", "i4", "2024-01-20T00:00", None, 50.0, "USD", "month", 1, 1.0, "active", "2024-02-15T00:00", None,
     None, None],
    ["F", "f1", "i5", "2024-01-05T00:00", None, 70.0, "USD", "month", 1, 1.0, "ON_HOLD", None, None, None, "pro"],
    ["E", "e1", "i6", "2024-01-05T00:00", None, -5.0, "USD", "month", 1, 1.0, "active", None, None, None, "pro"],
]
SECOND = [
    A,
    ["A", "a1", "i1", "2024-03-01T00:00", None, 120.0, "USD", "month", 1, 1.0, "active", None, None, None, "pro"],
    ["  ", "x1", "i7", "2024-01-05T00:00", None, 10.0, "USD", "month", 1, 1.0, "active", None, None, None, "pro"],
    ["G", "g1", "i8", "2024-01-05T00:00", None, 40.0, "EUR", "month", 1, 1.0, "active", None, None, None, "pro"],
    ["H", "h1", "i9", "2024-01-05T00:00", "2300-01-01T00:00", 10.0, "USD", "month", 1, 1.0, "active", None, None,
     None, "pro"],
    ["J", "j1", "i10", "2024-01-05T00:00", None, 10.0, "USD", "month", 1, float("nan"), "active", None, None, None,
     "pro"],
    ["K", "k1", "i11", "2024-01-05T00:00", None, 10.0, "USD", "month", 1, 1.0, "weird", None, None, None, "pro"],
]
RANGE = {"from_": "2024-01", "to": "2024-04", "currency": "USD"}
REASONS = {"missing value": 1, "negative amount": 1, "not a finite number (NaN or infinity)": 1,
           "not between 1900 and 2200 (an epoch in another unit?)": 1,
           "overlaps an earlier row of the same subscription item": 1,
           'unknown status (map it: [sources.subscriptions.status] weird = "paused")': 1,
           "no fx rate for EUR → USD (there is no fx_rates source)": 1}


def _frame(rows: list[list[object]]) -> pl.DataFrame:
    stamped = [[datetime.fromisoformat(v).replace(tzinfo=UTC) if k.endswith("_at") and v else v
                for k, v in zip(COLUMNS, row, strict=True)] for row in rows]
    return pl.DataFrame(stamped, schema=COLUMNS, orient="row")


@pytest.fixture
def hand(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # its kpi.toml maps the status
    for key in list(os.environ):
        if key.startswith("KPI_"):
            monkeypatch.delenv(key)
    (tmp_path / "subscriptions").mkdir()
    _frame(FIRST).write_parquet(tmp_path / "subscriptions" / "part-1.parquet")
    _frame(SECOND).write_parquet(tmp_path / "subscriptions" / "part-2.parquet")
    (tmp_path / "kpi.toml").write_text('[sources.subscriptions.status]\non_hold = "paused"\n')
    return tmp_path


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The engines whose run read the billing files on the engine."""
    seen: list[str] = []
    load = portable_load.load

    def spied(engine: object, ds: object) -> object:
        seen.append(engine.name)  # type: ignore[attr-defined]
        return load(engine, ds)  # type: ignore[arg-type]

    monkeypatch.setattr(portable_load, "load", spied)
    return seen


def _run(data: Path, engine: str, **options: object) -> tuple[pl.DataFrame, Run]:
    run = Run.start(_options(data, {**RANGE, "on_bad_rows": "skip", "engine": engine, **options}))
    return api.compute_run("mrr,new_mrr,customers", run), run


def test_a_day_samoa_skipped(tmp_path: Path, spy: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """In Pacific/Apia, A pays 100 from June 2010, B 50 from 1 February 2012 (local): January's MRR is 100."""
    from zoneinfo import ZoneInfo

    monkeypatch.chdir(tmp_path)
    apia = ZoneInfo("Pacific/Apia")
    start = pl.Series([datetime(2010, 6, 5, tzinfo=apia), datetime(2012, 2, 1, tzinfo=apia)]).dt.convert_time_zone(
        "UTC")
    data = _one_row(tmp_path / "d", start, customer_id=["A", "B"], subscription_id=["a", "b"], amount=[100.0, 50.0])
    for engine in ("polars", "duckdb"):
        frame = compute("mrr", data=data, engine=engine, from_="2012-01", to="2012-02", tz="Pacific/Apia")
        assert frame["value"].to_list() == [100.0, 150.0], engine
    assert spy == ["duckdb"]


@pytest.mark.parametrize(("discounts", "january", "paying"), [("recurring", 330.0, 3.0), ("all", 300.0, 2.0)])
def test_hand_worked_mrr_on_the_engine(hand: Path, spy: list[str], discounts: str, january: float,
                                       paying: float) -> None:
    """C, fully discounted through January under ``--discounts all``, is no paying customer until February."""
    for engine in ("polars", "duckdb"):
        frame, _ = _run(hand, engine, discounts=discounts)
        mrr = frame.filter(pl.col("metric") == "mrr")["value"].to_list()
        assert mrr == [january, 380.0, 380.0, 380.0], engine
        assert frame.filter(pl.col("metric") == "customers")["value"].to_list() == [paying, 4.0, 4.0, 4.0]
        assert frame.filter(pl.col("metric") == "new_mrr")["value"].to_list() == [january, 380.0 - january, 0, 0]
    assert spy == ["duckdb"]


def test_bad_rows_and_copies_are_counted_alike(hand: Path, spy: list[str]) -> None:
    runs = {engine: _run(hand, engine) for engine in ("polars", "duckdb")}
    (fast, fast_run), (duck, duck_run) = runs["polars"], runs["duckdb"]
    assert spy == ["duckdb"]
    assert_frame_equal(fast, duck)
    reports = [r.dataset.reports["subscriptions"] for r in (fast_run, duck_run)]
    for report in reports:
        assert (report.rows_read, report.duplicates, report.rejected, report.used) == (13, 1, 7, 5)
        assert report.reasons == REASONS
    rejects = [pl.concat(r.dataset.rejected).sort("file", "line") for r in (fast_run, duck_run)]
    assert rejects[0].height == 7
    assert_frame_equal(rejects[0], rejects[1])


def test_bad_rows_are_raised_alike(hand: Path, spy: list[str]) -> None:
    errors = []
    for engine in ("polars", "duckdb"):
        with pytest.raises(BadRowsError) as caught:
            compute("mrr", data=hand, engine=engine, **RANGE)
        errors.append(caught.value)
    assert spy == ["duckdb"]
    assert errors[0].total == errors[1].total == 7
    assert str(errors[0]) == str(errors[1])


@pytest.mark.parametrize("options", [{}, {"by": "plan"}, {"churn_at": "cancel", "discounts": "all"},
                                     {"period": "week", "from_": "2024-01-29", "to": "2024-03-25"},
                                     {"tz": "America/New_York"}], ids=str)
def test_every_revenue_metric_equals_polars(hand: Path, spy: list[str], options: dict[str, object]) -> None:
    kwargs = {**RANGE, "on_bad_rows": "skip", **options}
    left, right = (compute("revenue", data=hand, engine=engine, **kwargs) for engine in ("polars", "duckdb"))
    assert_long_equal(left, right, ["plan"] if "by" in options else [])
    assert spy == ["duckdb"]


def test_a_csv_or_preset_export_keeps_the_polars_load(hand: Path, spy: list[str]) -> None:
    """CSV is read by Polars (the engines read typed Parquet), with the same result."""
    frame = pl.concat([_frame(FIRST), _frame(SECOND)])
    folder = hand / "csv"
    folder.mkdir()
    frame.write_csv(folder / "subscriptions.csv")
    (folder / "kpi.toml").write_text((hand / "kpi.toml").read_text())
    parquet = compute("mrr", data=hand, engine="duckdb", on_bad_rows="skip", **RANGE)
    text = compute("mrr", data=folder, engine="duckdb", on_bad_rows="skip", **RANGE)
    assert spy == ["duckdb"]  # the Parquet run only
    assert_frame_equal(parquet, text)


def test_items_and_segments_come_back_for_the_metrics_that_read_them(hand: Path, spy: list[str]) -> None:
    """trial_conversion_rate reads the items, arpa-like per-customer metrics the segments: collected from
    the engine on first use, with the Polars load's _file and _line."""
    held = {}
    for engine in ("polars", "duckdb"):
        run = Run.start(_options(hand, {**RANGE, "on_bad_rows": "skip", "engine": engine}))
        with run.dataset.deferred():  # what the engine keeps lives as long as the run
            api.compute_run("mrr", run)
            base = run.info["graph"].base("revenue")
            held[engine] = (base.items, base.segments)
    (items, segments), (duck_items, duck_segments) = held["polars"], held["duckdb"]
    key = ["_file", "_line"]
    assert items.height == 5  # the good rows, less the EUR one (no rate)
    assert_frame_equal(items.sort(key), duck_items.select(items.columns).sort(key), check_dtypes=False)
    seg_key = ["customer_id", "start_us"]
    assert_frame_equal(segments.sort(seg_key), duck_segments.sort(seg_key))


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Pacific/Apia", "Australia/Lord_Howe"])
@pytest.mark.parametrize("grain", ["day", "month", "week", "quarter"])
def test_period_index_on_the_engine_is_the_binary_search(tz: str, grain: str) -> None:
    """Every boundary instant, a microsecond either side, instants before and after the grid, and the open
    end: DuckDB's period index equals Polars' ``search_sorted``. Samoa (Pacific/Apia) skipped 30 December
    2011, moving its clocks a whole day: a guess by whole UTC days was then two off (found in review:
    January 2012 MRR 150 on DuckDB, 100 on Polars); Lord Howe Island moves by half an hour."""
    found, expected, n = period_indexes_on("duckdb", tz, grain)
    assert found == expected
    assert set(found) >= {-1, n}


def period_indexes_on(name: str, tz: str, grain: str) -> tuple[list[int], list[int], int]:
    """The engine's period index of every test instant, ``search_sorted``'s, and the last index + 1."""
    from datetime import date

    cal = Calendar(grain, tz, "mon")
    starts = cal.starts(cal.floor(date(2011, 11, 20)), cal.floor(date(2012, 3, 1)))
    grid = Grid(cal, starts, 1, len(starts) - 2, 0)
    bounds = grid.frame()["b_us"]
    hours = range(bounds[0], bounds[len(bounds) - 1], 3_600_000_000)  # every hour of the grid too
    points = sorted({b + d for b in bounds.to_list() for d in (-1, 0, 1)} | set(hours) | {bounds[0] - 10**12, 2**62})
    frame = pl.DataFrame({"t": points}, schema={"t": pl.Int64})
    expected = frame.select((pl.lit(bounds).search_sorted(pl.col("t"), side="right").cast(pl.Int64) - 1).alias("i"))
    engine = engine_for(name)
    found = engine.collect(spans.period_index(engine, engine.table(frame), grid, {"t": "i"}).select("t", "i"))
    return found.sort("t")["i"].to_list(), expected["i"].to_list(), len(starts) - 1


def test_once_reach_moves_the_calendar_month_on_each_engine() -> None:
    """31 January + 1 month is 29 February (2024), + 1 quarter 30 April; a week is 7 days."""
    jan31 = int(datetime(2024, 1, 31, 12, tzinfo=UTC).timestamp() * 1_000_000)
    items = pl.DataFrame({"start_at": [jan31] * 4, "interval": ["month", "quarter", "week", "year"],
                          "count": [1.0, 1.0, 2.0, 1.0]})
    want = [datetime(2024, 2, 29, 12, tzinfo=UTC), datetime(2024, 4, 30, 12, tzinfo=UTC),
            datetime(2024, 2, 14, 12, tzinfo=UTC), datetime(2025, 1, 31, 12, tzinfo=UTC)]
    for name in ("polars", "duckdb"):
        engine = engine_for(name)
        moved = spans.once_reach(engine, engine.table(items), nw.col("interval"), nw.col("count"))
        got = engine.collect(moved.select("interval", "_once"))
        got = got.sort(pl.col("interval").replace_strict({"month": 0, "quarter": 1, "week": 2, "year": 3}))
        assert got["_once"].to_list() == [int(w.timestamp() * 1_000_000) for w in want], name


def test_text_is_trimmed_alike_on_each_engine() -> None:
    """Leading and trailing whitespace (Unicode's, as Polars trims it) goes and a blank is missing, on each
    engine; DuckDB skips the trim where the first and last characters are printable ASCII."""
    assert trimmed_on("duckdb") == trimmed_on("polars") == TRIMMED


TEXTS = ["a", " a", "a ", "\ta\n", "   ", "", None, "é", " é ", "a b", "\x0bx\x0c", "\r\n", "x\u00a0",
         "\u3000y\u2009", "\x1fz"]
# By hand: Unicode White_Space goes from both ends (not U+001F, a control character).
TRIMMED = ["a", "a", "a", "a", None, None, None, "é", "é", "a b", "x", None, "x", "y", "\x1fz"]


def trimmed_on(name: str) -> list[str | None]:
    frame = pl.DataFrame({"t": TEXTS}, schema={"t": pl.String}).with_row_index("i")
    engine = engine_for(name)
    return engine.collect(engine.trimmed(engine.table(frame), ["t"])).sort("i")["t"].to_list()


# An item's rows by start: the third starts before the first's end though after the second's (so the
# previous row's end alone would miss it); touching rows do not overlap; a row with no start overlaps nothing.
OVERLAPS = pl.DataFrame({
    "subscription_id": ["s1", "s1", "s1", "s1", "s1", "s2", "s2"],
    "item_id": ["i1", "i1", "i1", "i2", "i2", None, None],
    "start_at": [1, 2, 4, 1, 2, 5, 6],
    "end_at": [12, 3, 5, 2, 3, None, 7],
    "_row": [0, 1, 2, 3, 4, 5, 6],
}).vstack(pl.DataFrame({"subscription_id": ["s1"], "item_id": ["i1"], "start_at": [None], "end_at": [20],
                        "_row": [7]}, schema={"subscription_id": pl.String, "item_id": pl.String,
                                              "start_at": pl.Int64, "end_at": pl.Int64, "_row": pl.Int64}))
OVERLAPPING = [False, True, True, False, False, False, True, False]


def overlaps_on(name: str) -> list[bool]:
    engine = engine_for(name)
    flagged = portable_load._with_overlaps(engine, engine.table(OVERLAPS), ["subscription_id", "item_id",
                                                                            "start_at", "end_at"])
    return engine.collect(flagged).sort("_row")["_overlap"].to_list()


def test_overlaps_are_found_against_the_latest_earlier_end() -> None:
    assert overlaps_on("duckdb") == overlaps_on("polars") == OVERLAPPING


def _one_row(folder: Path, start: pl.Series, **columns: object) -> Path:
    folder.mkdir()
    frame = pl.DataFrame({"customer_id": ["A", "A"], "subscription_id": ["a", "a"], "start_at": start,
                          "amount": [100.0, 100.0]}).with_columns(**{k: pl.Series(v) for k, v in columns.items()})
    frame.write_parquet(folder / "subscriptions.parquet")
    return folder


def test_a_second_run_on_the_same_dataset_reads_again(hand: Path, spy: list[str]) -> None:
    """kpi validate computes once per family on one run: the kept billing table is let go after the first,
    and the second reads the files again instead of the dropped table."""
    run = Run.start(_options(hand, {**RANGE, "on_bad_rows": "skip", "engine": "duckdb"}))
    first, second = (api.compute_run("mrr", run) for _ in range(2))
    assert_frame_equal(first, second)
    assert first["value"].to_list() == [330.0, 380.0, 380.0, 380.0]
    assert spy == ["duckdb", "duckdb"]


@pytest.mark.parametrize("case", ["nanoseconds", "struct field"])
def test_what_the_engine_cannot_scan_keeps_the_polars_load(tmp_path: Path, spy: list[str], case: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Nanosecond instants (two a nanosecond apart are two rows on Polars, one µs on an engine; DuckDB has
    no epoch_us of them) and a header mapped to a struct field: the Polars load, the same result."""
    monkeypatch.chdir(tmp_path)
    at = pl.Series([1_704_412_800_000_000_000, 1_704_412_800_000_000_001], dtype=pl.Datetime("ns", "UTC"))
    if case == "nanoseconds":
        data = _one_row(tmp_path / "d", at)
    else:
        data = _one_row(tmp_path / "d", at.dt.cast_time_unit("us"), info=[{"plan": "pro"}] * 2)
        (tmp_path / "kpi.toml").write_text('[sources.subscriptions.columns]\nplan = "info.plan"\n')
    runs = {e: _run(data, e) for e in ("polars", "duckdb")}
    assert spy == []
    assert_frame_equal(runs["polars"][0], runs["duckdb"][0])
    report = runs["duckdb"][1].dataset.reports["subscriptions"]
    # A nanosecond apart: no copy, an overlap; the same instant: one copy.
    assert (report.duplicates, report.rejected) == ((0, 1) if case == "nanoseconds" else (1, 0))


def test_a_range_after_the_data_is_said_on_the_engine_too(tmp_path: Path, spy: list[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """kpi_cli.coverage reads the span the engine worked out: 'lies wholly after the data'."""
    from kpi_cli.coverage import outside_data

    monkeypatch.chdir(tmp_path)
    start = pl.Series([datetime(2024, 1, 5, tzinfo=UTC)] * 2)
    data = _one_row(tmp_path / "d", start, end_at=[datetime(2024, 3, 5, tzinfo=UTC)] * 2)
    said = []
    for engine in ("polars", "duckdb"):
        run = Run.start(_options(data, {"month": "2025-06", "engine": engine}))
        api.compute_run("mrr", run)
        said.append(outside_data(run))
    assert spy == ["duckdb"]
    assert said[0] == said[1] == [("the range asked for (2025-06-01 … 2025-06-30) lies wholly after the data, "
                                   "which covers 2024-01-05 … 2024-03-05")]
