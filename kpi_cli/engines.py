"""Where metric pipelines run: Polars by default, DuckDB as a second local engine (SPEC §5)."""

from __future__ import annotations

from collections.abc import Callable

import narwhals as nw
import polars as pl


def backend(name: str) -> Callable[[pl.DataFrame], nw.LazyFrame]:
    """A converter from a prepared Polars frame to a lazy frame of engine ``name``."""
    if name == "duckdb":
        import duckdb

        # Relations live on DuckDB's default connection, where Narwhals runs its queries.
        return lambda df: nw.from_native(duckdb.from_arrow(df.to_arrow()))
    return lambda df: nw.from_native(df.lazy())
