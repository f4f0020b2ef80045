"""How a metric's change between two periods is measured (SPEC §3.5), shared by ``kpi report`` and ``kpi tree``.

Ratios change in percentage points (as a fraction: +1 pp = 0.01), scores in points, everything
else relatively (as a fraction: +10% = 0.10). A relative change from a zero or null base is null:
the relative change of a rate is never reported (churn 2% → 3% is +1 pp, not "+50%").
"""

from __future__ import annotations

ABSOLUTE = {"ratio": "pp", "score": "points"}


def change_unit(unit: str) -> str:
    """``pp``, ``points`` or ``pct`` for a metric unit.

    Examples
    --------
    >>> change_unit("ratio"), change_unit("score"), change_unit("currency")
    ('pp', 'points', 'pct')
    """
    return ABSOLUTE.get(unit, "pct")


def change(value: float | None, base: float | None, unit: str) -> float | None:
    """The change from ``base`` to ``value`` in the unit :func:`change_unit` names.

    Examples
    --------
    >>> round(change(0.03, 0.02, "ratio"), 10)
    0.01
    >>> round(change(110.0, 100.0, "currency"), 10)
    0.1
    >>> change(5.0, 0.0, "count") is None
    True
    """
    if value is None or base is None:
        return None
    if unit in ABSOLUTE:
        return value - base
    if base == 0:
        return None
    return value / base - 1
