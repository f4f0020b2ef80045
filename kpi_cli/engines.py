"""Where metric pipelines run: Polars by default, DuckDB as a second local engine (SPEC §5)."""

from __future__ import annotations

from collections.abc import Callable

import narwhals as nw
import polars as pl


def backend(name: str) -> Callable[[pl.DataFrame | pl.LazyFrame], nw.LazyFrame]:
    """A converter from a prepared Polars frame (eager or lazy) to a lazy frame of engine ``name``."""
    if name == "duckdb":
        import duckdb

        def to_duckdb(frame: pl.DataFrame | pl.LazyFrame) -> nw.LazyFrame:
            df = frame.collect() if isinstance(frame, pl.LazyFrame) else frame
            # Relations live on DuckDB's default connection, where Narwhals runs its queries.
            return nw.from_native(duckdb.from_arrow(df.to_arrow()))

        return to_duckdb
    return lambda frame: nw.from_native(frame.lazy())
