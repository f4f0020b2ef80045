"""``--engine spark`` reads a plain Parquet log itself (issue 11): the same numbers as Polars, on local Spark.

One Spark session (``local[2]``, two shuffle partitions, no UI) serves the whole run: each case is
computed on the default engine and on Spark, whose scan, row checks, local days and per-period
reduction run in Spark (a spy checks the portable path ran). Bad rows are raised, counted and
rejected alike, by file and line, also across several files whose names URIs escape.

Marked ``spark``: ``make test`` deselects it (pyproject's ``-m "not spark"``), ``make test-spark``
installs Java and pyspark when missing and runs it with ``-m spark``; there a missing pyspark or
Java fails the run (the session fixture raises), it is never skipped. With ``SPARK_REMOTE`` set the
same tests run on Spark Connect.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import narwhals as nw
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_engine_equality import COMPANY_CUSTOMERS, assert_long_equal, assert_table_equal
from test_streamed import CASES, _log

from kpi_cli import api, compute, engine_spark, engines, money
from kpi_cli.api import Run, _options
from kpi_cli.errors import BadRowsError, KpiError, UsageError
from kpi_cli.registry import METRICS
from kpi_cli.revenue import engine as revenue_engine
from kpi_cli.sample import write_sample
from tests.conftest import GOLDEN_HEADER, GOLDEN_ROWS, write_csv

pytestmark = [pytest.mark.spark, pytest.mark.usefixtures("spark")]

ACTIVE = "dau,mau,dau_mau,active_users"


@pytest.fixture(scope="session")
def spark() -> Iterator[engines.SparkEngine]:
    """The run's one Spark engine (and session), made as ``kpi --engine spark`` makes it."""
    engines.configure_spark("local[2]", {"spark.sql.shuffle.partitions": "2"})
    engine = engines.engine_for("spark")
    assert isinstance(engine, engines.SparkEngine)
    yield engine
    engine.spark.stop()
    engines._MADE.pop("spark", None)  # a later engine_for('spark') makes a new session


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plain")
    _log().write_parquet(folder / "events.parquet", row_group_size=500)
    return folder


def test_the_session_is_set_up_as_kpi_needs(spark: engines.SparkEngine) -> None:
    conf = spark.spark.conf
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.parquet.inferTimestampNTZ.enabled") == "false"
    assert conf.get("spark.sql.shuffle.partitions") == "2"
    if not os.environ.get("SPARK_REMOTE"):  # Spark Connect: the server's master and UI, not kpi's
        assert spark.spark.sparkContext.master == "local[2]"
        assert spark.spark.sparkContext.uiWebUrl is None  # no UI
    assert engines.engine_for("spark") is spark  # one session per process


def test_the_scan_equals_polars_scan(spark: engines.SparkEngine, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Spark's scan gives what Polars' gives: each row's file as the path given (Spark names it by an
    escaped URI, e.g. ``file:/abs/a%20b.parquet``), its line (row index + 2), instants as µs, headers
    renamed; naive and UTC timestamps alike."""
    monkeypatch.chdir(tmp_path)
    log = _log(600).rename({"user_id": "User Id"})
    files = ["a b+c%d é.parquet", "plain.parquet"]
    log.head(300).write_parquet(files[0], row_group_size=64)
    log.tail(340).with_columns(pl.col("timestamp").dt.replace_time_zone(None)).write_parquet(files[1])
    columns = {"timestamp": "timestamp", "user_id": "User Id"}
    instants = frozenset({"timestamp"})
    order = [engines.FILE, engines.LINE]
    fast = engines.PolarsEngine().collect(engines.PolarsEngine().scan(files, columns, instants)).sort(order)
    scanned = spark.collect(spark.scan(files, columns, instants, frozenset({"user_id"}))).sort(order)
    assert scanned["_key_user_id"].n_unique() == log["User Id"].n_unique()
    assert_frame_equal(fast, scanned.drop("_key_user_id"))
    assert scanned.schema[engines.LINE] == scanned.schema["timestamp"] == pl.Int64


@pytest.mark.parametrize("kw", CASES)
def test_active_family_equals_polars(plain: Path, spy: list[str], kw: dict) -> None:
    ids = {"week": "dau,wau,active_users", "day": "dau,active_users"}.get(kw.get("period", "month"), ACTIVE)
    if kw.get("window"):
        ids += ",dau_wau,wau_mau"
    fast = compute(ids, data=plain, **kw)
    on_spark = compute(ids, data=plain, engine="spark", **kw)
    assert spy == ["spark"]
    assert fast.height > 0
    assert_frame_equal(fast, on_spark)


def test_a_hand_computed_new_york_day(tmp_path: Path, spy: list[str]) -> None:
    """Around the spring-forward night in New York (2024-03-10: 23 hours long), UTC instants:
    u1 at 04:59 (Mar 9, 23:59 local), u1 and u2 at 05:00 (Mar 10, 00:00), u3 at 03:59 Mar 11 (Mar 10,
    23:59 EDT), u3 at 04:00 Mar 11 (Mar 11, 00:00 EDT). Local days: Mar 9 {u1}, Mar 10 {u1, u2, u3},
    Mar 11 {u3}. The timestamps are naive in the file: read as UTC instants, not TIMESTAMP_NTZ."""
    stamps = ["2024-03-10T04:59:00", "2024-03-10T05:00:00", "2024-03-10T05:00:00", "2024-03-11T03:59:00",
              "2024-03-11T04:00:00"]
    frame = pl.DataFrame({"timestamp": stamps, "event": ["x"] * 5, "user_id": ["u1", "u1", "u2", "u3", "u3"]})
    frame.with_columns(pl.col("timestamp").str.to_datetime()).write_parquet(tmp_path / "events.parquet")
    out = compute("dau", data=tmp_path, from_="2024-03-09", to="2024-03-11", period="day", tz="America/New_York",
                  engine="spark")
    assert spy == ["spark"]
    assert out["value"].to_list() == [1.0, 3.0, 1.0]


def test_a_hand_computed_trailing_week(tmp_path: Path, spy: list[str]) -> None:
    """u1 active on 1 March only, u2 on 8 March: the 7 days ending 8 March (2–8 March) hold u2 alone,
    the 30 days both. On 8 March: WAU 1, MAU 2, DAU/WAU 1, WAU/MAU 0.5."""
    frame = pl.DataFrame({"timestamp": ["2024-03-01T10:00:00", "2024-03-08T10:00:00"], "event": ["x", "x"],
                          "user_id": ["u1", "u2"]}).with_columns(pl.col("timestamp").str.to_datetime(time_zone="UTC"))
    frame.write_parquet(tmp_path / "events.parquet")
    out = compute("wau,mau,dau_wau,wau_mau", data=tmp_path, from_="2024-03-08", to="2024-03-08", period="day",
                  window="trailing", engine="spark")
    assert spy == ["spark"]
    assert dict(zip(out["metric"], out["value"], strict=True)) == {"wau": 1.0, "mau": 2.0, "dau_wau": 1.0,
                                                                   "wau_mau": 0.5}


def _bad_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        user_id=pl.when(pl.int_range(pl.len()) % 97 == 5).then(None).otherwise(pl.col("user_id")),
        event=pl.when(pl.int_range(pl.len()) % 89 == 3).then(pl.lit("")).otherwise(pl.col("event")))


def _bad_log(tmp_path: Path) -> Path:
    _bad_rows(_log(400)).write_parquet(tmp_path / "events.parquet", row_group_size=100)
    return tmp_path


def _skipped(data: Path | str, engine: str) -> tuple[pl.DataFrame, object, pl.DataFrame]:
    run = Run.start(_options(data, {"from_": "2024-01", "to": "2024-04", "on_bad_rows": "skip", "engine": engine}))
    out = api.compute_run(ACTIVE, run)
    return out, run.dataset.reports["events"], pl.concat(run.dataset.rejected).sort("line")


def test_bad_rows_are_raised_alike(tmp_path: Path, spy: list[str]) -> None:
    data = _bad_log(tmp_path)
    errors = []
    for engine in ("polars", "spark"):
        with pytest.raises(BadRowsError) as caught:
            compute("dau", data=data, from_="2024-01", to="2024-04", engine=engine)
        errors.append(caught.value)
    assert spy == ["spark"]
    assert errors[0].total == errors[1].total == 10
    assert str(errors[0]) == str(errors[1])
    assert errors[0].lines == errors[1].lines


def test_bad_rows_are_skipped_and_rejected_alike(tmp_path: Path, spy: list[str]) -> None:
    data = _bad_log(tmp_path)
    (fast, fast_report, fast_rejects), (slow, slow_report, slow_rejects) = (_skipped(data, e)
                                                                            for e in ("polars", "spark"))
    assert spy == ["spark"]
    assert_frame_equal(fast, slow)
    assert (fast_report.rows_read, fast_report.rejected, fast_report.used) == (
        slow_report.rows_read, slow_report.rejected, slow_report.used) == (440, 10, 430)
    assert fast_report.reasons == slow_report.reasons
    assert_frame_equal(fast_rejects, slow_rejects)


def test_several_files_are_one_log(tmp_path: Path, spy: list[str]) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    for i, part in enumerate(_log().iter_slices(1_000)):
        part.write_parquet(folder / f"part-{i}.parquet")
    kw = {"from_": "2024-01", "to": "2024-04"}
    assert_frame_equal(compute(ACTIVE, data=tmp_path, **kw), compute(ACTIVE, data=tmp_path, engine="spark", **kw))
    assert spy == ["spark"]


def test_bad_rows_in_several_files_keep_their_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            spy: list[str]) -> None:
    """Names that a URI escapes (a space, '+', '%', non-ASCII) and a relative data folder: Spark names a
    row's file ``file:/abs/a%20b.parquet``; each bad row is still shown at its own file and line."""
    folder = tmp_path / "data dir" / "events"
    folder.mkdir(parents=True)
    for part, name in zip(_bad_rows(_log(900)).iter_slices(320), ("a b.parquet", "c+d.parquet", "é%20.parquet"),
                          strict=True):
        part.write_parquet(folder / name)
    monkeypatch.chdir(tmp_path)
    (fast, fast_report, fast_rejects), (slow, slow_report, slow_rejects) = (_skipped("data dir", e)
                                                                            for e in ("polars", "spark"))
    assert spy == ["spark"]
    assert_frame_equal(fast, slow)
    assert fast_report.rejected == slow_report.rejected > 10
    assert_frame_equal(fast_rejects, slow_rejects)
    shown = []
    for engine in ("polars", "spark"):
        with pytest.raises(BadRowsError) as caught:
            compute("dau", data="data dir", from_="2024-01", to="2024-04", engine=engine)
        shown.append(caught.value.lines)
    assert shown[0] == shown[1]
    assert {line.split(":")[0] for line in shown[1]} == {"data dir/events/a b.parquet", "data dir/events/c+d.parquet"}


@pytest.mark.parametrize("kw", [CASES[1], CASES[5]])
def test_lifecycle_and_stickiness_equal_polars(plain: Path, spy: list[str], kw: dict) -> None:
    for table in (api.lifecycle, api.stickiness):
        spy.clear()
        fast, on_spark = table(data=plain, **kw), table(data=plain, engine="spark", **kw)
        assert spy == ["spark"]
        assert fast.height > 0
        assert_frame_equal(fast, on_spark)


def test_the_command_line_runs_on_spark(plain: Path, run, spy: list[str]) -> None:
    args = ["compute", ACTIVE, "--data", plain, "--from", "2024-01", "--to", "2024-04", "-f", "csv"]
    fast = run(*args)
    on_spark = run(*args, "--engine", "spark", "--spark-master", "local[2]",
                   "--spark-conf", "spark.sql.shuffle.partitions=2")
    assert (fast.exit_code, on_spark.exit_code) == (0, 0), on_spark.stderr
    assert spy == ["spark"]
    assert fast.stdout == on_spark.stdout
    assert run(*args, env={"KPI_ENGINE": "spark"}).stdout == fast.stdout
    assert spy == ["spark", "spark"]


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("kpi: error:", "hint:"))]


def test_spark_not_installed_is_a_usage_error(plain: Path, run, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("pyspark", "pyspark.sql"):  # pyspark can be neither found nor imported now
        monkeypatch.setitem(sys.modules, name, None)
    result = run("compute", "dau", "--month", "2024-02", "--data", plain, "--engine", "spark")
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        "kpi: error: --engine spark needs pyspark, which is not installed",
        "hint: pip install 'kpi-cli[spark]' (and a Java 17 runtime), or use --engine polars"]
    with pytest.raises(UsageError, match="needs pyspark"):
        engines.SparkEngine()


def test_no_java_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(engine_spark.shutil, "which", lambda _name: None)
    with pytest.raises(UsageError, match="needs a Java runtime, and none was found"):
        engines.SparkEngine()


@pytest.mark.parametrize(("args", "line"), [
    (["--engine", "spark", "--spark-conf", "spark.executor.memory"],
     "kpi: error: --spark-conf 'spark.executor.memory' is not KEY=VALUE"),
    (["--spark-master", "local[1]"],
     "kpi: error: --spark-master and --spark-conf only make sense with --engine spark (the engine is polars)"),
    (["--engine", "spark", "--spark-conf", "spark.sql.session.timeZone=America/New_York"],
     "kpi: error: --spark-conf spark.sql.session.timeZone: kpi sets it to UTC, which its results depend on"),
])
def test_spark_options_are_checked(plain: Path, run, args: list[str], line: str) -> None:
    result = run("compute", "dau", "--month", "2024-02", "--data", plain, *args)
    assert result.exit_code == 2
    assert errors(result.stderr)[0] == line


def test_nanosecond_timestamps_are_refused_by_name(tmp_path: Path) -> None:
    _log().with_columns(pl.col("timestamp").cast(pl.Datetime("ns", "UTC"))).write_parquet(tmp_path / "events.parquet")
    with pytest.raises(UsageError, match="nanosecond timestamps, which --engine spark cannot read"):
        compute("dau", data=tmp_path, month="2024-02", engine="spark")
    assert compute("dau", data=tmp_path, month="2024-02").height == 1



# ---------------------------------------------------------------------------------------------
# revenue: the roll-forward on Spark, money summed as Decimal(38, 12) there (Int128 on Polars)
# ---------------------------------------------------------------------------------------------
REVENUE_IDS = [m.id for m in METRICS.values() if m.family == "revenue"]
COMPANY = {"as_of": "2025-01-01"}


@pytest.fixture(scope="module")
def golden_revenue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """research revenue.md §4.1: 8 customers A–H, subscriptions only (as tests/test_engine_equality.py)."""
    folder = tmp_path_factory.mktemp("golden_revenue")
    write_csv(folder / "subscriptions.csv", GOLDEN_HEADER, GOLDEN_ROWS)
    return folder


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated company (kpi sample): several plans, segments, currencies with fx rates."""
    folder = tmp_path_factory.mktemp("company")
    write_sample(folder, customers=COMPANY_CUSTOMERS)
    return folder


@pytest.fixture
def revenue_spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The money each revenue roll-forward summed in (so a case cannot pass by never reaching Spark)."""
    used: list[str] = []
    real = revenue_engine.roll_forward

    def counted(*args, **kwargs):
        used.append(args[6].name)
        return real(*args, **kwargs)

    monkeypatch.setattr(revenue_engine, "roll_forward", counted)
    return used


def test_every_revenue_id_on_the_golden_examples(golden_revenue: Path, revenue_spy: list[str]) -> None:
    """Every revenue id of ``kpi list``: the family at once, and each id it leaves out alone (then both
    engines fail alike: same error and hint)."""
    kw = {"data": golden_revenue, "as_of": "2023-06-01", "from_": "2022-12", "to": "2023-03"}
    fast, on_spark = compute("revenue", **kw), compute("revenue", engine="spark", **kw)
    assert revenue_spy == ["Int128 pico-units", "Decimal(38, 12)"]
    assert_long_equal(fast, on_spark, [])
    # research revenue.md §4.2 and §4.3, worked out by hand: month-end MRR and the March movements.
    values = {(m, str(p)): v for m, p, v in on_spark.select("metric", "period", "value").iter_rows()}
    assert [values["mrr", f"{p}-01"] for p in ("2022-12", "2023-01", "2023-02", "2023-03")] == [450, 550, 750, 680]
    assert [values[m, "2023-03-01"] for m in ("reactivation_mrr", "contraction_mrr", "customers")] == [60, 130, 6]
    rest = [m for m in REVENUE_IDS if m not in set(fast["metric"])]
    assert rest == ["freemium_conversion_rate"]  # it reads customers, which the golden export lacks
    for mid in rest:
        failures = []
        for engine in ("polars", "spark"):
            with pytest.raises(KpiError) as caught:
                compute(mid, engine=engine, **kw)
            failures.append((type(caught.value), str(caught.value), caught.value.hint))
        assert failures[0] == failures[1]


@pytest.mark.parametrize("kw", [
    pytest.param({"from_": "2023-01", "to": "2024-12"}, id="two-years"),
    pytest.param({"from_": "2024-01", "to": "2024-06", "by": "plan"}, id="by_plan"),
    pytest.param({"from_": "2024-01", "to": "2024-06", "by": ("segment", "currency")}, id="by_segment_currency"),
    pytest.param({"from_": "2024-02-05", "to": "2024-04-28", "period": "week", "tz": "America/New_York",
                  "churn_at": "cancel", "discounts": "all"}, id="week-dst-cancel-all_discounts"),
])
def test_every_revenue_id_on_a_company(company: Path, revenue_spy: list[str], kw: dict) -> None:
    kw = {"data": company, **COMPANY, **kw}
    fast, on_spark = compute("revenue", **kw), compute("revenue", engine="spark", **kw)
    assert revenue_spy[-1] == "Decimal(38, 12)"
    assert set(fast["metric"]) == set(REVENUE_IDS)
    by = [kw["by"]] if isinstance(kw.get("by"), str) else list(kw.get("by", ()))
    assert_long_equal(fast, on_spark, by)
    assert all(fast[g].n_unique() > 1 for g in by), "one group: the breakdown is not exercised"


def test_revenue_tables_on_a_company(company: Path) -> None:
    """``movements`` (per period and per customer) and ``cohort --of mrr`` read the same base on Spark."""
    kw = {"data": company, **COMPANY, "from_": "2024-01", "to": "2024-12"}
    for name, extra in (("movements", {"customers": True}), ("movements", {"by": "plan"}),
                        ("cohort", {"of": "mrr"})):
        table = getattr(api, name)
        assert_table_equal(table(**kw, **extra), table(**kw, **extra, engine="spark"))


def test_reruns_on_spark_give_the_same_bits(company: Path, spark: engines.SparkEngine) -> None:
    """SPEC §4.2 on Spark: another shuffle partitioning (so other orders of the terms of each sum) gives
    identical values, not just close ones."""
    kw = {"data": company, **COMPANY, "from_": "2023-01", "to": "2024-12", "by": "plan", "engine": "spark"}
    first = compute("revenue", **kw)
    spark.spark.conf.set("spark.sql.shuffle.partitions", "3")
    try:
        again = compute("revenue", **kw)
    finally:
        spark.spark.conf.set("spark.sql.shuffle.partitions", "2")
    assert_frame_equal(first, again, check_exact=True)


def test_decimal_money_on_spark_is_the_exact_sum(spark: engines.SparkEngine) -> None:
    """money.DECIMAL on Spark: each term at 12 decimals (its shortest text rounded half up), summed exactly,
    read back as the float nearest the decimal sum, worked out by Python's ``decimal``; the same bits in
    either row order. Polars' Int128 sum rounds x · 10¹² instead, which for 8999.123456789 (a float whose
    error is near a pico-unit) can be a pico-unit off: below ~900 units the two give the same bits."""
    def exact(terms: list[float]) -> float:
        return float(sum(Decimal(repr(v)).quantize(Decimal("1e-12"), rounding=ROUND_HALF_UP) for v in terms))

    small = [0.1, 0.2, 49.9, -7.25, 100 / 3, 1e-12, 0.004, 899.123456789, -0.3, 2 / 7] * 40
    for values in (small, [*small, 8999.123456789] * 3):
        frame = pl.DataFrame({"g": [i % 3 for i in range(len(values))], "v": values})
        sums = [spark.collect(spark.table(rows).select(money.DECIMAL.fsum(nw.col("v")))).item()
                for rows in (frame, frame.reverse())]
        assert sums[0] == sums[1] == exact(values)
        per_group = spark.collect(spark.table(frame).group_by("g").agg(money.DECIMAL.fsum(nw.col("v"))).sort("g"))
        assert per_group["v"].to_list() == [exact(values[g::3]) for g in range(3)]
    frame = pl.DataFrame({"v": small})
    assert spark.collect(spark.table(frame).select(money.DECIMAL.fsum(nw.col("v")))).item() == frame.select(
        money.fsum(pl.col("v"))).item()


@pytest.mark.parametrize("folder", ["", "events"])
def test_a_uri_data_directory_of_hive_parts(tmp_path: Path, spy: list[str], folder: str) -> None:
    """``--data file:///…/`` (or the log's own folder): Spark is handed the listed parts as URIs and
    gives the hand-worked values of tests/test_remote_data.py (``_SUCCESS``, ``_temporary/`` unread)."""
    from test_remote_data import EXPECTED, _write

    root = _write(tmp_path) / folder
    out = compute("dau,mau", data=root.as_uri(), engine="spark", from_="2023-01", to="2023-02")
    assert spy == ["spark"]
    got = {(m, p.isoformat()): v for m, p, v in out.select("metric", "period", "value").rows()}
    assert got == pytest.approx(EXPECTED, rel=1e-12)


def test_event_hygiene_on_spark(tmp_path: Path, spy: list[str]) -> None:
    """``event_id`` dedup and the anonymous map on Spark: the hand-worked log of
    tests/test_engine_hygiene.py (8 actors in March, 6 identified) and a generated messy log equal to Polars."""
    from test_engine_hygiene import HAND, IDS, _messy, _write

    hand = _write(tmp_path / "hand", HAND)
    assert compute("active_users", data=hand, month="2024-03", engine="spark")["value"].to_list() == [8.0]
    assert compute("active_users", data=hand, month="2024-03", engine="spark",
                   identified_only=True)["value"].to_list() == [6.0]
    # Each row names its file as given, so the files' order decides ties: also through a file:// URI.
    assert compute("active_users", data=hand.as_uri(), month="2024-03", engine="spark")["value"].to_list() == [8.0]
    messy = _write(tmp_path / "messy", _messy(1))
    kw = {"from_": "2024-03", "to": "2024-05", "tz": "America/New_York", "identified_only": True}
    assert_frame_equal(compute(IDS, data=messy, **kw), compute(IDS, data=messy, engine="spark", **kw))
    assert spy == ["spark"] * 4


def test_event_cohorts_on_spark(tmp_path: Path) -> None:
    """Cohort inputs worked out on Spark: the hand-worked triangle of tests/test_engine_cohorts.py and a
    generated log with sign-ups, event ids and anonymous ids on both clocks, equal to Polars."""
    from test_engine_cohorts import HAND, _cells, _with_signups
    from test_engine_hygiene import _write

    from kpi_cli import cohort

    hand = _write(tmp_path / "hand", HAND, ("event_id", "anonymous_id"))
    cells = _cells(cohort(data=hand, of="users", period="week", from_="2024-03-04", to="2024-03-25", engine="spark"))
    assert [cells[("2024-03-04", k)] for k in range(3)] == [(2.0, 2.0), (2.0, 1.0), (2.0, 1.0)]
    assert [cells[("2024-03-11", k)] for k in range(3)] == [(2.0, 2.0), (2.0, 0.0), (2.0, None)]
    messy = _write(tmp_path / "messy", _with_signups(4, ids=True, signups=True))
    kw = {"of": "users", "period": "week", "clock": "rolling", "identified_only": True, "tz": "America/New_York"}
    assert_frame_equal(cohort(data=messy, **kw), cohort(data=messy, engine="spark", **kw))


def test_funnels_on_spark(tmp_path: Path) -> None:
    """Funnels worked out on Spark: the hand-worked log of tests/test_engine_funnel.py under each order, and
    a generated log with event ids and anonymous ids, equal to Polars."""
    from test_engine_cohorts import _with_signups
    from test_engine_funnel import EXPECTED, HAND, PLAIN
    from test_engine_hygiene import _write

    from kpi_cli import funnel

    hand = _write(tmp_path / "hand", HAND, PLAIN)
    for (order, steps), actors in EXPECTED.items():  # every order, the ties, the copy, the window
        out = funnel(steps.split(","), data=hand, month="2024-03", order=order, engine="spark")
        assert out["actors"].to_list() == actors, (order, steps)
    messy = _write(tmp_path / "messy", _with_signups(5, ids=True, signups=True))
    kw = {"order": "loose", "window": "2d", "identified_only": True, "from_": "2024-03", "to": "2024-05"}
    steps = ["login", "invite", "export"]
    assert_frame_equal(funnel(steps, data=messy, **kw), funnel(steps, data=messy, engine="spark", **kw))
    spark = engines.engine_for("spark")
    assert isinstance(spark, engines.SparkEngine)
    assert spark.held == []  # each run unpersisted what it cached (else the driver's heap fills up)
    if not os.environ.get("SPARK_REMOTE"):
        assert spark.spark._jsparkSession.sharedState().cacheManager().isEmpty()


def test_signup_account_and_feature_metrics_on_spark(tmp_path: Path) -> None:
    """The reduced log of kpi_cli.engagement.portable_entrants worked out on Spark: the hand-worked cases of
    tests/test_engine_entrants.py and a generated log with ids and e-mails, equal to Polars."""
    from test_engine_cohorts import _with_signups
    from test_engine_entrants import FEATURES, SPECIALS, _log, _r, _write

    rows = [_r(1, 10, 0, "Account Created", a) for a in "ABC"]
    rows += [_r(8, 12, 0, "view", "A"), _r(8, 9, 30, "view", "B"), _r(15, 10, 30, "view", "B"),
             _r(15, 9, 0, "view", "C"), _r(15, 11, 0, "view", "C")]
    (tmp_path / "hand").mkdir()
    out = compute("w2wai", data=_log(tmp_path / "hand", rows), month="2024-03", engine="spark")
    assert out.select("value", "numerator", "denominator").rows() == [(2 / 3, 2.0, 3.0)]
    data = _write(tmp_path / "messy", _with_signups(4, ids=True, signups=True), ids=True)
    kw = {"from_": "2024-03", "to": "2024-06", "tz": "America/New_York", "config": str(data / "kpi.toml")}
    assert_frame_equal(compute(SPECIALS, data=data, **kw), compute(SPECIALS, data=data, engine="spark", **kw))
    assert_frame_equal(compute(FEATURES, data=data, by="feature", **kw),
                       compute(FEATURES, data=data, by="feature", engine="spark", **kw))


def test_properties_by_on_spark(tmp_path: Path, spy: list[str]) -> None:
    """``--by prop.NAME`` read by Spark's JSON function: the hand-worked split of tests/test_engine_by.py and a
    generated log with JSON properties, equal to Polars."""
    from test_engine_by import IDS, _with_properties, _write
    from test_engine_by import test_a_hand_worked_property_split as hand_worked
    from test_engine_cohorts import _with_signups

    (tmp_path / "hand").mkdir()
    hand_worked(tmp_path / "hand", [], "polars")  # the Polars answer, asserted there
    data = _write(tmp_path / "messy", _with_signups(6, ids=True, signups=True), ids=True)
    _with_properties(data)
    kw = {"from_": "2024-03", "to": "2024-06", "by": ("prop.plan", "segment")}
    assert_frame_equal(compute(IDS, data=data, **kw), compute(IDS, data=data, engine="spark", **kw))
    hand = tmp_path / "hand"
    for by, expected in (("prop.plan", {"pro": 2.0, "5": 1.0, "true": 1.0, "": 1.0, None: 4.0}),
                         ("prop.org.tier", {"gold": 1.0, None: 8.0})):
        out = compute("mau", data=hand, month="2024-03", by=by, engine="spark")
        assert dict(out.select(by, "value").rows()) == expected
    assert spy == ["spark"] * 3


def test_sessions_and_sign_ups_by_group_on_spark(tmp_path: Path) -> None:
    """Sessions and the sign-up metrics per group on Spark (tests/test_engine_by.py, test_engine_entrants.py):
    e-mails in JSON properties, groups of a property and of the log's column, a tie of instants across groups
    (the earlier line's group), equal to Polars."""
    from test_engine_by import SESSIONS
    from test_engine_by import _write as write_by
    from test_engine_by import test_tied_instants_give_the_group_of_the_earlier_line as tied
    from test_engine_cohorts import _with_signups
    from test_engine_entrants import SPECIALS, _json_properties, _write

    data = _write(tmp_path / "signups", _with_signups(4, ids=False, signups=True), ids=False)
    _json_properties(data)
    kw = {"from_": "2024-03", "to": "2024-06", "config": str(data / "kpi.toml"), "by": "prop.plan"}
    assert_frame_equal(compute(SPECIALS, data=data, **kw), compute(SPECIALS, data=data, engine="spark", **kw))
    data = write_by(tmp_path / "sessions", _with_signups(6, ids=True, signups=True), ids=True)
    kw = {"from_": "2024-03", "to": "2024-06", "by": ("segment", "platform")}
    assert_frame_equal(compute(SESSIONS, data=data, **kw), compute(SESSIONS, data=data, engine="spark", **kw))
    (tmp_path / "tied").mkdir()
    tied(tmp_path / "tied", "spark", "ios")


def test_audit_on_spark(tmp_path: Path) -> None:
    """``-v`` counted on Spark (tests/test_engine_audit.py): the hand-worked log's figures, and a generated
    messy log's under compute and funnel, equal to Polars."""
    from test_engine_audit import _audited, _hand
    from test_engine_audit import _write as write_messy
    from test_engine_hygiene import _messy

    from kpi_cli.engagement.hygiene import Hygiene

    month = {"from_": "2024-03", "to": "2024-03"}
    _out, report, hygiene = _audited(_hand(tmp_path / "hand"), "spark", "compute", month)
    assert report == (11, 1, 3, 6)
    assert hygiene == Hygiene(repeated_ids=1, merged_anonymous=1, anonymous_rows=1, dropped_anonymous=0)
    data = write_messy(tmp_path / "messy", _messy(3))
    for command in ("compute", "funnel"):
        fast, fast_report, fast_hygiene = _audited(data, "polars", command, {"from_": "2024-03", "to": "2024-05"})
        slow, slow_report, slow_hygiene = _audited(data, "spark", command, {"from_": "2024-03", "to": "2024-05"})
        assert_frame_equal(fast, slow)
        assert (fast_report, fast_hygiene) == (slow_report, slow_hygiene)
