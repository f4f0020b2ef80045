"""One parser per kind of value, used for every column of that kind in every source.

Numbers follow SPEC §1.3 (sign, digits, one decimal point, exponent, a currency symbol; a
comma only where the source declares it), instants §1.2 (ISO-8601, the warehouse ``… UTC``
form, dates, or Unix epochs whose unit each cell's magnitude decides). Instants become
``Int64`` microseconds since the epoch in UTC. A blank cell (empty or whitespace) is null for
every kind, so every rule after parsing sees a blank exactly as an absent column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kpi_cli.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import polars as pl

TRUE = ("true", "t", "yes", "y", "1")
FALSE = ("false", "f", "no", "n", "0")

# Epoch units by magnitude: the valid 1900–2200 span of each unit lies inside its band, so a cell's
# size alone tells its unit (1e11 s is the year 5138; 1e11 ms is 1973).
EPOCH_BANDS = ((100_000_000_000, "s", 1_000_000), (100_000_000_000_000, "ms", 1_000),
               (100_000_000_000_000_000, "µs", 1))
EPOCH_UNITS = ("s", "ms", "µs", "ns")
MIN_INSTANT = -2_208_988_800_000_000  # 1900-01-01 in µs
MAX_INSTANT = 7_258_118_400_000_000  # 2200-01-01 in µs
MAX_MAGNITUDE = 1e15

# A currency symbol before the number (after an optional sign: "-$5", "US$ 5") or after it ("5 €").
_SYMBOLS = "$€£¥₹₩₽₺₪₫₱₴₦฿¢"
_SYMBOL = rf"^([+-]?)(?:[A-Z]{{0,3}}\$|[{_SYMBOLS[1:]}])\s?|\s?[{re.escape(_SYMBOLS)}]$"
THOUSANDS = {".": r"\.", ",": ",", " ": "[ \u00a0\u202f]"}  # a space may be a (narrow) no-break one


@dataclass(frozen=True)
class NumberFormat:
    """How a source writes numbers: ``[sources.S] decimal`` and ``thousands`` (SPEC §1.3)."""

    decimal: str = "."
    thousands: str | None = None

    @classmethod
    def of(cls, source: str, table: Mapping[str, Any]) -> NumberFormat:
        """The source's declared format; a value outside the allowed ones is a usage error."""
        decimal = str(table.get("decimal") or ".")
        thousands = table.get("thousands")
        if decimal not in (".", ","):
            msg = f"[sources.{source}] decimal = {decimal!r} is not \".\" or \",\""
            raise UsageError(msg, hint=f'set [sources.{source}] decimal = "," (or remove it for ".")')
        if thousands is not None and (thousands not in THOUSANDS or thousands == decimal):
            msg = f"[sources.{source}] thousands = {thousands!r} must be \".\", \",\" or \" \" and differ from decimal"
            raise UsageError(msg, hint=f'e.g. [sources.{source}] decimal = "," and thousands = "."')
        return cls(decimal, thousands)

    @property
    def comma_hint(self) -> bool:
        """A comma is not part of this format, so a number holding one gets the setting's hint."""
        return "," not in (self.decimal, self.thousands)


def number(text: pl.Expr, fmt: NumberFormat = NumberFormat()) -> pl.Expr:
    """Trimmed text to ``Float64``: sign, digits, one decimal point, exponent, a currency symbol.

    Anything else (a comma the format does not declare, ``1_000``, two points) is null. NaN and
    infinities parse here and are rejected by the checks, which name them.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["-$1.5", "€ 2", "49,90", "1e3"])
    >>> s.to_frame("x").select(number(pl.col("x")))["x"].to_list()
    [-1.5, 2.0, None, 1000.0]
    """
    import polars as pl

    body = text.str.replace_all(_SYMBOL, "$1")
    if fmt.thousands is not None:
        sep, point = THOUSANDS[fmt.thousands], re.escape(fmt.decimal)
        grouped = rf"^[+-]?\d{{1,3}}(?:{sep}\d{{3}})+(?:{point}\d*)?(?:[eE][+-]?\d+)?$"
        body = pl.when(body.str.contains(grouped)).then(body.str.replace_all(sep, "")).otherwise(body)
    if fmt.decimal == ",":
        # A point left over is neither the decimal nor a well-grouped thousands separator.
        body = pl.when(body.str.contains(".", literal=True)).then(None).otherwise(
            body.str.replace(",", ".", literal=True))
    return body.cast(pl.Float64, strict=False)


def instant(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Expression turning a raw timestamp column into UTC microseconds (null if unparseable).

    Typed columns (dates, datetimes, numbers) are converted without any text work.
    """
    import polars as pl

    if dtype == pl.Date:
        return expr.cast(pl.Datetime("us")).cast(pl.Int64)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            expr = expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return expr.dt.cast_time_unit("us").cast(pl.Int64)
    if dtype.is_integer():
        return _epoch(expr.cast(pl.Int64, strict=False))
    if dtype.is_numeric():
        return _epoch_float(expr.cast(pl.Float64))
    # The warehouse form "2024-02-28 10:00:00 UTC" is an offset like any other.
    text = (expr.cast(pl.String).str.strip_chars().str.replace(" UTC", "+00:00", literal=True)
            .str.replace("T", " ", literal=True))
    aware = text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%#z", strict=False, time_unit="us")
    aware = aware.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return pl.coalesce(
        aware,
        text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us"),
        text.str.to_datetime("%Y-%m-%d %H:%M", strict=False, time_unit="us"),
        text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
        text.str.to_date("%Y/%m/%d", strict=False).cast(pl.Datetime("us")),
    ).cast(pl.Int64).fill_null(_text_epoch(text))


def _text_epoch(text: pl.Expr) -> pl.Expr:
    """An epoch written as text: whole numbers exactly, decimals (``1709251200.5``) as floats."""
    import polars as pl

    ints = text.cast(pl.Int64, strict=False)
    return pl.coalesce(_epoch(ints), _epoch_float(pl.when(ints.is_null()).then(text).cast(pl.Float64, strict=False)))


def _epoch(ints: pl.Expr) -> pl.Expr:
    """Whole epochs to µs, the unit of each cell decided by its magnitude."""
    import polars as pl

    size = ints.abs()
    out: Any = pl
    for limit, _unit, scale in EPOCH_BANDS:
        out = out.when(size < limit).then(ints * scale)
    return out.otherwise(ints.floordiv(1_000))


def _epoch_float(floats: pl.Expr) -> pl.Expr:
    import polars as pl

    size = floats.abs()
    out: Any = pl
    for limit, _unit, scale in EPOCH_BANDS:
        out = out.when(size < limit).then(floats * scale)
    us = out.otherwise(floats / 1_000)
    return pl.when(floats.is_finite()).then(us.round(0)).cast(pl.Int64, strict=False)


def epoch_unit(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    """Index in :data:`EPOCH_UNITS` of each epoch cell's unit (null for other cells), or None
    when the column cannot hold epochs (dates, datetimes)."""
    import polars as pl

    if dtype == pl.Date or isinstance(dtype, pl.Datetime) or not (dtype.is_numeric() or dtype == pl.String):
        return None
    if dtype.is_numeric():
        size = expr.cast(pl.Float64).abs()
        is_epoch = expr.is_not_null()
    else:
        text = expr.str.strip_chars()
        size = text.cast(pl.Float64, strict=False).abs()
        is_epoch = size.is_finite() & text.str.contains(r"^[+-]?\d+(?:\.\d*)?$")
    code: Any = pl
    for i, (limit, _unit, _scale) in enumerate(EPOCH_BANDS):
        code = code.when(size < limit).then(pl.lit(i, dtype=pl.UInt8))
    return pl.when(is_epoch).then(code.otherwise(pl.lit(len(EPOCH_BANDS), dtype=pl.UInt8)))


def typed(name: str, kind: str, dtype: pl.DataType, trim: bool = True,
          fmt: NumberFormat = NumberFormat()) -> pl.Expr:
    """Parse column ``name`` of ``kind`` from its raw ``dtype``; a blank is null for every kind.

    Text is trimmed and a blank (empty or whitespace-only) is null. With ``trim=False`` (a Parquet
    events log: strings a program wrote, tens of millions of them) text is kept as written and
    only the empty string is null, which is over ten times cheaper than trimming every cell.
    """
    import polars as pl

    col = pl.col(name)
    if kind == "ts":
        return instant(col, dtype).alias(name)
    if kind in ("num", "int"):
        if dtype.is_numeric():
            return col.cast(pl.Float64).alias(name)
        return number(col.cast(pl.String).str.strip_chars(), fmt).alias(name)
    if kind == "bool":
        if dtype == pl.Boolean:
            return col.alias(name)
        text = col.cast(pl.String).str.strip_chars().str.to_lowercase()
        return (pl.when(text.is_in(TRUE)).then(True).when(text.is_in(FALSE)).then(False)
                .otherwise(None).alias(name))
    if kind == "json" and dtype != pl.String:  # a struct; JSON text is text, blank included
        return col.alias(name)
    if dtype == pl.String:
        if trim:
            text = col.str.strip_chars()
            return pl.when(text.str.len_bytes() == 0).then(None).otherwise(text).alias(name)
        return pl.when(col.str.len_bytes() == 0).then(None).otherwise(col).alias(name)
    return col.cast(pl.String).alias(name)
