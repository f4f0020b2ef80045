"""What a data command prints: data on stdout (tables or files), its report on stderr.

The commands in :mod:`kpi_cli.cli` parse options and call the API; this module renders what they got.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from kpi_cli.registry import METRICS

if TYPE_CHECKING:
    import polars as pl

    from kpi_cli.api import Run


def console_for(no_color: bool, stderr: bool = False, file: Any = None):
    """A Rich console on stdout, stderr or ``file`` (a text buffer: plain text, no styles).

    Its width is Rich's guess; :func:`emit` sets it per table from :func:`kpi_cli.render.terminal_width`.
    """
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:
            # Rich would exit 1 on its own; the reader going away is handled once, as a quiet exit 0.
            raise BrokenPipeError

    return _Console(stderr=stderr, file=file, no_color=no_color or bool(os.environ.get("NO_COLOR")),
                    highlight=False, soft_wrap=False)



def families_run(run: Run) -> set[str]:
    """The metric families a run computed (their bases built): revenue, acquisition, engagement, …"""
    out = set(run.info.get("families", ()))
    graph = run.info.get("graph")
    if graph is not None:
        out |= set(graph.builds)
    if "currency" in run.info:
        out.add("revenue")
    if "hygiene" in run.info:
        out.add("engagement")
    out |= {METRICS[m].family for m in run.info.get("metrics", ())}
    return out


def report(run: Run, common: dict[str, Any]) -> None:
    """Skipped rows, warnings and (with -v) the per-source counts, on stderr."""
    from kpi_cli.coverage import outside_data

    ds = run.dataset
    if common["rejects"]:
        import polars as pl

        from kpi_cli.output import write_file

        empty = pl.DataFrame(schema=dict.fromkeys(("source", "file", "line", "column", "reason"), pl.String))
        rejected = pl.concat(ds.rejected, how="diagonal_relaxed") if ds.rejected else empty
        write_file(rejected, "csv", Path(common["rejects"]))
    if common["quiet"]:
        return
    for rep in ds.reports.values():
        if rep.rejected:
            reasons = ", ".join(f"{n} {r}" for r, n in rep.reasons.items())
            typer.echo(f"kpi: skipped {rep.rejected} bad row{'s' * (rep.rejected != 1)} in {rep.name}: {reasons}",
                       err=True)
    for w in dict.fromkeys([*ds.warnings, *ds.advice, *outside_data(run)]):
        typer.echo(f"kpi: warning: {w}", err=True)
    if common["verbose"]:
        for note in dict.fromkeys(ds.notes):  # what the run decided from the data (kpi_cli.dataset)
            typer.echo(f"kpi: {note}", err=True)
        for rep in ds.reports.values():
            dups = ("exact duplicates not looked for (they change no distinct count)" if rep.duplicates is None
                    else f"{rep.duplicates} exact duplicates dropped")
            typer.echo(f"kpi: {rep.name}: {rep.rows_read} rows read, {dups}, "
                       f"{rep.rejected} rejected, {rep.used} used ({', '.join(rep.files)})", err=True)
            if rep.epoch_units:  # the unit each epoch cell's magnitude decided (SPEC §1.2)
                units = ", ".join(f"{c} in {'/'.join(u)}" for c, u in rep.epoch_units.items())
                typer.echo(f"kpi: {rep.name}: epoch timestamps: {units}", err=True)
        v = run.settings.values
        families = families_run(run)
        o = run.options
        shown = {k: v[k] for k in ("tz", "period", "week_start", "engine")}
        if "revenue" in families:
            shown.update({k: v[k] for k in ("discounts", "churn_at", "churn_denominator")},
                         currency=run.info.get("currency"))
        if "engagement" in families:
            shown.update(actor=o.actor, identified_only=o.identified_only, session_gap=o.session_gap,
                         window=o.window or "calendar", mau_days=o.mau_days)
        if "acquisition" in families:
            shown.update(cac_lag=o.cac_lag, cac_basis=o.cac_basis, payback_basis=o.payback_basis,
                         spend_allocation=o.spend_allocation, bounce=o.bounce, engaged_seconds=o.engaged_seconds)
        if "surveys" in families:
            shown.update(csat=o.csat, ces_scale=o.ces_scale, nps_unit=o.nps_unit, nps_weight=o.nps_weight)
        if "support" in families:
            shown.update(hours=o.hours, tag=o.tag or "(every ticket)")
        typer.echo(f"kpi: options: {', '.join(f'{k}={val}' for k, val in shown.items())}", err=True)
        hygiene = run.info.get("hygiene")
        if hygiene is not None:
            typer.echo(f"kpi: events: actor={run.options.actor}, {hygiene.repeated_ids} repeated event_id dropped, "
                       f"{hygiene.merged_anonymous} anonymous rows merged into users, {hygiene.anonymous_rows} "
                       f"rows stay anonymous ({hygiene.dropped_anonymous} dropped by --identified-only), "
                       f"{hygiene.excluded_actors} actors and {hygiene.excluded_rows} rows excluded", err=True)


def emit(df: pl.DataFrame, common: dict[str, Any], *, long_metrics: bool, dims: list[str],
          currency: str, title: str | None = None, money: tuple[str, ...] = (),
          ratios: tuple[str, ...] = (), grid: tuple[list[str], str, str] | None = None,
          durations: tuple[str, ...] = (), run: Run | None = None, labels: tuple[str, ...] = ()) -> None:
    """Write ``df`` as asked; ``grid`` = (index columns, column key, value) for ``--wide`` tables,
    which people get as the grid on a terminal too (a cohort triangle reads better than rows).

    ``run`` gives tables their grain (period labels); ``labels`` names the columns that label a table
    row, repeated when a table too wide for the terminal is split (default: the leading text columns).
    """
    from kpi_cli import output

    out_path = Path(common["output"]) if common["output"] else None
    fmt = output.choose_format(common["format"], out_path, sys.stdout.isatty())
    if grid is not None and (common["wide"] or fmt == "table"):
        index, key, value = grid
        before = set(index)
        df = output.pivot(df, index, key, value)
        if value in ratios:
            ratios = tuple(c for c in df.columns if c not in before)
        if value in money:
            money = (*money, *(c for c in df.columns if c not in before))
    if fmt == "table":
        from kpi_cli import render
        from kpi_cli.options import calendar_of

        grain = calendar_of(run.settings.values).grain if run is not None else "month"
        if long_metrics:
            table = render.metrics_grid(df, dims, currency, grain, title, run.options if run is not None else None)
        else:
            table = render.frame_grid(df, money=money, ratios=ratios, durations=durations, currency=currency,
                                      grain=grain, title=title, labels=labels or (grid[0] if grid else None),
                                      corner=grid[1] if grid else "")
        show_grids([table], common, out_path)
        return
    if long_metrics and common["wide"]:
        df = output.wide(df, dims)
    df = output.rounded(df, common["decimals"], fmt)
    if out_path is not None:
        output.write_file(df, fmt, out_path)
    else:
        output.write_stdout(df, fmt)


def show_grids(grids: list[Any], common: dict[str, Any], out_path: Path | None = None) -> None:
    """Print :class:`~kpi_cli.render.Grid` tables to stdout (or ``out_path``, atomically), each fitted to
    the terminal's width: pivoted or split rather than cut; a string is a headline line before a table."""
    import io

    from rich.text import Text

    from kpi_cli import output, render

    # A file, like a pipe, has no terminal width: COLUMNS when set, else nothing is wrapped or cut.
    buffer = io.StringIO() if out_path is not None else None
    width = render.terminal_width(buffer if buffer is not None else sys.stdout)
    console = console_for(common["no_color"] or buffer is not None, file=buffer)
    for i, grid in enumerate(grids):
        if i and not isinstance(grids[i - 1], str):
            console.print(Text(""))
        if isinstance(grid, str):  # a headline line above the table that follows
            console.width = max(len(grid), width or 0)
            console.print(Text(grid, style="bold"))
            continue
        for part, need in render.fit(grid, width):
            console.width = max(need, width or 0)  # wider than the terminal only where nothing narrower fits
            console.print(part)
    if buffer is not None and out_path is not None:
        output.write_text(buffer.getvalue(), out_path)
