"""``kpi report`` and ``kpi tree``: one period at a glance, and a KPI read against its influencers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kpi_cli.cli import (
    ACQUISITION_OPTS,
    ENGAGEMENT_OPTS,
    INPUT_OPTS,
    MESSAGE_OPTS,
    RANGE_OPTS,
    REVENUE_OPTS,
    SATISFACTION_OPTS,
    PanelCommand,
    _complete_metric,
    app,
    data_command,
    progress,
    start_run,
)
from kpi_cli.present import report as say_report
from kpi_cli.present import show_grids

# Every option that changes a metric's value, the output ones but --wide; --by is accepted so that its refusal
# (one company) is kpi's one-line message rather than Click's "no such option".
INSIGHT_OPTS = (*RANGE_OPTS, "by", *INPUT_OPTS, *REVENUE_OPTS, *ENGAGEMENT_OPTS, *ACQUISITION_OPTS, *SATISFACTION_OPTS,
                "format", "output", "decimals", *MESSAGE_OPTS)


@app.command("report", cls=PanelCommand)
@data_command(uses=INSIGHT_OPTS)
def report_command(
    common: dict[str, Any],
    metrics: Annotated[str, typer.Argument(help="Metric ids or groups (default: all the sources allow).",
                                           metavar="METRICS", autocompletion=_complete_metric,
                                           show_default=False)] = "all",
    html: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML page to FILE "
                                              "(atomically).", metavar="FILE")] = None,
) -> None:
    """One screen for a period: every metric's value, change vs the previous period and a year earlier,
    a 12-period sparkline and benchmark badges (default period: the last complete one).

    Changes are in percentage points for rates, points for scores and % for the rest. With --html and
    no --format, stdout stays empty (for cron).

    Examples:

      kpi report --month last --html report.html

      kpi report --month 2024-03 -f csv > report.csv
    """
    from kpi_cli import output
    from kpi_cli.summary.build import report_run, rows_frame
    from kpi_cli.summary.terminal import grids

    out_path = Path(common["output"]) if common["output"] else None
    fmt = output.choose_format(common["format"], out_path, sys.stdout.isatty())  # a clash fails before any work
    run = start_run(common)
    with progress(common, "computing the report…"):
        rep = report_run(run, metrics)
    say_report(run, common)
    if html is not None:
        from kpi_cli.summary.build import report_tree
        from kpi_cli.summary.html import page

        text = page(rep, report_tree(run, rep))
        output.write_text(text, html)
        if not common["quiet"]:
            typer.echo(f"kpi: wrote {html} ({len(text.encode()):,} bytes)", err=True)
        if common["format"] == "auto" and common["output"] is None:
            return
    if fmt == "table":
        ascii_only = (getattr(sys.stdout, "encoding", "") or "").lower().replace("-", "") != "utf8"
        show_grids(grids(rep, ascii_only=ascii_only), common, out_path)
        return
    df = output.rounded(rows_frame(rep), common["decimals"], fmt)
    if out_path is not None:
        output.write_file(df, fmt, out_path)
    else:
        output.write_stdout(df, fmt)


@app.command("tree", cls=PanelCommand)
@data_command(uses=INSIGHT_OPTS)
def tree_command(
    kpi: Annotated[str, typer.Argument(help="The result KPI (a metric id).", autocompletion=_complete_metric,
                                       show_default=False)],
    common: dict[str, Any],
    influencers: Annotated[str | None, typer.Option(help="Influencer metric ids, comma-separated (defaults: "
                                                    "customer_churn_rate and nps have them).",
                                                    metavar="IDS")] = None,
    level: Annotated[str, typer.Option(help="period (default: aggregate changes) | account (billing and events: "
                                       "accounts as units).", metavar="LEVEL")] = "period",
    changes: Annotated[bool, typer.Option("--changes", help="Print the change table instead of the "
                                          "statistics.")] = False,
    allow_smoothed: Annotated[bool, typer.Option("--allow-smoothed", help="Read smoothed series (ltv, *_ttm, "
                                                 "trailing windows) anyway.")] = False,
    method: Annotated[str, typer.Option(help="spearman (default) | pearson.", metavar="METHOD")] = "spearman",
) -> None:
    """Read a result KPI against its influencer metrics: the exact decomposition of its change, then
    whether each influencer's period changes moved with it (Spearman ρ at lags 0–3, its interval and
    the |ρ| a real relationship would need), in fixed words: moved together, moved opposite, possible,
    not reliable, no detectable relationship, mechanical. An association, never a cause.

    Default window: the last 24 complete periods (--last N, or --from/--to).

    Examples:

      kpi tree customer_churn_rate

      kpi tree nps --influencers ces,tickets_per_user -f csv

      kpi tree customer_churn_rate --level account
    """
    from kpi_cli import output
    from kpi_cli.influence.run import changes_frame, stats_frame, tree_run

    run = start_run(common)
    with progress(common, "reading the tree…"):
        result = tree_run(run, kpi, influencers, level, allow_smoothed, method)
    say_report(run, common)
    if not common["quiet"]:
        for w in result.warnings:
            typer.echo(f"kpi: warning: {w}", err=True)
    out_path = Path(common["output"]) if common["output"] else None
    fmt = output.choose_format(common["format"], out_path, sys.stdout.isatty())
    if fmt == "table" and not changes:
        from kpi_cli.influence.terminal import grids
        from kpi_cli.options import calendar_of

        grain = calendar_of(run.settings.values).grain
        show_grids(grids(result, run.info.get("currency") or "USD", grain), common, out_path)
        return
    df = changes_frame(result) if changes else stats_frame(result)
    if fmt == "table":  # the change table for people: values and changes in their units
        import polars as pl

        from kpi_cli.influence.terminal import change_cells
        from kpi_cli.present import emit

        shown = pl.DataFrame(change_cells(result, run.info.get("currency") or "USD"),
                             schema=["metric", "period", "value", "change", "complete"], orient="row")
        emit(shown, common, long_metrics=False, dims=[], currency="USD", title="Changes", run=run)
        return
    df = output.rounded(df, common["decimals"], fmt)
    if out_path is not None:
        output.write_file(df, fmt, out_path)
    else:
        output.write_stdout(df, fmt)
