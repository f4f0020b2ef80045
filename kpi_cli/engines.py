"""Where metric pipelines run: the adapter that knows each engine (SPEC §5, issue 11). Polars and DuckDB
live here, Spark in :mod:`kpi_cli.engine_spark` (re-exported), what they share in :mod:`kpi_cli.engine_parts`.

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
from typing import TYPE_CHECKING, Protocol

import narwhals as nw
import polars as pl

from kpi_cli.engine_parts import FILE, KEY_SEED, LINE, WHITESPACE, max_before, quoted, reported_as, sql_text
from kpi_cli.engine_spark import SPARK, SPARK_SESSION, SparkEngine, configure_spark
from kpi_cli.errors import UsageError
from kpi_cli.money import PICO_SQL

if TYPE_CHECKING:
    from collections.abc import Callable



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
        picked = [f"epoch_us({quoted(h)}) AS {quoted(c)}" if c in instants else f"{quoted(h)} AS {quoted(c)}"
                  for c, h in columns.items()]
        picked += [f"hash({quoted(columns[c])}) AS {quoted('_key_' + c)}" for c in sorted(keys)]
        if any(re.match(r"[A-Za-z][A-Za-z0-9+.-]+://", f) and not f.startswith("file://") for f in files):
            self._remote()
        rel = self.con.read_parquet(files, filename=True, file_row_number=True, union_by_name=True)
        name = "filename"
        given = reported_as(files)
        if given:  # each row names its file as given (DuckDB drops file:// and may qualify a path)
            pairs = ", ".join(f"{sql_text(k)}: {sql_text(v)}" for k, v in given.items())
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
        value = quoted(column)
        found = f"CASE WHEN json_valid({value}) THEN json_extract_string({value}, {sql_text(path)}) END"
        return nw.from_native(frame.to_native().project(f"*, {found} AS {quoted(alias)}"))

    def trimmed(self, frame: nw.LazyFrame, columns: list[str]) -> nw.LazyFrame:
        if not columns:
            return frame
        spaces = sql_text(WHITESPACE)

        def blank(c: str) -> str:
            # A value whose first and last characters are printable ASCII has nothing to trim: kept without
            # the (costlier) trim (446k billing rows: 0.4 → 0.1 s).
            x = quoted(c)
            ends = f"ascii({x}) BETWEEN 33 AND 126 AND ascii(right({x}, 1)) BETWEEN 33 AND 126"
            return f"CASE WHEN {ends} THEN {x} ELSE NULLIF(trim({x}, {spaces}), '') END AS {x}"

        replaced = ", ".join(blank(c) for c in columns)
        return nw.from_native(frame.to_native().project(f"* REPLACE ({replaced})"))

    def max_before(self, frame: nw.LazyFrame, value: str, by: list[str], order: list[str], alias: str
                   ) -> nw.LazyFrame:
        over = f"PARTITION BY {', '.join(map(quoted, by))} ORDER BY {', '.join(map(quoted, order))}"
        window = f"max({quoted(value)}) OVER ({over} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
        return nw.from_native(frame.to_native().project(f"*, {window} AS {quoted(alias)}"))

    def add_months(self, frame: nw.LazyFrame, column: str, months: str, alias: str) -> nw.LazyFrame:
        moved = f"epoch_us(make_timestamp({quoted(column)}) + to_months(CAST({quoted(months)} AS INTEGER)))"
        return nw.from_native(frame.to_native().project(f"*, {moved} AS {quoted(alias)}"))

    def keep(self, frame: nw.LazyFrame) -> nw.LazyFrame:
        self.kept += 1
        name = f"_kpi_kept_{self.kept}"
        frame.to_native().create(name)  # a table of the in-memory database, on this connection
        self.held.append(name)
        return nw.from_native(self.con.table(name))

    def release(self) -> None:
        for name in self.held:
            self.con.execute(f"DROP TABLE IF EXISTS {quoted(name)}")
        self.held.clear()




# Re-exported: what callers and tests reach through this module.
__all__ = ["FILE", "KEY_SEED", "LINE", "SPARK_SESSION", "WHITESPACE", "Engine", "SparkEngine", "configure_spark",
           "engine_for", "keep", "max_before", "release_held", "reported_as"]
_MADE: dict[str, Engine] = {}  # the engines engine_for made, by name (one of each per process)


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
