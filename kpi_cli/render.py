"""Rich tables for people: periods as rows, metrics as columns, units formatted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from kpi_cli.registry import METRICS

if TYPE_CHECKING:
    import polars as pl

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def fmt_value(v: float | None, unit: str, currency: str = "USD") -> str:
    """A value as a person reads it.

    Examples
    --------
    >>> fmt_value(0.2, "ratio"), fmt_value(1234.5, "currency"), fmt_value(None, "ratio")
    ('20.0%', '$1,234.50', '—')
    >>> fmt_value(70314.35, "currency")
    '$70,314'
    """
    if v is None:
        return "—"
    if unit == "ratio":
        return f"{v * 100:.1f}%"
    if unit == "currency":
        sym = SYMBOLS.get(currency, "")
        text = f"{abs(v):,.0f}" if abs(v) >= 10_000 else f"{abs(v):,.2f}"
        sign = "-" if v < 0 else ""
        return f"{sign}{sym}{text}" if sym else f"{sign}{text} {currency}"
    if unit == "count":
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.2f}"
    return f"{v:,.2f}"


def metrics_table(df: pl.DataFrame, dims: list[str], currency: str, title: str | None = None) -> Table:
    """Long metric rows as a grid: one row per period (+ dims), one column per metric."""
    order = list(dict.fromkeys(df["metric"].to_list()))
    table = Table(title=title, header_style="bold", row_styles=["", "dim"] if len(df) > 6 else None)
    table.add_column("period", no_wrap=True)
    for d in dims:
        table.add_column(d, no_wrap=True)
    for m in order:
        table.add_column(METRICS[m].label if m in METRICS else m, justify="right", no_wrap=True)
    keyed: dict[tuple, dict[str, float | None]] = {}
    complete: dict[tuple, bool] = {}
    for row in df.iter_rows(named=True):
        key = (row["period"], *(row[d] for d in dims))
        keyed.setdefault(key, {})[row["metric"]] = row["value"]
        complete[key] = complete.get(key, True) and bool(row["complete"])
    incomplete = False
    for key, values in keyed.items():
        label = key[0].isoformat()[:7] if key[0] is not None else "—"
        if not complete[key]:
            label += " *"
            incomplete = True
        cells = [fmt_value(values.get(m), METRICS[m].unit if m in METRICS else "", currency) for m in order]
        table.add_row(label, *[str(k) if k is not None else "—" for k in key[1:]], *cells)
    if incomplete:
        table.caption = "* incomplete period: ends after --as-of or after the last timestamp in the data"
    return table


def metrics_by_row(df: pl.DataFrame, dims: list[str], currency: str, title: str | None = None) -> Table:
    """The same numbers with one row per metric and one column per period: for many metrics."""
    keys = list(dict.fromkeys((row["period"], *(row[d] for d in dims)) for row in df.iter_rows(named=True)))
    complete = dict.fromkeys(keys, True)
    cells: dict[str, dict[tuple, float | None]] = {}
    for row in df.iter_rows(named=True):
        key = (row["period"], *(row[d] for d in dims))
        cells.setdefault(row["metric"], {})[key] = row["value"]
        complete[key] = complete[key] and bool(row["complete"])
    table = Table(title=title, header_style="bold")
    table.add_column("metric", no_wrap=True)
    for key in keys:
        label = key[0].isoformat()[:7] + ("" if complete[key] else " *")
        table.add_column(" ".join([label, *(str(k) for k in key[1:])]), justify="right", no_wrap=True)
    for metric, by_key in cells.items():
        m = METRICS.get(metric)
        table.add_row(m.label if m else metric,
                      *[fmt_value(by_key.get(k), m.unit if m else "", currency) for k in keys])
    if not all(complete.values()):
        table.caption = "* incomplete period: ends after --as-of or after the last timestamp in the data"
    return table


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


def frame_table(df: pl.DataFrame, money: tuple[str, ...] = (), ratios: tuple[str, ...] = (),
                currency: str = "USD", title: str | None = None, durations: tuple[str, ...] = ()) -> Table:
    """Any frame as a table, formatting the named money and ratio columns."""
    table = Table(title=title, header_style="bold")
    for c in df.columns:
        table.add_column(c, justify="right" if df[c].dtype.is_numeric() else "left", no_wrap=True)
    for row in df.iter_rows():
        cells = []
        for c, v in zip(df.columns, row, strict=True):
            if c in money:
                cells.append(fmt_value(v, "currency", currency))
            elif c in ratios:
                cells.append(fmt_value(v, "ratio"))
            elif c in durations:
                cells.append(fmt_seconds(v))
            elif isinstance(v, float):
                cells.append(f"{v:,.0f}" if v.is_integer() else f"{v:,.2f}")
            elif v is None:
                cells.append("—")
            elif hasattr(v, "isoformat"):
                cells.append(v.isoformat())
            else:
                cells.append(str(v))
        table.add_row(*cells)
    return table
