"""``kpi cohort``, ``kpi funnel``, ``kpi lifecycle`` and ``kpi stickiness``: the table commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from kpi_cli.cli import (
    EVENT_OPTS,
    INPUT_OPTS,
    MONEY_OPTS,
    OUTPUT_OPTS,
    RANGE_OPTS,
    PanelCommand,
    app,
    data_command,
    emit,
    progress,
    report,
    start_run,
)

# Billing cohorts read the money options; event cohorts, funnels, lifecycle and stickiness the actor ones.
COHORT_OPTS = (*RANGE_OPTS, *INPUT_OPTS, *MONEY_OPTS, "identified_only", "exclude_file", *OUTPUT_OPTS)
FUNNEL_OPTS = (*RANGE_OPTS, *INPUT_OPTS, *EVENT_OPTS, "window", *OUTPUT_OPTS)
ACTIVITY_OPTS = (*RANGE_OPTS, *INPUT_OPTS, *EVENT_OPTS, *OUTPUT_OPTS)


@app.command(cls=PanelCommand)
@data_command(uses=COHORT_OPTS)
def cohort(
    common: dict[str, Any],
    of: Annotated[str, typer.Option(help="customers (logo) | mrr (net and gross MRR) from billing; users | "
                                    "accounts from events.")] = "customers",
    periods: Annotated[int | None, typer.Option(help="Periods after the first to show.")] = None,
    criterion: Annotated[str, typer.Option(help="on (active in period k) | on-or-after (k or later).")] = "on",
    clock: Annotated[str, typer.Option(help="calendar periods | rolling (7/30 days from each entry).")]
    = "calendar",
) -> None:
    """Retention triangle: by first paying period (billing) or first signup (events).

    Examples:

      kpi cohort --of customers --from 2023-01

      kpi cohort --of mrr --periods 12 -f csv

      kpi cohort --of users --period week --clock rolling
    """
    from kpi_cli.api import cohort_run

    run = start_run(common)
    with progress(common, "building cohorts…"):
        df = cohort_run(run, of=of, periods=periods, criterion=criterion, clock=clock)
    if of in ("users", "accounts"):
        run.info["families"] = {"engagement"}  # for -v: event cohorts read no billing options
    report(run, common)
    money = ("cohort_size", "retained", "gross_retained") if of == "mrr" else ()
    emit(df, common, long_metrics=False, dims=[], currency=run.info.get("currency", "USD"), money=money,
          ratios=("rate", "gross_rate"), title=f"Cohorts ({of}): rate by periods since the first",
          grid=(["cohort", "cohort_size"], "period_index", "rate"), run=run)


@app.command(cls=PanelCommand)
@data_command(uses=FUNNEL_OPTS)
def funnel(
    steps: Annotated[list[str], typer.Argument(help="Event names, in order.", show_default=False)],
    common: dict[str, Any],
    order: Annotated[str, typer.Option(help="loose (default) | strict | any.")] = "loose",
) -> None:
    """Conversion through ordered steps, with pending entrants and median time to convert.

    Examples:

      kpi funnel "Signed Up" "Report Created" --month 2023-03 --window 7d

      kpi funnel "Signed Up" "Invite Sent" "Report Created" --from 2023-01 --order strict
    """
    from kpi_cli.api import funnel_run

    run = start_run(common)
    window = common["window"] or "14d"
    with progress(common, "computing funnel…"):
        df = funnel_run(run, steps, window=window, order=order)
    run.info["families"] = {"engagement"}
    report(run, common)
    emit(df, common, long_metrics=False, dims=[], currency="USD", title=f"Funnel (window {window}, {order})",
          ratios=("conversion", "step_conversion"), durations=("median_time_to_convert",), run=run,
          labels=("step", "event"))


@app.command(cls=PanelCommand)
@data_command(uses=ACTIVITY_OPTS)
def lifecycle(common: dict[str, Any]) -> None:
    """Growth accounting per period: new, returning, resurrecting, dormant (negative), quick ratio.

    Examples:

      kpi lifecycle --from 2023-01 --to 2023-06

      kpi lifecycle --period week --last 8 --actor account
    """
    from kpi_cli.api import lifecycle_run

    run = start_run(common)
    with progress(common, "computing lifecycle…"):
        df = lifecycle_run(run)
    report(run, common)
    emit(df, common, long_metrics=False, dims=[], currency="USD", title="Lifecycle", run=run)


@app.command(cls=PanelCommand)
@data_command(uses=ACTIVITY_OPTS)
def stickiness(common: dict[str, Any]) -> None:
    """Histogram: actors active on exactly n days of each period, and on at least n.

    Example:

      kpi stickiness --month 2023-03
    """
    from kpi_cli.api import stickiness_run

    run = start_run(common)
    with progress(common, "computing stickiness…"):
        df = stickiness_run(run)
    report(run, common)
    emit(df, common, long_metrics=False, dims=[], currency="USD", title="Stickiness: actors by days active",
          grid=(["period", "complete"], "days_active", "actors"), run=run)
