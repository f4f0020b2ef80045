"""Sums of money that do not depend on the order of their terms (SPEC §4.2: byte-identical reruns).

A float sum depends on the order its terms are added in, and a parallel group-by adds them in
whatever order its threads and hash tables produce: reruns of the same command then differ in the
last digit (``91701.31435465`` against ``91701.31435464999``). Each term is turned into a whole
number of nano-units (10⁻⁹ of a currency unit) and the integers are summed, exactly, in 128 bits;
integer addition is associative, so any order, thread count or engine gives the same bits. A
decimal scale keeps amounts people write (``49.90``, ``0.1 + 0.2``) exact, and 10⁻⁹ is far below
the cent that any money figure is read at.

Examples
--------
>>> import polars as pl
>>> frame = pl.DataFrame({"v": [0.1, 0.2, 100 / 3]})
>>> frame.select(fsum(pl.col("v"))).item()
33.633333333
"""

from __future__ import annotations

from typing import TypeVar

import narwhals as nw
import polars as pl

SCALE = 1_000_000_000  # nano-units per currency unit

E = TypeVar("E", pl.Expr, nw.Expr)


def fixed(expr: E) -> E:
    """``expr`` (Float64) as a whole number of nano-units, Int128."""
    dtype = nw.Int128 if isinstance(expr, nw.Expr) else pl.Int128
    return (expr * SCALE).round(0).cast(dtype)  # type: ignore[return-value]


def unfixed(expr: E) -> E:
    """Nano-units back to a Float64 amount: the nearest float to the decimal, as people wrote it.

    Whole units and the fraction are converted apart: Polars divides a column by a constant
    through its reciprocal, which leaves ``4633.686812667001`` where the amount is ``4633.686812667``.
    """
    dtype = nw.Float64 if isinstance(expr, nw.Expr) else pl.Float64
    return (expr // SCALE).cast(dtype) + (expr % SCALE).cast(dtype) / SCALE  # type: ignore[return-value]


def fsum(expr: E) -> E:
    """The sum of ``expr`` in any order: each term rounded to 10⁻⁹, added exactly."""
    return unfixed(fixed(expr).sum())
