"""Where metric pipelines run: the one module that knows an engine (SPEC §5, issue 11).

An :class:`Engine` scans a source's files with the engine's own reader (instants become Int64 µs
there, natively), makes small tables (period grids, day bounds) on the engine, and collects a lazy
result into Polars. The pipelines in between are written on Narwhals' lazy API, so the same code
runs on each engine. Polars is the default; DuckDB runs in-process on one connection per process
whose session time zone is UTC (DuckDB's ``dt`` parts follow the session zone).

>>> engine = engine_for("polars")
>>> engine.collect(engine.table(pl.DataFrame({"a": [1, 2]})).select(nw.col("a").sum()))["a"].to_list()
[3]
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Protocol

import narwhals as nw
import polars as pl

from kpi_cli.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

# Names the scan gives the columns it adds: the file a row came from (its path) and its line
# (the row's index in its file + 2, as Parquet lines are numbered everywhere else).
FILE, LINE = "_path", "_line"
KEY_SEED = 0x6B7069  # Polars' hash seed for ``_key_`` columns (each engine has its own hash)


class Engine(Protocol):
    """What a pipeline needs from an engine."""

    name: str

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


def keep(engine: Engine, frame: nw.LazyFrame) -> nw.LazyFrame:
    """``frame`` worked out once and held on the engine, for several results read from it.

    Without it an engine recomputes a lazy frame for every result (SQL engines inline it). An engine
    without a ``keep`` method recomputes.
    """
    held = getattr(engine, "keep", None)
    return held(frame) if held is not None else frame


class PolarsEngine:
    """The default engine: Polars' lazy scans, collected on its streaming engine."""

    name = "polars"

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

    def keep(self, frame: nw.LazyFrame) -> nw.LazyFrame:
        return nw.from_native(self.collect(frame).lazy())


class DuckDBEngine:
    """DuckDB in-process: its Parquet reader, its threads, one connection (session zone UTC)."""

    name = "duckdb"

    def __init__(self) -> None:
        import duckdb

        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        self.kept = 0

    def scan(self, files: list[str], columns: dict[str, str], instants: frozenset[str],
             keys: frozenset[str] = frozenset()) -> nw.LazyFrame:
        def quoted(name: str) -> str:
            return '"' + name.replace('"', '""') + '"'

        picked = [f"epoch_us({quoted(h)}) AS {quoted(c)}" if c in instants else f"{quoted(h)} AS {quoted(c)}"
                  for c, h in columns.items()]
        picked += [f"hash({quoted(columns[c])}) AS {quoted('_key_' + c)}" for c in sorted(keys)]
        rel = self.con.read_parquet(files, filename=True, file_row_number=True, union_by_name=True)
        return nw.from_native(rel.project(", ".join([f"filename AS {FILE}", f"file_row_number + 2 AS {LINE}",
                                                     *picked])))

    def table(self, frame: pl.DataFrame | pl.LazyFrame) -> nw.LazyFrame:
        df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
        return nw.from_native(self.con.from_arrow(df.to_arrow()))

    def collect(self, frame: nw.LazyFrame) -> pl.DataFrame:
        out = frame.collect(backend="polars").to_native()
        assert isinstance(out, pl.DataFrame)
        return out

    def keep(self, frame: nw.LazyFrame) -> nw.LazyFrame:
        self.kept += 1
        name = f"_kpi_kept_{self.kept}"
        frame.to_native().create(name)  # a table of the in-memory database, on this connection
        return nw.from_native(self.con.table(name))


@functools.cache
def engine_for(name: str) -> Engine:
    """The engine called ``name`` (one per process: DuckDB relations join only on one connection)."""
    if name == "polars":
        return PolarsEngine()
    if name == "duckdb":
        return DuckDBEngine()
    msg = f"--engine {name!r} is not one of polars, duckdb"
    raise UsageError(msg)


def backend(name: str) -> Callable[[pl.DataFrame | pl.LazyFrame], nw.LazyFrame]:
    """A converter from a prepared Polars frame (eager or lazy) to a lazy frame of engine ``name``."""
    return engine_for(name).table
