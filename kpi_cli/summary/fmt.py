"""Changes and sparklines as text, shared by the terminal report and the HTML page."""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = "▁▂▃▄▅▆▇█"
ASCII = "_.-=+*#@"  # eight levels for consoles that cannot print the block characters
MINUS = "−"


def fmt_change(change: float | None, change_unit: str, decimals: int | None = None) -> str:
    """A change as text in its unit: ``pp`` and ``pct`` are fractions, ``points`` are points (two decimals
    under one point, so a quick ratio's −0.03 is not shown as ±0.0).

    Examples
    --------
    >>> fmt_change(0.012, "pp"), fmt_change(-0.034, "pct"), fmt_change(5.0, "points"), fmt_change(None, "pct")
    ('+1.2 pp', '−3.4%', '+5.0 pts', '—')
    >>> fmt_change(-0.032, "points"), fmt_change(0.0, "pp")
    ('−0.03 pts', '±0.0 pp')
    """
    if change is None:
        return "—"
    shown = change * 100 if change_unit in ("pp", "pct") else change
    if decimals is None:
        decimals = 2 if change_unit == "points" and abs(shown) < 1 else 1
    text = f"{abs(shown):,.{decimals}f}"
    if float(text.replace(",", "")) == 0:
        sign = "±"
    else:
        sign = "+" if shown > 0 else MINUS
    suffix = {"pp": " pp", "pct": "%", "points": " pts"}[change_unit]
    return f"{sign}{text}{suffix}"


def fmt_rho(v: float | None) -> str:
    """A correlation with its sign and two decimals, a real minus sign as SPEC writes it.

    Examples
    --------
    >>> fmt_rho(-0.853), fmt_rho(0.5), fmt_rho(None)
    ('−0.85', '+0.50', '—')
    """
    return "—" if v is None else f"{v:+.2f}".replace("-", MINUS)


def sparkline(values: Sequence[float | None], ascii_only: bool = False) -> str:
    """Eight-level sparkline, min–max scaled; a missing value is a space, a flat series sits mid-height.

    Examples
    --------
    >>> sparkline([1, 2, 3, 4, 5, 6, 7, 8])
    '▁▂▃▄▅▆▇█'
    >>> sparkline([3.0, None, 3.0])
    '▄ ▄'
    >>> sparkline([0, 10], ascii_only=True)
    '_@'
    """
    chars = ASCII if ascii_only else BLOCKS
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    lo, hi = min(known), max(known)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif hi == lo:
            out.append(chars[3])
        else:
            out.append(chars[min(7, int((v - lo) / (hi - lo) * 8))])
    return "".join(out)


def fmt_level(v: float | None, unit: str, currency: str = "USD") -> str:
    """A value beside a small change: rates with two decimals (a 0.07 pp change between two "3.8%" would
    read as no change), everything else as :func:`kpi_cli.render.fmt_value` shows it.

    Examples
    --------
    >>> fmt_level(0.03841, "ratio"), fmt_level(1234.5, "currency")
    ('3.84%', '$1,234.50')
    """
    from kpi_cli.render import fmt_value

    return f"{v * 100:.2f}%" if unit == "ratio" and v is not None else fmt_value(v, unit, currency)
