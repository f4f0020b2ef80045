"""Sums of money that do not depend on the order of their terms (SPEC §4.2: byte-identical reruns).

A float sum depends on the order its terms are added in, and a parallel group-by adds them in
whatever order its threads and hash tables produce: reruns of the same command then differ in the
last digit (``91701.31435465`` against ``91701.31435464999``). Each term is turned into a whole
number of pico-units (10⁻¹² of a currency unit) and the integers are summed, exactly, in 128 bits;
integer addition is associative, so any order, thread count or engine gives the same bits. A
decimal scale keeps amounts people write (``49.90``, ``0.1 + 0.2``) exact, and 10⁻¹² keeps even
a ratio of tiny amounts (a $0.05 yearly plan is 0.004 a month) within 10⁻⁹ of the exact value.

Engines without 128-bit integers (Narwhals' Spark backend has none) hold the same fixed point as
``Decimal(38, 12)`` (:data:`DECIMAL`, an engine's ``money``; :func:`money_for`): decimal sums are
exact too, so reruns give the same bits there, and equal Polars' within a pico-unit per term.

Examples
--------
>>> import polars as pl

if TYPE_CHECKING:
    from collections.abc import Callable
>>> frame = pl.DataFrame({"v": [0.1, 0.2, 100 / 3]})
>>> frame.select(fsum(pl.col("v"))).item()
33.633333333333
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import narwhals as nw
import polars as pl

if TYPE_CHECKING:
    from collections.abc import Callable

DIGITS = 12
SCALE = 10**DIGITS  # pico-units per currency unit
WHOLE_DIGITS = 18  # amounts below 10^18 currency units
PAD = 10 ** (WHOLE_DIGITS + DIGITS)

E = TypeVar("E", pl.Expr, nw.Expr)


def fixed(expr: E) -> E:
    """``expr`` (Float64) as a whole number of pico-units, Int128, a half rounded away from zero.

    Engines break a tie differently (Polars to even, DuckDB and Spark's decimals away from zero): a term
    ``x · 10¹²`` that ends in exactly .5 (a plan of 8,192.21 a year, per month) would be a pico-unit apart, and
    a running sum of such terms a float apart. Narwhals' ``round`` has no mode: the magnitude's whole
    part plus one where its fraction (exact for a float) is at least ½, signed (arithmetic, no branch: a
    branch made Polars plan each revenue query twice as long).
    """
    scaled = expr * SCALE
    if isinstance(scaled, pl.Expr):
        return scaled.round(0, mode="half_away_from_zero").cast(pl.Int128)  # type: ignore[return-value]
    size = scaled.abs()
    whole = size.floor()
    up = (size - whole >= 0.5).cast(nw.Float64)
    sign = (scaled >= 0).cast(nw.Float64) * 2 - 1
    return ((whole + up) * sign).cast(nw.Int128)  # type: ignore[return-value]


def unfixed(expr: E) -> E:
    """Pico-units back to a Float64 amount: the float nearest the decimal, as people wrote it.

    The integer is written out as decimal text with the point put in, then parsed: Polars divides
    floats through a reciprocal, which leaves ``0.09999999999999999`` where the sum is ``0.1``. Only
    sums pass through here, so the text costs little.
    """
    ns = nw if isinstance(expr, nw.Expr) else pl
    # 10^30 + |x| is written with exactly 31 digits ("1", 18 whole, 12 fraction): the digits are cut
    # out of the text, so no division, floor or zero-padding is needed (on SQL engines each of those
    # expands into several CASEs per row; 445k change points: 1.46 → 0.2 s on DuckDB).
    text = (expr.abs() + ns.lit(PAD, dtype=ns.Int128)).cast(ns.String)
    whole, fraction = text.str.slice(1, WHOLE_DIGITS), text.str.slice(1 + WHOLE_DIGITS, DIGITS)
    value = ns.concat_str([whole, ns.lit("."), fraction]).cast(ns.Float64)
    return ns.when(expr < 0).then(-value).otherwise(value)  # type: ignore[return-value]


def fsum(expr: E) -> E:
    """The sum of ``expr`` in any order: each term rounded to 10⁻¹², added exactly."""
    return unfixed(fixed(expr).sum())


@dataclass(frozen=True)
class Money:
    """How one engine holds fixed-point money: ``fixed`` a Float64 into it, ``unfixed`` back to a Float64."""

    name: str
    fixed: Callable[[nw.Expr], nw.Expr]
    unfixed: Callable[[nw.Expr], nw.Expr]

    def fsum(self, expr: nw.Expr) -> nw.Expr:
        """The sum of ``expr`` in any order: each term rounded to 10⁻¹², added exactly."""
        return self.unfixed(self.fixed(expr).sum())


DECIMAL_TYPE = nw.Decimal(38, DIGITS)  # amounts below 10^26 currency units, like the Int128 ones' 10^18


def _to_decimal(expr: nw.Expr) -> nw.Expr:
    # Spark rounds the float's shortest decimal text half up to 12 places: 49.9 is 49.900000000000
    # exactly, and a term differs from Polars' rounding of x · 10^12 by a pico-unit at most.
    return expr.cast(DECIMAL_TYPE)


def _from_decimal(expr: nw.Expr) -> nw.Expr:
    # Through the decimal's text, parsed: the float nearest the decimal, as Polars' ``unfixed`` gives
    # (a parse rounds correctly; a division need not).
    return expr.cast(nw.String).cast(nw.Float64)


def _fixed_by_sql_round(expr: nw.Expr) -> nw.Expr:
    # An engine whose ``round`` breaks a tie away from zero already (DuckDB) needs no tie test, and a SQL
    # engine writes out each use of an expression again: the test's copies made DuckDB plan the revenue
    # queries 3× slower (golden revenue, every metric id: 3.8 → 11.5 s).
    return (expr * SCALE).round(0).cast(nw.Int128)


PICO = Money("Int128 pico-units", fixed, unfixed)  # Polars: the bits of the functions above
PICO_SQL = Money("Int128 pico-units", _fixed_by_sql_round, unfixed)  # DuckDB: the same bits, its own round
DECIMAL = Money("Decimal(38, 12)", _to_decimal, _from_decimal)  # Spark


def money_for(engine: object) -> Money:
    """The money of ``engine``: its ``money`` attribute, else Int128 pico-units (:data:`PICO`)."""
    held = getattr(engine, "money", PICO)
    assert isinstance(held, Money)
    return held
