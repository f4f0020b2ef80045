"""Tables for people: one renderer that labels periods by grain and fits any table to a width.

Every table command builds a :class:`Grid` (header and formatted cells per column) and hands it to
:func:`fit`, which returns the Rich tables to print. A number is never cut or wrapped (SPEC §4.2):
when the grid is wider than the width, it is shown with rows and columns swapped (metrics as rows),
and when that is still too wide, split into several tables that repeat the label columns. Header
labels and free text may wrap at spaces.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from kpi_cli.registry import METRICS

if TYPE_CHECKING:
    import polars as pl
    from rich.console import RenderableType
    from rich.table import Table

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
INCOMPLETE = "* incomplete period: ends after --as-of or after the last timestamp in the data"
FAINT = "bright_black"
FEW_RESPONSES = 30  # SPEC §3.4: tables grey out NPS groups with n < 30
FEW_CAPTION = "grey NPS: fewer than 30 responses, its margin is too wide to read"
# Rich's default box with its edge: one border per column plus one, and one space either side of a cell.
CHROME_PER_COLUMN, CHROME_EDGE = 3, 1


def fmt_value(v: float | None, unit: str, currency: str = "USD", decimals: int | None = None) -> str:
    """A value as a person reads it; ``decimals`` fixes the places of a count or score.

    Examples
    --------
    >>> fmt_value(0.2, "ratio"), fmt_value(1234.5, "currency"), fmt_value(None, "ratio")
    ('20.0%', '$1,234.50', '—')
    >>> fmt_value(70314.35, "currency"), fmt_value(6.0, "count"), fmt_value(43.1, "count")
    ('$70,314', '6', '43.10')
    >>> fmt_value(43.0, "count", decimals=2), fmt_value(-1234.5, "currency", "CHF")
    ('43.00', '-1,234.50 CHF')
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if unit == "ratio":
        return f"{v * 100:.1f}%"
    if unit == "currency":
        sym = SYMBOLS.get(currency, "")
        text = f"{abs(v):,.0f}" if abs(v) >= 10_000 else f"{abs(v):,.2f}"
        sign = "-" if v < 0 and text.strip("0.,") else ""
        return f"{sign}{sym}{text}" if sym else f"{sign}{text} {currency}"
    if decimals is None:
        decimals = 0 if float(v).is_integer() else 2
    return f"{v:,.{decimals}f}"


def fmt_column(values: Sequence[float | None], unit: str, currency: str = "USD") -> list[str]:
    """One column's cells: a count or score column prints whole numbers only when every value is whole.

    So an average like DAU keeps two decimals on every row, and customers never show ``.0``.

    Examples
    --------
    >>> fmt_column([6.0, 83.0, None], "count"), fmt_column([43.0, 45.333], "count")
    (['6', '83', '—'], ['43.00', '45.33'])
    """
    decimals = None
    if unit not in ("ratio", "currency"):
        whole = all(float(v).is_integer() for v in values if v is not None and not math.isnan(v))
        decimals = 0 if whole else 2
    return [fmt_value(v, unit, currency, decimals) for v in values]


def fmt_nps(value: float | None, moe: float | None, n: float | None) -> str:
    """An NPS with its 95% margin and responses, as SPEC §3.4's tables show it.

    Examples
    --------
    >>> fmt_nps(20.0, 54.2, 10.0), fmt_nps(-3.4, None, 1.0), fmt_nps(None, None, 0.0)
    ('+20 ±54 (n=10)', '-3 (n=1)', '—')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    margin = "" if moe is None or math.isnan(moe) else f" ±{moe:.0f}"
    count = "" if n is None else f" (n={n:.0f})"
    return f"{value:+.0f}{margin}{count}"


def fmt_seconds(v: float | None) -> str:
    """Seconds as a person reads a duration.

    Examples
    --------
    >>> fmt_seconds(484034), fmt_seconds(450), fmt_seconds(None)
    ('5d 14h', '7m 30s', '—')
    """
    if v is None:
        return "—"
    s = round(v)
    for size, unit, sub, subunit in ((86400, "d", 3600, "h"), (3600, "h", 60, "m"), (60, "m", 1, "s")):
        if s >= size:
            return f"{s // size}{unit} {(s % size) // sub}{subunit}"
    return f"{s}s"


def period_label(first_day: date | None, grain: str) -> str:
    """A period as its grain names it (SPEC §4.2); weeks by their first day, under a ``week of`` header.

    Examples
    --------
    >>> [period_label(date(2024, 3, 4), g) for g in ("day", "week", "month", "quarter", "year")]
    ['2024-03-04', '2024-03-04', '2024-03', '2024-Q1', '2024']
    """
    if first_day is None:
        return "—"
    if grain in ("day", "week"):
        return first_day.isoformat()
    if grain == "quarter":
        return f"{first_day.year}-Q{(first_day.month - 1) // 3 + 1}"
    if grain == "year":
        return str(first_day.year)
    return first_day.isoformat()[:7]


def period_header(name: str, grain: str) -> str:
    """The header over period labels: ``week of`` for weeks (a cohort's ``cohort (week of)``)."""
    if grain != "week":
        return name
    return "week of" if name == "period" else f"{name} (week of)"


def terminal_width(stream: Any) -> int | None:
    """The width tables must fit on ``stream``: the terminal's; elsewhere ``COLUMNS`` when set, else None.

    None means no limit: a table written to a pipe or a file is neither wrapped nor cut (SPEC §4.2).
    """
    tty = bool(getattr(stream, "isatty", lambda: False)())
    if tty:
        try:
            return max(os.get_terminal_size(stream.fileno()).columns, 1)
        except (OSError, ValueError, AttributeError):
            pass  # a terminal-like stream with no real descriptor (a test runner): COLUMNS, else 80
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return 80 if tty else None


@dataclass
class Column:
    """One column of a table: its header and its cells, already formatted.

    ``wrap``: the cells are free text that may wrap at spaces; numbers, dates and ids never wrap.
    """

    header: str
    cells: list[str]
    wrap: bool = False
    right: bool = True
    faint: list[bool] = field(default_factory=list)  # cells shown grey (an NPS of fewer than 30 responses)

    def bounds(self) -> tuple[int, int, int]:
        """(narrowest, cells whole, natural) widths: below the second only free-text cells wrap,
        between the second and the third only the header does."""
        from rich.cells import cell_len

        def longest_word(text: str) -> int:
            return max((cell_len(w) for w in text.split()), default=0)

        full = max((cell_len(c) for c in self.cells), default=0)
        narrow = max((longest_word(c) for c in self.cells), default=0) if self.wrap else full
        lo = max(narrow, longest_word(self.header), 1)
        return lo, max(full, lo), max(full, cell_len(self.header), 1)


@dataclass
class Grid:
    """A table to show: columns, how many leading ones label a row, and how to turn it.

    ``flip`` gives the same cells with rows and columns swapped (periods as columns), tried first
    when the grid is too wide; the label columns are the ones repeated in every part of a split.
    """

    columns: list[Column]
    labels: int = 1
    title: str | None = None
    caption: str | None = None
    flip: Callable[[], Grid] | None = field(default=None, repr=False)

    @property
    def rows(self) -> int:
        """How many body rows the grid has."""
        return len(self.columns[0].cells) if self.columns else 0


def flipped(grid: Grid, corner: str, prefix: str = "") -> Grid:
    """``grid`` turned: each value column becomes a row labelled by its header, each row a column
    headed by its labels (``prefix`` first: ``week of``)."""
    labels, values = grid.columns[: grid.labels], grid.columns[grid.labels :]
    heads = [" ".join(c.cells[i] for c in labels) for i in range(grid.rows)]
    columns = [Column(corner, [c.header for c in values], wrap=True, right=False)]
    columns += [Column(f"{prefix}{head}", [c.cells[i] for c in values],
                       faint=[bool(c.faint) and c.faint[i] for c in values]) for i, head in enumerate(heads)]
    return Grid(columns, 1, grid.title, grid.caption)


def _need(widths: Sequence[int]) -> int:
    return sum(widths) + CHROME_PER_COLUMN * len(widths) + CHROME_EDGE


def _fits(columns: Sequence[Column], width: int) -> bool:
    return _need([c.bounds()[0] for c in columns]) <= width


def _widths(columns: Sequence[Column], width: int | None) -> list[int]:
    """Natural widths, narrowed until the table fits ``width``: headers wrap first, then free text
    (each time the widest column that can give first); numbers never."""
    bounds = [c.bounds() for c in columns]
    widths = [hi for _, _, hi in bounds]
    if width is None:
        return widths
    for floor in (1, 0):  # first down to whole cells, then down to the longest word
        while _need(widths) > width:
            slack = [i for i, b in enumerate(bounds) if widths[i] > b[floor]]
            if not slack:
                break
            widest = max(slack, key=lambda i: widths[i])
            widths[widest] -= 1
    # What still does not fit is printed wider than the terminal by the caller rather than cut.
    return widths


def _split(grid: Grid, width: int) -> list[list[Column]]:
    """The value columns in consecutive groups that each fit ``width`` beside the label columns.

    As many groups as packing them greedily needs, then as even as that count allows.
    """
    labels, values = grid.columns[: grid.labels], grid.columns[grid.labels :]
    groups: list[list[Column]] = []
    for column in values:
        if groups and _fits([*labels, *groups[-1], column], width):
            groups[-1].append(column)
        else:
            groups.append([column])
    size = math.ceil(len(values) / max(len(groups), 1))
    even = [values[i : i + size] for i in range(0, len(values), size)]
    if len(even) == len(groups) and all(_fits([*labels, *g], width) for g in even):
        groups = even
    return [[*labels, *g] for g in groups]


def _table(columns: Sequence[Column], widths: Sequence[int], title: str | None, stripes: bool) -> Table:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, header_style="bold", row_styles=["", "dim"] if stripes else None)
    for column, w in zip(columns, widths, strict=True):
        # Fixed widths: Rich never narrows them, so no cell is cut; every width holds its longest number.
        table.add_column(Text(column.header), width=w, justify="right" if column.right else "left",
                         overflow="fold")
    for i in range(len(columns[0].cells) if columns else 0):
        table.add_row(*(Text(c.cells[i], style=FAINT if c.faint and c.faint[i] else "") for c in columns))
    return table


def fit(grid: Grid, width: int | None) -> list[tuple[RenderableType, int]]:
    """The renderables that show ``grid`` within ``width`` columns (None: no limit), each with the
    console width it needs (more than ``width`` only when a single label and value column cannot fit)."""
    from rich.cells import cell_len
    from rich.text import Text

    if width is not None and not _fits(grid.columns, width) and grid.flip is not None:
        grid = grid.flip()
    parts = [grid.columns] if width is None or _fits(grid.columns, width) else _split(grid, width)
    out: list[tuple[RenderableType, int]] = []
    for i, columns in enumerate(parts):
        if i:
            out.append((Text(""), 1))
        widths = _widths(columns, width)
        out.append((_table(columns, widths, grid.title if i == 0 else None, grid.rows > 6), _need(widths)))
    if grid.caption:
        out.append((Text(grid.caption, style="dim italic"), width or cell_len(grid.caption)))
    return out


def _cell(v: object) -> str:
    if v is None:
        return "—"
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def metrics_grid(df: pl.DataFrame, dims: list[str], currency: str, grain: str = "month",
                 title: str | None = None, options: object = None) -> Grid:
    """Long metric rows as a grid: one row per period (+ dims), one column per metric, in the order asked."""
    order = list(dict.fromkeys(df["metric"].to_list()))
    keyed: dict[tuple, dict[str, float | None]] = {}
    counts: dict[tuple, float | None] = {}  # NPS responses per row
    complete: dict[tuple, bool] = {}
    for row in df.iter_rows(named=True):
        key = (row["period"], *(row[d] for d in dims))
        keyed.setdefault(key, {})[row["metric"]] = row["value"]
        if row["metric"] == "nps":
            counts[key] = row.get("denominator")
        complete[key] = complete.get(key, True) and bool(row["complete"])
    # Rows by period, then groups (a group only a later metric has must not land after every period),
    # blank groups last; a period is incomplete when any of its rows is.
    keys = sorted(keyed, key=lambda k: (k[0], *[(v is None, "" if v is None else str(v)) for v in k[1:]]))
    by_period: dict[object, bool] = {}
    for k in keys:
        by_period[k[0]] = by_period.get(k[0], True) and complete[k]
    complete = {k: by_period[k[0]] for k in keys}
    labels = [period_label(k[0], grain) + ("" if complete[k] else " *") for k in keys]
    columns = [Column(period_header("period", grain), labels, right=False)]
    columns += [Column(d, [_cell(k[i]) for k in keys], wrap=True, right=False) for i, d in enumerate(dims, 1)]
    margin = "nps" in order and "nps_moe" in order
    few = False
    for m in order:
        meta = METRICS.get(m)
        if margin and m == "nps_moe":
            continue  # shown inside the NPS cell
        if margin and m == "nps":
            cells = [fmt_nps(keyed[k].get("nps"), keyed[k].get("nps_moe"), counts.get(k)) for k in keys]
            faint = [keyed[k].get("nps") is not None and (counts.get(k) or 0) < FEW_RESPONSES for k in keys]
            few = any(faint)
            columns.append(Column(meta.label if meta else m, cells, faint=faint))
            continue
        cells = fmt_column([keyed[k].get(m) for k in keys], meta.unit_for(options) if meta else "", currency)
        columns.append(Column(meta.label if meta else m, cells))
    notes = [n for n, show in ((INCOMPLETE, not all(complete.values())), (FEW_CAPTION, few)) if show]
    grid = Grid(columns, 1 + len(dims), title, "\n".join(notes) or None)
    prefix = "week of " if grain == "week" else ""
    grid.flip = lambda: flipped(grid, "metric", prefix)
    return grid


def frame_grid(df: pl.DataFrame, *, money: tuple[str, ...] = (), ratios: tuple[str, ...] = (),
               durations: tuple[str, ...] = (), currency: str = "USD", grain: str = "month",
               title: str | None = None, labels: Sequence[str] | None = None, corner: str = "") -> Grid:
    """Any result frame as a grid: money, ratios and durations formatted, periods labelled by grain.

    ``labels`` names the columns that label a row (default: the leading non-numeric ones); a boolean
    ``complete`` column becomes the ``*`` mark on the period label. A grid labelled by period alone
    can turn (``corner`` heads its label column then).
    """
    import polars as pl

    mark = "complete" in df.columns and "period" in df.columns and df.schema["complete"] == pl.Boolean
    complete = df["complete"].to_list() if mark else []
    shown = [c for c in df.columns if not (mark and c == "complete")]
    if labels is None:
        labels = []
        for c in shown:
            if df.schema[c].is_numeric():
                break
            labels.append(c)
    leading = 0
    while leading < len(shown) and shown[leading] in labels:
        leading += 1
    columns = []
    for c in shown:
        values = df[c].to_list()
        if c in ("period", "cohort") and df.schema[c] == pl.Date:
            cells = [period_label(v, grain) for v in values]
            if c == "period" and mark:
                cells = [t if ok is not False else f"{t} *" for t, ok in zip(cells, complete, strict=True)]
            columns.append(Column(period_header(c, grain), cells, right=False))
            continue
        if c in money:
            cells = [fmt_value(v, "currency", currency) for v in values]
        elif c in ratios:
            cells = [fmt_value(v, "ratio") for v in values]
        elif c in durations:
            cells = [fmt_seconds(v) for v in values]
        elif df.schema[c].is_float():
            cells = fmt_column(values, "")
        else:
            cells = [_cell(v) for v in values]
        text = df.schema[c] == pl.String
        columns.append(Column(c.replace("_", " "), cells, wrap=text, right=df.schema[c].is_numeric()))
    grid = Grid(columns, leading, title, INCOMPLETE if mark and not all(complete) else None)
    if leading == 1 and shown[0] == "period" and not any(c.wrap for c in columns[1:]):
        prefix = "week of " if grain == "week" else ""
        grid.flip = lambda: flipped(grid, corner.replace("_", " "), prefix)
    return grid
