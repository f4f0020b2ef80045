"""Inline SVG charts from the standard library: a trend line and a scatter, as text.

Every coordinate is printed with one decimal (:func:`num`), nothing random or timed goes in, so the
same data always gives the same bytes. Colours are not set here: elements carry classes
(``line``, ``incomplete``, ``pt``, ``band``, ``grid``, ``axis``) that the page's CSS paints, so dark mode
and print restyle the charts without touching them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

# The trend chart's box in viewBox units; the page scales it to the card's width.
WIDTH, HEIGHT = 300.0, 116.0
TOP, PLOT_HEIGHT = 10.0, 78.0
RIGHT_PAD = 8.0
CHAR_WIDTH = 6.2  # about the widest digit of an 11-unit system sans-serif font
SCATTER_SIZE = 200.0
INSET = 10.0


@dataclass(frozen=True)
class ChartPoint:
    """One point of a trend: its value (None is a gap), whether its period is complete, its tooltip."""

    value: float | None
    complete: bool
    tip: str


def num(x: float) -> str:
    """A coordinate with one decimal, never ``-0.0``.

    Examples
    --------
    >>> num(12.345), num(-0.04), num(3)
    ('12.3', '0.0', '3.0')
    """
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def attrs(values: dict[str, str]) -> str:
    """Attributes as text, values escaped, in the order given.

    Examples
    --------
    >>> attrs({"class": "trend", "data-metric": 'a"b'})
    ' class="trend" data-metric="a&quot;b"'
    """
    return "".join(f' {k}="{escape(v)}"' for k, v in values.items())


def known(value: float | None) -> bool:
    """Whether a value can be drawn (not None, not NaN)."""
    return value is not None and not math.isnan(value)


def value_range(values: Sequence[float]) -> tuple[float, float]:
    """The y range over ``values``; a single level is widened so it sits mid-height.

    Examples
    --------
    >>> value_range([2.0, 5.0]), value_range([10.0]), value_range([0.0])
    ((2.0, 5.0), (9.0, 11.0), (-1.0, 1.0))
    """
    lo, hi = min(values), max(values)
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    return lo, hi


def polyline(coords: Sequence[tuple[float, float]], css: str) -> str:
    """A ``<polyline>`` through ``coords``."""
    pts = " ".join(f"{num(x)},{num(y)}" for x, y in coords)
    return f'<polyline class="{css}" points="{pts}"/>'


def text(x: float, y: float, body: str, anchor: str = "start", css: str = "") -> str:
    """An escaped ``<text>`` element."""
    cls = f' class="{css}"' if css else ""
    return f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}"{cls}>{escape(body)}</text>'


def line_chart(points: Sequence[ChartPoint], y_text: Callable[[float], str], x_first: str, x_last: str,
               data: dict[str, str], band: tuple[float | None, float | None] | None = None,
               reference: float | None = None, band_tip: str = "") -> str:
    """A trend chart: solid line through complete periods, dashed into incomplete ones, gaps for None.

    ``band`` (low, high; one side may be None: open to the edge) shades a benchmark range and
    ``reference`` draws a point benchmark; both widen the y range so they are seen.

    Examples
    --------
    >>> svg = line_chart([ChartPoint(1.0, True, "a"), ChartPoint(2.0, True, "b"), ChartPoint(3.0, False, "c")],
    ...                  str, "Jan", "Mar", {"class": "trend"})
    >>> svg.count("<polyline"), svg.count('class="line incomplete"'), svg.count("<title>")
    (2, 1, 3)
    """
    levels = [p.value for p in points if p.value is not None and known(p.value)]
    if band is not None:
        levels += [b for b in band if b is not None]
    if reference is not None:
        levels.append(reference)
    parts = [f'<svg{attrs(data)} viewBox="0 0 {num(WIDTH)} {num(HEIGHT)}" role="img">']
    if not levels:
        parts.append(text(WIDTH / 2, TOP + PLOT_HEIGHT / 2, "no data", "middle", "axis"))
        parts.append("</svg>")
        return "".join(parts)
    lo, hi = value_range(levels)
    top_label, bottom_label = y_text(hi), y_text(lo)
    # The plot starts after the wider y label, so a long currency amount never runs into the line.
    left = 6.0 + CHAR_WIDTH * max(len(top_label), len(bottom_label))
    width = WIDTH - left - RIGHT_PAD
    bottom = TOP + PLOT_HEIGHT

    def y_of(v: float) -> float:
        return bottom - (v - lo) / (hi - lo) * PLOT_HEIGHT

    def x_of(i: int) -> float:
        return left + width / 2 if len(points) == 1 else left + i * width / (len(points) - 1)

    parts.append(f'<line class="grid" x1="{num(left)}" y1="{num(TOP)}" x2="{num(WIDTH - RIGHT_PAD)}" '
                 f'y2="{num(TOP)}"/><line class="grid" x1="{num(left)}" y1="{num(bottom)}" '
                 f'x2="{num(WIDTH - RIGHT_PAD)}" y2="{num(bottom)}"/>')
    if lo < 0 < hi:  # a series that crosses zero (net MRR churn, FX MRR) shows where zero is
        y0 = num(y_of(0.0))
        parts.append(f'<line class="zero" x1="{num(left)}" y1="{y0}" x2="{num(WIDTH - RIGHT_PAD)}" y2="{y0}"/>')
    if band is not None:
        b_hi = hi if band[1] is None else band[1]
        b_lo = lo if band[0] is None else band[0]
        parts.append(f'<rect class="band" x="{num(left)}" y="{num(y_of(b_hi))}" width="{num(width)}" '
                     f'height="{num(y_of(b_lo) - y_of(b_hi))}"><title>{escape(band_tip)}</title></rect>')
    if reference is not None:
        y = num(y_of(reference))
        parts.append(f'<line class="reference" x1="{num(left)}" y1="{y}" x2="{num(WIDTH - RIGHT_PAD)}" y2="{y}">'
                     f"<title>{escape(band_tip)}</title></line>")
    parts.extend(_lines(points, x_of, y_of))
    for i, p in enumerate(points):
        if p.value is None or not known(p.value):
            continue
        css = "pt" if p.complete else "pt open"
        parts.append(f'<circle class="{css}" cx="{num(x_of(i))}" cy="{num(y_of(p.value))}" r="2.6">'
                     f"<title>{escape(p.tip)}</title></circle>")
    parts.append(f'<g class="axis">{text(left - 4, TOP + 4, top_label, "end")}'
                 f'{text(left - 4, bottom + 4, bottom_label, "end")}'
                 f'{text(left, HEIGHT - 14, x_first)}{text(WIDTH - RIGHT_PAD, HEIGHT - 14, x_last, "end")}</g>')
    parts.append("</svg>")
    return "".join(parts)


def _lines(points: Sequence[ChartPoint], x_of: Callable[[int], float],
           y_of: Callable[[float], float]) -> list[str]:
    """Solid polylines through runs of complete points, a dashed one for each step touching an incomplete one."""
    out: list[str] = []
    run: list[tuple[float, float]] = []
    for i in range(1, len(points)):
        a, b = points[i - 1], points[i]
        if a.value is None or b.value is None or not (known(a.value) and known(b.value)):
            if len(run) > 1:
                out.append(polyline(run, "line"))
            run = []
            continue
        step = [(x_of(i - 1), y_of(a.value)), (x_of(i), y_of(b.value))]
        if a.complete and b.complete:
            run = run + step[1:] if run else step
        else:
            if len(run) > 1:
                out.append(polyline(run, "line"))
            run = []
            out.append(polyline(step, "line incomplete"))
    if len(run) > 1:
        out.append(polyline(run, "line"))
    return out


def scatter_chart(points: Sequence[tuple[float, float, str]], x_text: Callable[[float], str],
                  y_text: Callable[[float], str], x_title: str, y_title: str, data: dict[str, str]) -> str:
    """A square scatter of (x, y, tooltip) with min/max labels on both axes and dotted zero lines.

    Examples
    --------
    >>> svg = scatter_chart([(-1.0, 2.0, "p"), (1.0, -2.0, "q")], str, str, "dx", "dy", {"class": "scatter"})
    >>> svg.count("<circle"), svg.count('class="zero"')
    (2, 2)
    """
    size, pad_bottom, pad = SCATTER_SIZE, 34.0, 8.0
    if not points:
        return (f'<svg{attrs(data)} viewBox="0 0 {num(size)} {num(size)}" role="img">'
                f'{text(size / 2, size / 2, "no pairs", "middle", "axis")}</svg>')
    x_lo, x_hi = value_range([p[0] for p in points])
    y_lo, y_hi = value_range([p[1] for p in points])
    # Room on the left for the rotated axis title and the wider of the two y labels.
    pad_left = 24.0 + CHAR_WIDTH * max(len(y_text(y_lo)), len(y_text(y_hi)))
    total = size + pad_left + pad
    parts = [f'<svg{attrs(data)} viewBox="0 0 {num(total)} {num(size + pad_bottom + pad)}" role="img">']

    inner = size - 2 * INSET  # the extreme points sit inside the frame, not on it

    def x_of(v: float) -> float:
        return pad_left + INSET + (v - x_lo) / (x_hi - x_lo) * inner

    def y_of(v: float) -> float:
        return pad + size - INSET - (v - y_lo) / (y_hi - y_lo) * inner

    parts.append(f'<rect class="frame" x="{num(pad_left)}" y="{num(pad)}" width="{num(size)}" height="{num(size)}"/>')
    if x_lo < 0 < x_hi:
        x0 = num(x_of(0.0))
        parts.append(f'<line class="zero" x1="{x0}" y1="{num(pad)}" x2="{x0}" y2="{num(pad + size)}"/>')
    if y_lo < 0 < y_hi:
        y0 = num(y_of(0.0))
        parts.append(f'<line class="zero" x1="{num(pad_left)}" y1="{y0}" x2="{num(pad_left + size)}" y2="{y0}"/>')
    for x, y, tip in points:
        parts.append(f'<circle class="pt" cx="{num(x_of(x))}" cy="{num(y_of(y))}" r="3.2">'
                     f"<title>{escape(tip)}</title></circle>")
    bottom = pad + size
    parts.append(f'<g class="axis">{text(x_of(x_lo), bottom + 13, x_text(x_lo), "middle")}'
                 f'{text(x_of(x_hi), bottom + 13, x_text(x_hi), "middle")}'
                 f'{text(pad_left + size / 2, bottom + 28, x_title, "middle", "title")}'
                 f'{text(pad_left - 4, y_of(y_hi) + 4, y_text(y_hi), "end")}'
                 f'{text(pad_left - 4, y_of(y_lo) + 4, y_text(y_lo), "end")}'
                 f'<text class="title" transform="translate(12 {num(pad + size / 2)}) rotate(-90)" '
                 f'text-anchor="middle">{escape(y_title)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
