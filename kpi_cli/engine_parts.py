"""What the engine adapters share: the names a scan adds, SQL quoting, the whitespace Polars trims, and
the operations an engine without a faster spelling writes on Narwhals (see :mod:`kpi_cli.engines`)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import narwhals as nw

# Names the scan gives the columns it adds: the file a row came from (its path) and its line
# (the row's index in its file + 2, as Parquet lines are numbered everywhere else).
FILE, LINE = "_path", "_line"
KEY_SEED = 0x6B7069  # Polars' hash seed for ``_key_`` columns (each engine has its own hash)


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


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# What Polars' ``str.strip_chars()`` trims: Unicode's White_Space characters (as Rust's ``str::trim``).
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B)) + \
    "\u2028\u2029\u202f\u205f\u3000"


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
