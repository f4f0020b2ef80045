"""The Spark engine (PySpark 4: local, a cluster's master, or Spark Connect); see :mod:`kpi_cli.engines`.

PySpark is imported when the first Spark run makes its session, never before.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import narwhals as nw
import polars as pl

from kpi_cli.engine_parts import FILE, LINE, WHITESPACE, max_before, reported_as
from kpi_cli.errors import UsageError
from kpi_cli.money import DECIMAL

# The session every Spark run of kpi gets (issue 11's traps, each silent): instants in UTC (``dt`` parts
# follow the session zone), naive Parquet timestamps as instants (else ``TIMESTAMP_NTZ``, which
# ``unix_micros`` refuses), few shuffle partitions (small base tables; 200 by default), no UI.
SPARK_SESSION = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
FIXED = ("spark.sql.session.timeZone", "spark.sql.parquet.inferTimestampNTZ.enabled")  # kpi's results rest on them
SPARK: dict[str, Any] = {"master": "local[2]", "conf": {}}  # this process's --spark-master and --spark-conf


def configure_spark(master: str | None = None, conf: dict[str, str] | None = None) -> None:
    """The master URL and extra settings of this process's Spark session (``--spark-master``,
    ``--spark-conf``), before its first Spark run: the session is made once, on first use. With
    ``SPARK_REMOTE`` set the session is Spark Connect's and the master is not used."""
    for key in conf or {}:
        if key in FIXED:
            msg = f"--spark-conf {key}: kpi sets it to {SPARK_SESSION[key]}, which its results depend on"
            raise UsageError(msg, hint="leave it out (--tz sets the reporting time zone)")
    if master is not None:
        SPARK["master"] = master
    if conf:
        SPARK["conf"] = {**SPARK["conf"], **conf}


class SparkEngine:
    """Spark (PySpark 4): its Parquet reader, one session for the process (see :data:`SPARK_SESSION`)."""

    name = "spark"
    near_data = False
    holds_small = False  # see keep()
    money = DECIMAL  # Narwhals' Spark backend has no Int128: money sums are exact decimals there

    def __init__(self, master: str = "local[2]", conf: dict[str, str] | None = None,
                 remote: str | None = None) -> None:
        self.held: list[Any] = []  # the frames keep() cached, unpersisted by release()
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            msg = "--engine spark needs pyspark, which is not installed"
            raise UsageError(msg, hint="pip install 'kpi-cli[spark]' (and a Java 17 runtime), "
                                       "or use --engine polars") from None
        settings = {**SPARK_SESSION, **(conf or {})}
        if remote:  # the server's own settings stand but for the SQL ones, which each session sets
            builder = SparkSession.builder.remote(remote)
            for key, value in settings.items():
                if key in SPARK_SESSION and not key.startswith("spark.sql."):
                    continue
                builder = builder.config(key, value)
            try:
                self.spark = builder.getOrCreate()
            except ImportError as e:  # Spark Connect's client needs more packages than pyspark's core
                msg = f"SPARK_REMOTE is set, and Spark Connect's client needs packages that are not installed ({e})"
                raise UsageError(msg, hint="pip install 'pyspark[connect]', or unset SPARK_REMOTE") from None
            return
        java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else None
        if not (java and java.exists()) and shutil.which("java") is None:
            msg = "--engine spark runs Spark on this machine, which needs a Java runtime, and none was found"
            raise UsageError(msg, hint="install a Java 17 runtime (e.g. apt-get install openjdk-17-jre-headless), "
                                       "set SPARK_REMOTE for Spark Connect, or use --engine polars")
        builder = SparkSession.builder.master(master).appName("kpi")
        for key, value in settings.items():
            builder = builder.config(key, value)
        self.spark = builder.getOrCreate()
        self.spark.sparkContext.setLogLevel("FATAL")  # a failure is raised in Python, with its cause

    def scan(self, files: list[str], columns: dict[str, str], instants: frozenset[str],
             keys: frozenset[str] = frozenset()) -> nw.LazyFrame:
        from pyspark.sql import functions as F

        def col(name: str) -> Any:
            return F.col("`" + name.replace("`", "``") + "`")

        # The hidden ``_metadata`` struct names a row's file as a URI (``file:/abs/a%20b.parquet``): decoded
        # ('+' is itself in a URI path, not a space), a local path is plain again and then the one given.
        uri = F.url_decode(F.regexp_replace(F.col("_metadata.file_path"), r"\+", "%2B"))
        path = F.regexp_replace(uri, "^file:(//)?(?=/)", "")
        # Local paths go to Spark absolute: its JVM resolves a relative one from where it started.
        local = {p: os.path.abspath(p)  # noqa: PTH100 — normalised, links kept, as Spark qualifies a path
                 for p in files if not re.match(r"[A-Za-z][A-Za-z0-9+.-]+:/", p)}
        given = reported_as(files)
        if given:
            names = F.create_map(*[F.lit(x) for pair in given.items() for x in pair])
            path = F.coalesce(F.try_element_at(names, path), path)
        picked = [path.alias(FILE), (F.col("_metadata.row_index") + 2).alias(LINE)]
        # unix_micros, not a cast: a timestamp cast to a long is seconds on Spark.
        picked += [(F.unix_micros(col(h)) if c in instants else col(h)).alias(c) for c, h in columns.items()]
        picked += [F.xxhash64(col(columns[c])).alias(f"_key_{c}") for c in sorted(keys)]
        try:
            raw = self.spark.read.option("mergeSchema", "true").parquet(*[local.get(p, p) for p in files])
            _ = raw.schema  # read the footers now: Spark Connect reads lazily, and would fail at collect
        except Exception as e:
            if "PARQUET_TYPE_ILLEGAL" in str(e) and "NANOS" in str(e):
                msg = "a Parquet column holds nanosecond timestamps, which --engine spark cannot read"
                raise UsageError(msg, hint="write the timestamps in microseconds, or use --engine polars") from None
            raise
        return nw.from_native(raw.select(*picked))

    def table(self, frame: pl.DataFrame | pl.LazyFrame) -> nw.LazyFrame:
        df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        # Spark has no unsigned integers: each becomes the signed type that holds all its values (a 64-bit
        # one keeps its bits, so equal values stay equal: these are hashes and counts).
        wider = [(pl.UInt8, pl.Int16), (pl.UInt16, pl.Int32), (pl.UInt32, pl.Int64)]
        signed = [pl.col(c).cast(to) for c, t in df.schema.items() for unsigned, to in wider if t == unsigned]
        signed += [pl.col(c).reinterpret(signed=True) for c, t in df.schema.items() if t == pl.UInt64]
        df = df.with_columns(signed)
        return nw.from_native(self.spark.createDataFrame(df.to_arrow()))

    def collect(self, frame: nw.LazyFrame) -> pl.DataFrame:
        out = frame.collect(backend="polars").to_native()
        assert isinstance(out, pl.DataFrame)
        return out

    def json_field(self, frame: nw.LazyFrame, column: str, path: str, alias: str) -> nw.LazyFrame:
        from pyspark.sql import functions as F

        native = frame.to_native()
        return nw.from_native(native.withColumn(alias, F.get_json_object(native[column], path)))

    def trimmed(self, frame: nw.LazyFrame, columns: list[str]) -> nw.LazyFrame:
        from pyspark.sql import functions as F

        native = frame.to_native()
        ends = f"^[{re.escape(WHITESPACE)}]+|[{re.escape(WHITESPACE)}]+$"
        for c in columns:
            trimmed = F.regexp_replace(native[c], ends, "")
            native = native.withColumn(c, F.when(trimmed != "", trimmed))
        return nw.from_native(native)

    def max_before(self, frame: nw.LazyFrame, value: str, by: list[str], order: list[str], alias: str
                   ) -> nw.LazyFrame:
        return max_before(frame, value, by, order, alias)

    def add_months(self, frame: nw.LazyFrame, column: str, months: str, alias: str) -> nw.LazyFrame:
        from pyspark.sql import functions as F

        moved = F.expr(f"unix_micros(timestamp_micros(`{column}`) + make_ym_interval(0, CAST(`{months}` AS INT)))")
        return nw.from_native(frame.to_native().withColumn(alias, moved))

    def keep(self, frame: nw.LazyFrame) -> nw.LazyFrame:
        native = frame.to_native().cache()  # worked out by the first result, reused by the rest
        self.held.append(native)
        return nw.from_native(native)

    def release(self) -> None:
        for native in self.held:
            native.unpersist()
        self.held.clear()
