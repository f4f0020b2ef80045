"""Where metric pipelines run: the one module that knows an engine (SPEC §5, issue 11).

An :class:`Engine` scans a source's files with the engine's own reader (instants become Int64 µs
there, natively), makes small tables (period grids, day bounds) on the engine, and collects a lazy
result into Polars. The pipelines in between are written on Narwhals' lazy API, so the same code
runs on each engine. Polars is the default; DuckDB runs in-process on one connection per process
whose session time zone is UTC (DuckDB's ``dt`` parts follow the session zone); Spark runs on one
session per process (local ``local[2]`` by default, a cluster's master, or Spark Connect when
``SPARK_REMOTE`` is set), set up explicitly: UTC session zone, naive Parquet timestamps read as
instants (not ``TIMESTAMP_NTZ``), few shuffle partitions, no UI (:func:`configure_spark`).

>>> engine = engine_for("polars")
>>> engine.collect(engine.table(pl.DataFrame({"a": [1, 2]})).select(nw.col("a").sum()))["a"].to_list()
[3]
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import narwhals as nw
import polars as pl

from kpi_cli.errors import UsageError
from kpi_cli.money import DECIMAL, PICO_SQL

if TYPE_CHECKING:
    from collections.abc import Callable

# Names the scan gives the columns it adds: the file a row came from (its path) and its line
# (the row's index in its file + 2, as Parquet lines are numbered everywhere else).
FILE, LINE = "_path", "_line"
KEY_SEED = 0x6B7069  # Polars' hash seed for ``_key_`` columns (each engine has its own hash)


class Engine(Protocol):
    """What a pipeline needs from an engine."""

    name: str
    # True when this process reads the files as cheaply as the engine (it runs here): kpi may then read
    # Parquet statistics itself, and the rows where they cannot tell. A cluster's data is read there only.
    near_data: bool

    def scan(self, files: list[str], columns: dict[str, str], instants: frozenset[str],
             keys: frozenset[str] = frozenset()) -> nw.LazyFrame:
        """The Parquet ``files`` as one lazy frame: ``columns`` (canonical name → header) renamed, the
        ``instants`` among them as Int64 µs since the epoch (UTC), plus :data:`FILE` and :data:`LINE`,
        and for each of ``keys`` a 64-bit hash of its text as ``_key_<name>`` (to count distinct
        values on integers: engines group integers faster than text; equal texts, equal keys)."""
        ...

    def table(self, frame: pl.DataFrame | pl.LazyFrame) -> nw.LazyFrame:
        """A small Polars frame (a period grid, day bounds) as a lazy frame of this engine."""
        ...

    def collect(self, frame: nw.LazyFrame) -> pl.DataFrame:
        """Run ``frame`` and return its (small) result as a Polars frame."""
        ...

    def trimmed(self, frame: nw.LazyFrame, columns: list[str]) -> nw.LazyFrame:
        """``frame`` with each text column of ``columns`` trimmed of whitespace (:data:`WHITESPACE`), a blank
        null: the Polars parse of text. (Narwhals' ``strip_chars()`` trims ASCII whitespace only on SQL
        engines, and writes the trim twice per value there: ``CASE WHEN trim(x) != '' THEN trim(x)``.)"""
        ...

    def max_before(self, frame: nw.LazyFrame, value: str, by: list[str], order: list[str], alias: str
                   ) -> nw.LazyFrame:
        """``frame`` and ``alias``: the largest ``value`` among the rows before each row in its ``by`` group,
        in ``order`` (null for the first). Narwhals spells it as two windows (a running max, then a shift),
        which DuckDB sorts for twice; one window frame ending a row before does it in one."""
        ...

    def add_months(self, frame: nw.LazyFrame, column: str, months: str, alias: str) -> nw.LazyFrame:
        """``frame`` and ``alias``: the instant ``column`` (Int64 µs, UTC) plus ``months`` (an Int64 column)
        calendar months, the day of the month clamped to the month's last (31 January + 1 = 28 February),
        as Polars' ``offset_by``. Narwhals' ``offset_by`` takes one constant offset for every row."""
        ...

    def json_field(self, frame: nw.LazyFrame, column: str, path: str, alias: str) -> nw.LazyFrame:
        """``frame`` and a text column ``alias``: the value at the JSON ``path`` (``$.plan``) of the JSON text
        in ``column``, as Polars' ``str.json_path_match`` gives it (a string unquoted, a number or an object
        as JSON text; null where the text is no JSON or holds no such field). Narwhals has no JSON operation."""
        ...


def release_held() -> None:
    """Let go of what :func:`keep` held on every engine this process made, once a run is done with it.

    A process makes one engine of each kind and may start many runs (a notebook, a test session): what
    one run kept would otherwise stay. Spark's cached frames filled the driver's 1 GiB heap over ~40 runs
    and every later query stalled in garbage collection; DuckDB's kept tables hold memory likewise."""
    for engine in _MADE.values():
        held = getattr(engine, "release", None)
        if held is not None:
            held()


def keep(engine: Engine, frame: nw.LazyFrame, *, small: bool = False) -> nw.LazyFrame:
    """``frame`` worked out once and held on the engine, for several results read from it.

    Without it an engine recomputes a lazy frame for every result (SQL engines inline it). An engine
    without a ``keep`` method recomputes, and so does one whose ``holds_small`` is false for a ``small``
    intermediate result (Spark: caching those, each derived from cached ones, stalled local Spark).
    """
    held = getattr(engine, "keep", None)
    if held is None or (small and not getattr(engine, "holds_small", True)):
        return frame
    return held(frame)


class PolarsEngine:
    """The default engine: Polars' lazy scans, collected on its streaming engine."""

    name = "polars"
    near_data = True

    def scan(self, files: list[str], columns: dict[str, str], instants: frozenset[str],
             keys: frozenset[str] = frozenset()) -> nw.LazyFrame:
        scans = []
        for path in files:
            raw = pl.scan_parquet(path, row_index_name=LINE, row_index_offset=2)
            exprs = [(pl.col(h).dt.epoch("us") if c in instants else pl.col(h)).alias(c) for c, h in columns.items()]
            exprs += [pl.col(columns[c]).hash(KEY_SEED).alias(f"_key_{c}") for c in sorted(keys)]
            scans.append(raw.select(pl.lit(path).alias(FILE), pl.col(LINE).cast(pl.Int64), *exprs))
        return nw.from_native(pl.concat(scans, how="diagonal_relaxed"))

    def table(self, frame: pl.DataFrame | pl.LazyFrame) -> nw.LazyFrame:
        return nw.from_native(frame.lazy())

    def collect(self, frame: nw.LazyFrame) -> pl.DataFrame:
        native = frame.to_native()
        assert isinstance(native, pl.LazyFrame)
        return native.collect(engine="streaming")

    def json_field(self, frame: nw.LazyFrame, column: str, path: str, alias: str) -> nw.LazyFrame:
        native = frame.to_native()
        return nw.from_native(native.with_columns(pl.col(column).str.json_path_match(path).alias(alias)))

    def trimmed(self, frame: nw.LazyFrame, columns: list[str]) -> nw.LazyFrame:
        trims = [pl.col(c).str.strip_chars() for c in columns]
        blanks = [pl.when(t.str.len_bytes() == 0).then(None).otherwise(t).alias(c)
                  for t, c in zip(trims, columns, strict=True)]
        return nw.from_native(frame.to_native().with_columns(blanks))

    def max_before(self, frame: nw.LazyFrame, value: str, by: list[str], order: list[str], alias: str
                   ) -> nw.LazyFrame:
        return max_before(frame, value, by, order, alias)

    def add_months(self, frame: nw.LazyFrame, column: str, months: str, alias: str) -> nw.LazyFrame:
        offset = pl.col(months).cast(pl.String) + "mo"
        moved = pl.col(column).cast(pl.Datetime("us")).dt.offset_by(offset).cast(pl.Int64)
        return nw.from_native(frame.to_native().with_columns(moved.alias(alias)))

    def keep(self, frame: nw.LazyFrame) -> nw.LazyFrame:
        return nw.from_native(self.collect(frame).lazy())


class DuckDBEngine:
    """DuckDB in-process: its Parquet reader, its threads, one connection (session zone UTC)."""

    name = "duckdb"
    near_data = True
    money = PICO_SQL  # DuckDB's round breaks a tie away from zero, as kpi's money does

    def __init__(self) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        # kpi sorts what it collects: rows need not keep the file's order inside the engine, which lets
        # DuckDB run its aggregates without reassembling that order (20M plain events: 1.73 → 1.45 s).
        self.con.execute("SET preserve_insertion_order = false")
        self.kept = 0
        self.held: list[str] = []  # the tables keep() made, dropped by release()

    def scan(self, files: list[str], columns: dict[str, str], instants: frozenset[str],
             keys: frozenset[str] = frozenset()) -> nw.LazyFrame:
        quoted = _quoted
        picked = [f"epoch_us({quoted(h)}) AS {quoted(c)}" if c in instants else f"{quoted(h)} AS {quoted(c)}"
                  for c, h in columns.items()]
        picked += [f"hash({quoted(columns[c])}) AS {quoted('_key_' + c)}" for c in sorted(keys)]
        if any(re.match(r"[A-Za-z][A-Za-z0-9+.-]+://", f) and not f.startswith("file://") for f in files):
            self._remote()
        rel = self.con.read_parquet(files, filename=True, file_row_number=True, union_by_name=True)
        name = "filename"
        given = reported_as(files)
        if given:  # each row names its file as given (DuckDB drops file:// and may qualify a path)
            pairs = ", ".join(f"{_text(k)}: {_text(v)}" for k, v in given.items())
            name = f"coalesce(MAP {{{pairs}}}[filename], filename)"
        return nw.from_native(rel.project(", ".join([f"{name} AS {FILE}", f"file_row_number + 2 AS {LINE}",
                                                     *picked])))

    def _remote(self) -> None:
        """Load DuckDB's ``httpfs`` extension (object stores), which DuckDB installs from the internet;
        S3 credentials come from the ``AWS_*`` environment variables, as DuckDB reads them."""
        import duckdb

        try:
            self.con.execute("LOAD httpfs")
        except duckdb.Error:  # not installed yet: DuckDB downloads it
            try:
                self.con.execute("INSTALL httpfs")
                self.con.execute("LOAD httpfs")
            except duckdb.Error as e:
                msg = ("--engine duckdb reads object stores through its httpfs extension, which could not be "
                       f"loaded ({str(e).splitlines()[0]})")
                raise UsageError(msg, hint="run `INSTALL httpfs` in DuckDB once on a machine that is online, "
                                           "or use --engine polars") from None

    def table(self, frame: pl.DataFrame | pl.LazyFrame) -> nw.LazyFrame:
        df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        return nw.from_native(self.con.from_arrow(df.to_arrow()))

    def collect(self, frame: nw.LazyFrame) -> pl.DataFrame:
        out = frame.collect(backend="polars").to_native()
        assert isinstance(out, pl.DataFrame)
        return out

    def json_field(self, frame: nw.LazyFrame, column: str, path: str, alias: str) -> nw.LazyFrame:
        # json_extract_string raises on text that is no JSON, where Polars gives null: json_valid first.
        value = _quoted(column)
        found = f"CASE WHEN json_valid({value}) THEN json_extract_string({value}, {_text(path)}) END"
        return nw.from_native(frame.to_native().project(f"*, {found} AS {_quoted(alias)}"))

    def trimmed(self, frame: nw.LazyFrame, columns: list[str]) -> nw.LazyFrame:
        if not columns:
            return frame
        spaces = _text(WHITESPACE)

        def blank(c: str) -> str:
            # A value whose first and last characters are printable ASCII has nothing to trim: kept without
            # the (costlier) trim (446k billing rows: 0.4 → 0.1 s).
            x = _quoted(c)
            ends = f"ascii({x}) BETWEEN 33 AND 126 AND ascii(right({x}, 1)) BETWEEN 33 AND 126"
            return f"CASE WHEN {ends} THEN {x} ELSE NULLIF(trim({x}, {spaces}), '') END AS {x}"

        replaced = ", ".join(blank(c) for c in columns)
        return nw.from_native(frame.to_native().project(f"* REPLACE ({replaced})"))

    def max_before(self, frame: nw.LazyFrame, value: str, by: list[str], order: list[str], alias: str
                   ) -> nw.LazyFrame:
        over = f"PARTITION BY {', '.join(map(_quoted, by))} ORDER BY {', '.join(map(_quoted, order))}"
        window = f"max({_quoted(value)}) OVER ({over} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
        return nw.from_native(frame.to_native().project(f"*, {window} AS {_quoted(alias)}"))

    def add_months(self, frame: nw.LazyFrame, column: str, months: str, alias: str) -> nw.LazyFrame:
        moved = f"epoch_us(make_timestamp({_quoted(column)}) + to_months(CAST({_quoted(months)} AS INTEGER)))"
        return nw.from_native(frame.to_native().project(f"*, {moved} AS {_quoted(alias)}"))

    def keep(self, frame: nw.LazyFrame) -> nw.LazyFrame:
        self.kept += 1
        name = f"_kpi_kept_{self.kept}"
        frame.to_native().create(name)  # a table of the in-memory database, on this connection
        self.held.append(name)
        return nw.from_native(self.con.table(name))

    def release(self) -> None:
        for name in self.held:
            self.con.execute(f"DROP TABLE IF EXISTS {_quoted(name)}")
        self.held.clear()


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
_MADE: dict[str, Engine] = {}  # the engines engine_for made, by name (one of each per process)


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


def max_before(frame: nw.LazyFrame, value: str, by: list[str], order: list[str], alias: str) -> nw.LazyFrame:
    """:meth:`Engine.max_before` on Narwhals' lazy API."""
    running = frame.with_columns(nw.col(value).cum_max().over(*by, order_by=order).alias("_running_max"))
    return running.with_columns(nw.col("_running_max").shift(1).over(*by, order_by=order).alias(alias)).drop(
        "_running_max")


def reported_as(files: list[str]) -> dict[str, str]:
    """The other names an engine may give a row's file (absolute, resolved, a ``file://`` URI's path),
    each mapped to the name it was given by, so that a row's file is always the given one."""
    from urllib.parse import unquote, urlparse

    out: dict[str, str] = {}
    for given in files:
        if given.lower().startswith("file://"):
            local = unquote(urlparse(given).path)
        elif re.match(r"[A-Za-z][A-Za-z0-9+.-]+:/", given):
            continue  # an object store's URI comes back as given
        else:
            local = given
        for variant in (local, os.path.abspath(local), str(Path(local).resolve())):  # noqa: PTH100
            if variant != given:
                out.setdefault(variant, given)
    return out


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# What Polars' ``str.strip_chars()`` trims: Unicode's White_Space characters (as Rust's ``str::trim``).
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + \
    "\u2028\u2029\u202f\u205f\u3000"


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def engine_for(name: str) -> Engine:
    """The engine called ``name`` (one per process: DuckDB relations join only on one connection, and a
    Spark session is slow to start)."""
    if name not in _MADE:
        _MADE[name] = _made(name)
    return _MADE[name]


def _made(name: str) -> Engine:
    if name == "polars":
        return PolarsEngine()
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        return SparkEngine(SPARK["master"], SPARK["conf"], os.environ.get("SPARK_REMOTE") or None)
    msg = f"--engine {name!r} is not one of polars, duckdb, spark"
    raise UsageError(msg)


def backend(name: str) -> Callable[[pl.DataFrame | pl.LazyFrame], nw.LazyFrame]:
    """A converter from a prepared Polars frame (eager or lazy) to a lazy frame of engine ``name``."""
    return engine_for(name).table
