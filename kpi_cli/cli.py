"""The ``kpi`` command: parses options, calls the library, renders. Nothing else lives here."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from kpi_cli import __version__
from kpi_cli.errors import BadRowsError, ExitCode, KpiError
from kpi_cli.registry import GROUPS, METRICS

if TYPE_CHECKING:
    import polars as pl

    from kpi_cli.api import Run

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="kpi",
    help="SaaS KPIs (MRR, churn, NRR, …) from the billing exports you already have.\n\n"
    "Examples:\n\n  kpi compute mrr --month 2023-03\n\n"
    "  kpi compute mrr,nrr,customer_churn_rate --from 2023-01 --to 2023-12 --by plan -f csv > kpis.csv\n\n"
    "  kpi movements --last 6\n\n  kpi explain nrr",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _complete_metric(incomplete: str) -> list[str]:
    head, _, last = incomplete.rpartition(",")
    prefix = f"{head}," if head else ""
    return [prefix + m for m in [*METRICS, *GROUPS] if m.startswith(last)]


def _common(
    month: Annotated[str | None, typer.Option(help="A month: YYYY-MM, last or this.", rich_help_panel="Range")] = None,
    quarter: Annotated[str | None, typer.Option(help="A quarter: YYYY-Qn, last or this.",
                                                rich_help_panel="Range")] = None,
    year: Annotated[str | None, typer.Option(help="A year: YYYY, last or this.", rich_help_panel="Range")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First month or day (YYYY-MM[-DD]).",
                                              rich_help_panel="Range")] = None,
    to: Annotated[str | None, typer.Option(help="Last month or day, inclusive.", rich_help_panel="Range")] = None,
    last: Annotated[int | None, typer.Option(help="The N most recent complete periods.",
                                             rich_help_panel="Range")] = None,
    period: Annotated[str | None, typer.Option(help="Grain: day, week, month, quarter, year.",
                                               rich_help_panel="Range")] = None,
    as_of: Annotated[str | None, typer.Option(help="Reference day for last/this and completeness "
                                              "(default: now).", rich_help_panel="Range")] = None,
    tz: Annotated[str | None, typer.Option(help="Reporting timezone (IANA), default UTC.",
                                           rich_help_panel="Range")] = None,
    week_start: Annotated[str | None, typer.Option(help="mon … sun.", rich_help_panel="Range")] = None,
    by: Annotated[list[str] | None, typer.Option(help="Split by plan, currency or a customers column "
                                                 "(repeatable).")] = None,
    data: Annotated[str | None, typer.Option(help="Data directory (else KPI_DATA, config, cwd).")] = None,
    config: Annotated[str | None, typer.Option(help="Config file (else KPI_CONFIG, ./kpi.toml).")] = None,
    currency: Annotated[str | None, typer.Option(help="Reporting currency (fx_rates convert).",
                                                 rich_help_panel="Revenue")] = None,
    discounts: Annotated[str | None, typer.Option(help="none | recurring (default) | all.",
                                                  rich_help_panel="Revenue")] = None,
    churn_at: Annotated[str | None, typer.Option(help="end (of paid period, default) | cancel.",
                                                 rich_help_panel="Revenue")] = None,
    churn_denominator: Annotated[str | None, typer.Option(help="start (default) | start_plus_new.",
                                                          rich_help_panel="Revenue")] = None,
    gross_margin: Annotated[float | None, typer.Option(help="Gross margin for LTV (default 1.0).",
                                                       rich_help_panel="Revenue")] = None,
    within: Annotated[str | None, typer.Option(help="Conversion window, e.g. 30d (trials) / 90d (signups).",
                                               rich_help_panel="Revenue")] = None,
    actor: Annotated[str, typer.Option(help="user (default) | account: who counts as active.",
                                       rich_help_panel="Engagement")] = "user",
    identified_only: Annotated[bool, typer.Option("--identified-only", help="Drop events that stay anonymous.",
                                                  rich_help_panel="Engagement")] = False,
    session_gap: Annotated[str, typer.Option(help="Inactivity that ends a session (default 30m).",
                                             rich_help_panel="Engagement")] = "30m",
    window: Annotated[str | None, typer.Option(help="compute: calendar (default) | trailing WAU/MAU windows; "
                                               "funnel: conversion window (default 14d).",
                                               rich_help_panel="Engagement")] = None,
    mau_days: Annotated[int, typer.Option(help="Trailing MAU length in days: 30 (default) or 28.",
                                          rich_help_panel="Engagement")] = 30,
    inactive_days: Annotated[int, typer.Option(help="Idle days before a return counts as reactivation (30).",
                                               rich_help_panel="Engagement")] = 30,
    exclude_file: Annotated[str | None, typer.Option(help="User ids to leave out, one per line (adds to "
                                                     "[exclude] users).", rich_help_panel="Engagement")] = None,
    engine: Annotated[str | None, typer.Option(help="polars (default) | duckdb.")] = None,
    format: Annotated[str, typer.Option("--format", "-f", help="auto | table | csv | json | jsonl | parquet | "
                                        "xlsx (auto: table on a terminal, else csv).",
                                        rich_help_panel="Output")] = "auto",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE atomically (format from "
                                                "its extension).", rich_help_panel="Output")] = None,
    wide: Annotated[bool, typer.Option(help="One column per metric.", rich_help_panel="Output")] = False,
    decimals: Annotated[int | None, typer.Option(help="Round machine output to N decimals.",
                                                 rich_help_panel="Output")] = None,
    on_bad_rows: Annotated[str, typer.Option(help="error (default) | skip.", rich_help_panel="Input")] = "error",
    rejects: Annotated[Path | None, typer.Option(help="With skip: write rejected rows here (CSV).",
                                                 rich_help_panel="Input")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No messages on stderr but errors.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Rows read/used/rejected per source, "
                                          "options in force.")] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colour (also NO_COLOR).")] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Template: the options every data command shares (SPEC §4)."""


COMMON = list(inspect.signature(_common, eval_str=True).parameters.values())
COMMON_NAMES = {p.name for p in COMMON}


def data_command(fn: F) -> F:
    """Register ``fn`` with the shared data options; it receives them as a ``ctx`` dict."""
    own = [p for p in inspect.signature(fn, eval_str=True).parameters.values() if p.name != "common"]

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> None:
        common = {k: kwargs.pop(k) for k in list(kwargs) if k in COMMON_NAMES}
        with handled(common.get("debug", False)):
            fn(common=common, **kwargs)

    params = own + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in COMMON]
    wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params])
    return wrapper  # type: ignore[return-value]


class handled:
    """The one place errors become a line on stderr and an exit code."""

    def __init__(self, debug: bool) -> None:
        self.debug = debug or bool(os.environ.get("KPI_DEBUG"))

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if exc is None or isinstance(exc, typer.Exit | typer.Abort | SystemExit):
            return
        if isinstance(exc, BrokenPipeError):
            # The reader went away (`kpi … | head`): stop quietly, without a traceback.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.SUCCESS))
        if isinstance(exc, KeyboardInterrupt):
            err("interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED))
        if self.debug:
            return
        if isinstance(exc, KpiError):
            err(exc.message)
            if isinstance(exc, BadRowsError):
                for line in exc.lines:
                    typer.echo(f"  {line}", err=True)
                if exc.total > len(exc.lines):
                    typer.echo(f"  … and {exc.total - len(exc.lines)} more", err=True)
            if exc.hint:
                typer.echo(f"hint: {exc.hint}", err=True)
            raise typer.Exit(int(exc.exit_code))
        err(f"unexpected {type(exc).__name__}: {exc}")
        typer.echo("hint: rerun with --debug for the traceback, and please report it", err=True)
        raise typer.Exit(int(ExitCode.DATA_ERROR))


def err(message: str) -> None:
    """One line on stderr."""
    typer.echo(f"kpi: error: {message}", err=True)


def _console(no_color: bool, stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # A table written to a pipe or file has no terminal width to fit: give it room instead of eliding.
    width = None if stream.isatty() else 240
    return Console(stderr=stderr, no_color=no_color or bool(os.environ.get("NO_COLOR")), highlight=False,
                   soft_wrap=False, width=width)


@contextlib.contextmanager
def progress(common: dict[str, Any], message: str) -> Iterator[None]:
    """A spinner on stderr for work that takes over a second, on a terminal, unless ``-q``."""
    if common["quiet"] or not sys.stderr.isatty():
        yield
        return
    status = _console(common["no_color"], stderr=True).status(message)
    timer = threading.Timer(1.0, status.start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        status.stop()


def start_run(common: dict[str, Any]) -> Run:
    from kpi_cli.api import Run
    from kpi_cli.options import RunOptions
    from kpi_cli.periods import RangeRequest

    rng = RangeRequest(common["month"], common["quarter"], common["year"], common["from_"], common["to"],
                       common["last"])
    opts = RunOptions(
        range=rng, period=common["period"], tz=common["tz"], week_start=common["week_start"],
        as_of=common["as_of"], by=tuple(common["by"] or ()), currency=common["currency"],
        discounts=common["discounts"], churn_at=common["churn_at"],
        churn_denominator=common["churn_denominator"], gross_margin=common["gross_margin"],
        within=common["within"], on_bad_rows=common["on_bad_rows"], rejects=common["rejects"],
        engine=common["engine"], data=common["data"], config=common["config"], actor=common["actor"],
        identified_only=common["identified_only"], session_gap=common["session_gap"], window=common["window"],
        mau_days=common["mau_days"], inactive_days=common["inactive_days"], exclude_file=common["exclude_file"],
    )
    if common["rejects"] and common["on_bad_rows"] != "skip":
        from kpi_cli.errors import UsageError

        msg = "--rejects only makes sense with --on-bad-rows skip"
        raise UsageError(msg)
    return Run.start(opts)


def report(run: Run, common: dict[str, Any]) -> None:
    """Skipped rows, warnings and (with -v) the per-source counts, on stderr."""
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
    for w in dict.fromkeys(ds.warnings):
        typer.echo(f"kpi: warning: {w}", err=True)
    if common["verbose"]:
        for rep in ds.reports.values():
            typer.echo(f"kpi: {rep.name}: {rep.rows_read} rows read, {rep.duplicates} exact duplicates dropped, "
                       f"{rep.rejected} rejected, {rep.used} used ({', '.join(rep.files)})", err=True)
        v = run.settings.values
        opts = ", ".join(f"{k}={v[k]}" for k in ("tz", "period", "week_start", "discounts", "churn_at",
                                                   "churn_denominator", "engine"))
        typer.echo(f"kpi: options: {opts}, currency={run.info.get('currency')}", err=True)
        hygiene = run.info.get("hygiene")
        if hygiene is not None:
            typer.echo(f"kpi: events: actor={run.options.actor}, {hygiene.repeated_ids} repeated event_id dropped, "
                       f"{hygiene.merged_anonymous} anonymous rows merged into users, {hygiene.anonymous_rows} "
                       f"rows stay anonymous ({hygiene.dropped_anonymous} dropped by --identified-only), "
                       f"{hygiene.excluded_actors} actors and {hygiene.excluded_rows} rows excluded", err=True)


def emit(df: pl.DataFrame, common: dict[str, Any], *, long_metrics: bool, dims: list[str],
          currency: str, title: str | None = None, money: tuple[str, ...] = (),
          ratios: tuple[str, ...] = (), grid: tuple[list[str], str, str] | None = None,
          durations: tuple[str, ...] = ()) -> None:
    """Write ``df`` as asked; ``grid`` = (index columns, column key, value) for ``--wide`` tables,
    which people get as the grid on a terminal too (a cohort triangle reads better than rows)."""
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

        console = _console(common["no_color"])
        if long_metrics:
            table = render.metrics_table(df, dims, currency, title)
            # Too wide to read as periods × metrics: turn it to metrics × periods instead of eliding.
            if console.measure(table, options=console.options.update_width(100_000)).maximum > console.width:
                table = render.metrics_by_row(df, dims, currency, title)
        else:
            table = render.frame_table(df, money, ratios, currency, title, durations)
        if out_path is not None:
            console = _console(True)
            with console.capture() as cap:
                console.print(table)
            output.write_text(cap.get(), out_path)
        else:
            console.print(table)
        return
    if long_metrics and common["wide"]:
        df = output.wide(df, dims)
    df = output.rounded(df, common["decimals"])
    if out_path is not None:
        output.write_file(df, fmt, out_path)
    else:
        output.write_stdout(df, fmt)


MetricsArg = Annotated[list[str], typer.Argument(help="Metric ids or groups (revenue, all), comma-separated.",
                                                 autocompletion=_complete_metric, show_default=False)]


@app.command()
@data_command
def compute(
    metrics: MetricsArg,
    common: dict[str, Any],
    list_: Annotated[bool, typer.Option("--list", help="With pqls: the qualifying accounts instead of counts.")]
    = False,
) -> None:
    """Compute metrics per period (and --by group).

    Examples:

      kpi compute mrr --month 2023-03

      kpi compute mrr,nrr,customer_churn_rate --from 2023-01 --to 2023-12 --by plan -f csv > kpis.csv
    """
    from kpi_cli.api import compute_run, pql_list_run

    run = start_run(common)
    if list_:
        if [m.strip() for m in ",".join(metrics).split(",")] != ["pqls"]:
            from kpi_cli.errors import UsageError

            msg = "--list goes with pqls alone"
            raise UsageError(msg, hint="kpi compute pqls --list --month 2024-03")
        with progress(common, "finding PQLs…"):
            accounts = pql_list_run(run)
        report(run, common)
        emit(accounts, common, long_metrics=False, dims=[], currency="USD", title="Product-qualified leads")
        return
    with progress(common, "computing…"):
        df = compute_run(metrics, run)
    report(run, common)
    emit(df, common, long_metrics=True, dims=list(common["by"] or ()), currency=run.info.get("currency", "USD"))


@app.command()
@data_command
def movements(
    common: dict[str, Any],
    customers: Annotated[bool, typer.Option("--customers", help="One row per customer and movement.")] = False,
) -> None:
    """The MRR roll-forward: start, new, expansion, reactivation, contraction, churned, fx, end.

    Examples:

      kpi movements --from 2023-01 --to 2023-06

      kpi movements --month 2023-03 --customers -f csv
    """
    from kpi_cli.api import movements_run

    run = start_run(common)
    with progress(common, "computing movements…"):
        df = movements_run(run, customers=customers)
    report(run, common)
    money = ("start_mrr", "new", "expansion", "reactivation", "contraction", "churned", "fx", "end_mrr", "change")
    emit(df, common, long_metrics=False, dims=[], currency=run.info.get("currency", "USD"), money=money,
          title="MRR movements")


@app.command("list")
def list_metrics(
    format: Annotated[str, typer.Option("--format", "-f", help="table | csv | json.")] = "table",
) -> None:
    """List every metric: id, unit, sources, label."""
    from kpi_cli.listing import render

    # The console script answers plain `kpi list` calls before Typer loads (kpi_cli.listing.fast_list),
    # with this same text.
    typer.echo(render(format), nl=False)


@app.command()
def explain(
    metric: Annotated[str, typer.Argument(help="A metric id.", autocompletion=_complete_metric)],
    config: Annotated[str | None, typer.Option(help="Config file.")] = None,
) -> None:
    """Show one metric's definition and the option values in force."""
    from kpi_cli.config import load_settings
    from kpi_cli.registry import resolve

    with handled(False):
        (mid,) = resolve(metric)[:1]
        m = METRICS[mid]
        settings = load_settings({}, config)
        typer.echo(f"{m.id} — {m.label}  [{m.unit}, {m.family}]")
        typer.echo(f"sources: {', '.join(s.replace('|', ' or ') for s in m.sources)}")
        typer.echo(f"\n{m.definition}\n")
        if m.ratio:
            typer.echo(f"numerator: {m.ratio[0]}   denominator: {m.ratio[1]} (zero denominator → null)")
        if m.options:
            typer.echo("options in force:")
            for o in m.options:
                val = settings.values.get(o, "(default)")
                src = settings.origin.get(o, "default")
                typer.echo(f"  --{o.replace('_', '-')} = {val}  ({src})")


def version_callback(value: bool) -> None:
    """Print the version and stop."""
    if value:
        typer.echo(f"kpi {__version__}")
        raise typer.Exit


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=version_callback, is_eager=True,
                                          help="Show the version.")] = False,
) -> None:
    """SaaS KPIs from billing exports."""


def main() -> int | None:
    """Entry point of installs wired to ``kpi_cli.cli:main``: the same as ``kpi_cli.__main__.main``."""
    from kpi_cli.__main__ import main as entry

    return entry()


from kpi_cli import commands, table_commands  # noqa: E402, F401 — register the other commands
