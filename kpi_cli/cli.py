"""The ``kpi`` command: parses options, calls the library, renders. Nothing else lives here."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
import typer.core

from kpi_cli import __version__
from kpi_cli.errors import BadRowsError, ExitCode, KpiError
from kpi_cli.present import console_for, emit, families_run, report  # noqa: F401 (used by the command modules)
from kpi_cli.registry import GROUPS, METRICS

if TYPE_CHECKING:

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


RANGE, INPUT, REVENUE, ENGAGEMENT, OUTPUT = "Range and time", "Input", "Revenue", "Engagement", "Output"
ACQUISITION, SATISFACTION = "Acquisition", "Satisfaction and support"


def _opt(*decls: str, help: str, panel: str, metavar: str | None = None) -> Any:
    return typer.Option(*decls, help=help, rich_help_panel=panel, metavar=metavar, show_default=False)


def _common(
    month: Annotated[str | None, _opt(help="A month: YYYY-MM, last or this.", panel=RANGE, metavar="YYYY-MM")] = None,
    quarter: Annotated[str | None, _opt(help="A quarter: YYYY-Qn, last or this.", panel=RANGE,
                                        metavar="YYYY-Qn")] = None,
    year: Annotated[str | None, _opt(help="A year: YYYY, last or this.", panel=RANGE, metavar="YYYY")] = None,
    from_: Annotated[str | None, _opt("--from", help="First month or day.", panel=RANGE,
                                      metavar="YYYY-MM[-DD]")] = None,
    to: Annotated[str | None, _opt(help="Last month or day, inclusive.", panel=RANGE, metavar="YYYY-MM[-DD]")] = None,
    last: Annotated[int | None, _opt(help="The N most recent complete periods.", panel=RANGE, metavar="N")] = None,
    period: Annotated[str | None, _opt(help="Grain: day, week, month (default), quarter, year.", panel=RANGE,
                                       metavar="GRAIN")] = None,
    as_of: Annotated[str | None, _opt(help="Reference day for last/this and completeness (default: now).",
                                      panel=RANGE, metavar="YYYY-MM-DD")] = None,
    tz: Annotated[str | None, _opt(help="Reporting timezone (IANA name), default UTC.", panel=RANGE,
                                   metavar="ZONE")] = None,
    week_start: Annotated[str | None, _opt(help="First day of a week: mon (default) … sun.", panel=RANGE,
                                           metavar="DAY")] = None,
    by: Annotated[list[str] | None, _opt(help="Split by plan, currency, a customers column, an event column or "
                                         "prop.NAME (repeatable).", panel=INPUT, metavar="DIM")] = None,
    data: Annotated[str | None, _opt(help="Data directory (else KPI_DATA, config, cwd).", panel=INPUT,
                                     metavar="DIR")] = None,
    config: Annotated[str | None, _opt(help="Config file (else KPI_CONFIG, ./kpi.toml, user config).", panel=INPUT,
                                       metavar="FILE")] = None,
    on_bad_rows: Annotated[str, _opt(help="error (default) | skip.", panel=INPUT, metavar="MODE")] = "error",
    rejects: Annotated[Path | None, _opt(help="With skip: write the rejected rows here (CSV).", panel=INPUT,
                                         metavar="FILE")] = None,
    engine: Annotated[str | None, _opt(help="polars (default) | duckdb | spark (else KPI_ENGINE, config).",
                                       panel=INPUT, metavar="ENGINE")] = None,
    spark_master: Annotated[str | None, _opt(help="--engine spark: the master URL (default local[2]); "
                                             "SPARK_REMOTE=sc://… uses Spark Connect instead.", panel=INPUT,
                                             metavar="URL")] = None,
    spark_conf: Annotated[list[str] | None, _opt(help="--engine spark: a Spark setting (repeatable).", panel=INPUT,
                                                 metavar="KEY=VALUE")] = None,
    currency: Annotated[str | None, _opt(help="Reporting currency (fx_rates convert the others).", panel=REVENUE,
                                         metavar="CODE")] = None,
    discounts: Annotated[str | None, _opt(help="none | recurring (default) | all.", panel=REVENUE,
                                          metavar="MODE")] = None,
    churn_at: Annotated[str | None, _opt(help="end (of the paid period, default) | cancel.", panel=REVENUE,
                                         metavar="WHEN")] = None,
    churn_denominator: Annotated[str | None, _opt(help="start (default) | start_plus_new.", panel=REVENUE,
                                                  metavar="BASE")] = None,
    gross_margin: Annotated[float | None, _opt(help="Gross margin for LTV, in (0, 1] (default 1).", panel=REVENUE,
                                               metavar="FRACTION")] = None,
    within: Annotated[str | None, _opt(help="Conversion window: 30d (trials) / 90d (signups) by default.",
                                       panel=REVENUE, metavar="DURATION")] = None,
    actor: Annotated[str | None, _opt(help="Who counts as active: user (default) | account.", panel=ENGAGEMENT,
                                      metavar="WHO")] = None,
    identified_only: Annotated[bool, _opt("--identified-only", help="Drop events that stay anonymous.",
                                          panel=ENGAGEMENT)] = False,
    session_gap: Annotated[str | None, _opt(help="Inactivity that ends a session (default 30m).", panel=ENGAGEMENT,
                                            metavar="DURATION")] = None,
    window: Annotated[str | None, _opt(help="compute: calendar (default) | trailing WAU/MAU windows; funnel: the "
                                       "conversion window (default 14d).", panel=ENGAGEMENT, metavar="WINDOW")] = None,
    mau_days: Annotated[int | None, _opt(help="Trailing MAU length in days: 30 (default) or 28.", panel=ENGAGEMENT,
                                         metavar="DAYS")] = None,
    inactive_days: Annotated[int | None, _opt(help="Idle days before a return counts as reactivation (default 30).",
                                              panel=ENGAGEMENT, metavar="DAYS")] = None,
    exclude_file: Annotated[str | None, _opt(help="User ids to leave out, one per line (adds to [exclude] users).",
                                             panel=ENGAGEMENT, metavar="FILE")] = None,
    cac_lag: Annotated[int | None, _opt(help="CAC/CPA/payback read spend of period P − N (default 0).",
                                        panel=ACQUISITION, metavar="N")] = None,
    cac_basis: Annotated[str | None, _opt(help="blended (default) | paid: paid-channel spend / paid new customers.",
                                          panel=ACQUISITION, metavar="BASIS")] = None,
    payback_basis: Annotated[str | None, _opt(help="new (default) | new_plus_expansion MRR in the payback "
                                              "denominator.", panel=ACQUISITION, metavar="BASIS")] = None,
    spend_allocation: Annotated[str | None, _opt(help="none (default) | prorate: spread monthly spend over the "
                                                 "month's days at --period week|day.", panel=ACQUISITION,
                                                 metavar="MODE")] = None,
    bounce: Annotated[str | None, _opt(help="single_page (default: ≤ 1 pageview) | ga4 (not engaged).",
                                       panel=ACQUISITION, metavar="RULE")] = None,
    engaged_seconds: Annotated[float | None, _opt(help="--bounce ga4: seconds that make a session engaged "
                                                  "(default 10).", panel=ACQUISITION, metavar="S")] = None,
    csat: Annotated[str | None, _opt(help="share (default: 4–5 of 1–5) | mean.", panel=SATISFACTION,
                                     metavar="MODE")] = None,
    ces_scale: Annotated[str | None, _opt(help="1-7 (default) | 1-5.", panel=SATISFACTION, metavar="SCALE")] = None,
    nps_unit: Annotated[str | None, _opt(help="respondent (default) | account (median score per account).",
                                         panel=SATISFACTION, metavar="UNIT")] = None,
    nps_weight: Annotated[str | None, _opt(help="none (default) | mrr: score accounts and weigh each by its MRR at "
                                           "the period's end (implies --nps-unit account).", panel=SATISFACTION,
                                           metavar="WEIGHT")] = None,
    tag: Annotated[str | None, _opt(help="Ticket metrics over tickets with this tag only.", panel=SATISFACTION,
                                    metavar="TAG")] = None,
    hours: Annotated[str | None, _opt(help="calendar (default) | business (a preset's business-hours columns).",
                                      panel=SATISFACTION, metavar="HOURS")] = None,
    format: Annotated[str, _opt("--format", "-f", help="auto | table | csv | json | jsonl | parquet | xlsx (auto: "
                                "table on a terminal, else csv).", panel=OUTPUT, metavar="FORMAT")] = "auto",
    output: Annotated[Path | None, _opt("--output", "-o", help="Write to FILE atomically (format from its "
                                        "extension).", panel=OUTPUT, metavar="FILE")] = None,
    wide: Annotated[bool, _opt(help="One column per metric.", panel=OUTPUT)] = False,
    decimals: Annotated[int | None, _opt(help="Round machine output to N decimals (0–15).", panel=OUTPUT,
                                         metavar="N")] = None,
    quiet: Annotated[bool, _opt("--quiet", "-q", help="No messages on stderr but errors.", panel=OUTPUT)] = False,
    verbose: Annotated[bool, _opt("--verbose", "-v", help="Rows read/used/rejected per source, options in force.",
                                  panel=OUTPUT)] = False,
    no_color: Annotated[bool, _opt("--no-color", help="No colour (also NO_COLOR).", panel=OUTPUT)] = False,
    debug: Annotated[bool, _opt(help="Show tracebacks.", panel=OUTPUT)] = False,
) -> None:
    """Template: the options every data command shares (SPEC §4)."""


COMMON = list(inspect.signature(_common, eval_str=True).parameters.values())
COMMON_NAMES = {p.name for p in COMMON}
COMMON_DEFAULTS = {p.name: p.default for p in COMMON}

# What each kind of command reads, so its --help lists only options that change its result.
RANGE_OPTS = ("month", "quarter", "year", "from_", "to", "last", "period", "as_of", "tz", "week_start")
INPUT_OPTS = ("data", "config", "on_bad_rows", "rejects", "engine", "spark_master", "spark_conf")
MONEY_OPTS = ("currency", "discounts", "churn_at")
REVENUE_OPTS = (*MONEY_OPTS, "churn_denominator", "gross_margin", "within")
EVENT_OPTS = ("actor", "identified_only", "exclude_file")
ENGAGEMENT_OPTS = (*EVENT_OPTS, "session_gap", "window", "mau_days", "inactive_days")
ACQUISITION_OPTS = ("cac_lag", "cac_basis", "payback_basis", "spend_allocation", "bounce", "engaged_seconds")
SATISFACTION_OPTS = ("csat", "ces_scale", "nps_unit", "nps_weight", "tag", "hours")
MESSAGE_OPTS = ("quiet", "verbose", "no_color", "debug")
OUTPUT_OPTS = ("format", "output", "wide", "decimals", *MESSAGE_OPTS)
ALL_OPTS = tuple(COMMON_NAMES)


class PanelCommand(typer.core.TyperCommand):
    """Plain (Rich-free, so fast) help with options grouped under their ``rich_help_panel``."""

    def format_options(self, ctx: Any, formatter: Any) -> None:
        """Arguments, the command's own options, then one section per panel in order of appearance."""
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            panel = getattr(param, "rich_help_panel", None)
            name = "Arguments" if param.param_type_name == "argument" else panel or "Options"
            sections.setdefault(name, []).append(record)
        order = ["Arguments", "Options", *(s for s in sections if s not in ("Arguments", "Options"))]
        for name in order:
            if name in sections:
                with formatter.section(name):
                    formatter.write_dl(sections[name])


def data_command(uses: tuple[str, ...] = ALL_OPTS) -> Callable[[F], F]:
    """Register a command with the shared data options it ``uses``; it receives all of them as a
    ``common`` dict (the ones it does not offer at their defaults)."""
    offered = [p for p in COMMON if p.name in uses]

    def decorate(fn: F) -> F:
        own = [p for p in inspect.signature(fn, eval_str=True).parameters.values() if p.name != "common"]

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> None:
            common = {**COMMON_DEFAULTS, **{k: kwargs.pop(k) for k in list(kwargs) if k in COMMON_NAMES}}
            with handled(common.get("debug", False)):
                fn(common=common, **kwargs)

        params = own + [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in offered]
        wrapper.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params])
        return wrapper  # type: ignore[return-value]

    return decorate


class handled:
    """The one place errors become a line on stderr and an exit code."""

    def __init__(self, debug: bool) -> None:
        self.debug = debug or bool(os.environ.get("KPI_DEBUG"))

    def __enter__(self) -> None:
        # The console script answers Ctrl-C during start-up by leaving at once (kpi_cli.__main__);
        # from here on an interrupt is a KeyboardInterrupt, so clean-up (temporary files) runs.
        if getattr(signal.getsignal(signal.SIGINT), "kpi_start_up", False):
            with contextlib.suppress(ValueError):  # not the main thread: nothing to put back
                signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        if exc is None or isinstance(exc, typer.Exit | typer.Abort | SystemExit):
            return
        if isinstance(exc, BrokenPipeError):
            # The reader went away (`kpi … | head`): stop quietly, without a traceback.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(int(ExitCode.SUCCESS))
        if isinstance(exc, KeyboardInterrupt):
            typer.echo("kpi: interrupted", err=True)
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
        # Only a defect of kpi itself gets here: everything a user can cause raises a KpiError.
        err(f"internal error ({type(exc).__name__}: {exc}); this is a bug in kpi")
        typer.echo("hint: rerun with --debug and report the traceback", err=True)
        raise typer.Exit(int(ExitCode.DATA_ERROR))


def err(message: str) -> None:
    """One line on stderr."""
    typer.echo(f"kpi: error: {message}", err=True)


@contextlib.contextmanager
def progress(common: dict[str, Any], message: str) -> Iterator[None]:
    """A spinner on stderr for work that takes over a second, on a terminal, unless ``-q``."""
    if common["quiet"] or not sys.stderr.isatty():
        yield
        return
    status = console_for(common["no_color"], stderr=True).status(message)
    timer = threading.Timer(1.0, status.start)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        status.stop()


def start_run(common: dict[str, Any]) -> Run:
    """Options → a started :class:`~kpi_cli.api.Run`; every option value is checked here, before any work."""
    from kpi_cli.api import Run
    from kpi_cli.options import RunOptions, check_int

    if common["rejects"] and common["on_bad_rows"] != "skip":
        from kpi_cli.errors import UsageError

        msg = "--rejects only makes sense with --on-bad-rows skip"
        raise UsageError(msg, hint="add --on-bad-rows skip")
    check_int("decimals", common["decimals"])
    run = Run.start(run_options(common, RunOptions))
    spark_options(common, run.settings.values["engine"])
    say_config_warnings(run.settings, common)
    return run


def spark_options(common: dict[str, Any], engine: str) -> None:
    """``--spark-master`` and ``--spark-conf`` handed to the Spark session (made on first use), or a
    usage error when the run's engine is not Spark."""
    master, conf = common.get("spark_master"), common.get("spark_conf") or []
    if master is None and not conf:
        return
    from kpi_cli.errors import UsageError

    if engine != "spark":
        msg = f"--spark-master and --spark-conf only make sense with --engine spark (the engine is {engine})"
        raise UsageError(msg, hint="add --engine spark")
    from kpi_cli.engines import configure_spark
    from kpi_cli.options import parse_spark_conf

    configure_spark(master, parse_spark_conf(conf))


def run_options(common: dict[str, Any], options_class: Any) -> Any:
    """The :class:`~kpi_cli.options.RunOptions` of the command line (unset engagement options at their defaults)."""
    from kpi_cli.periods import RangeRequest

    rng = RangeRequest(common["month"], common["quarter"], common["year"], common["from_"], common["to"],
                       common["last"])
    defaults = {f: options_class.__dataclass_fields__[f].default
                for f in ("actor", "session_gap", "mau_days", "inactive_days", "cac_lag", "cac_basis", "payback_basis",
                          "spend_allocation", "bounce", "engaged_seconds", "csat", "ces_scale", "nps_unit",
                          "nps_weight", "hours")}
    unset = {k: defaults[k] if common[k] is None else common[k] for k in defaults}
    return options_class(
        range=rng, period=common["period"], tz=common["tz"], week_start=common["week_start"],
        as_of=common["as_of"], by=tuple(common["by"] or ()), currency=common["currency"],
        discounts=common["discounts"], churn_at=common["churn_at"],
        churn_denominator=common["churn_denominator"], gross_margin=common["gross_margin"],
        within=common["within"], on_bad_rows=common["on_bad_rows"], rejects=common["rejects"], audit=common["verbose"],
        engine=common["engine"], data=common["data"], config=common["config"],
        identified_only=common["identified_only"], window=common["window"], exclude_file=common["exclude_file"],
        tag=common["tag"], **unset,
    )


def say_config_warnings(settings: Any, common: dict[str, Any]) -> None:
    """Unknown kpi.toml keys, on stderr before any work (they may be why the run fails)."""
    if not common.get("quiet"):
        for w in settings.warnings:
            typer.echo(f"kpi: warning: {w}", err=True)


MetricsArg = Annotated[list[str], typer.Argument(help="Metric ids or groups (revenue, acquisition, engagement, "
                                                 "satisfaction, all), comma-separated.",
                                                 autocompletion=_complete_metric, show_default=False)]


@app.command(cls=PanelCommand)
@data_command()
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

      kpi compute dau,mau,dau_mau --year 2023 --data events/ --engine spark
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
        emit(accounts, common, long_metrics=False, dims=[], currency="USD", title="Product-qualified leads",
             run=run)
        return
    with progress(common, "computing…"):
        df = compute_run(metrics, run)
    report(run, common)
    emit(df, common, long_metrics=True, dims=list(common["by"] or ()), currency=run.info.get("currency", "USD"),
         run=run)


@app.command(cls=PanelCommand)
@data_command(uses=(*RANGE_OPTS, "by", *INPUT_OPTS, *MONEY_OPTS, *OUTPUT_OPTS))
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
          title="MRR movements", run=run)


@app.command("list")
def list_metrics(
    format: Annotated[str, typer.Option("--format", "-f", help="table | csv | json.")] = "table",
) -> None:
    """List every metric: id, group, unit and label (csv and json add the sources each needs)."""
    from kpi_cli.listing import render

    # The console script answers plain `kpi list` calls before Typer loads (kpi_cli.listing.fast_list),
    # with this same text.
    with handled(debug=False):  # an unknown --format: one line, exit 2; a closed pipe: quiet exit 0
        typer.echo(render(format), nl=False)


EXPLAIN_OPTS = ("period", "tz", "week_start", "data", "config", *REVENUE_OPTS, *ENGAGEMENT_OPTS, *ACQUISITION_OPTS,
                *SATISFACTION_OPTS, "debug")
@app.command(cls=PanelCommand)
@data_command(uses=EXPLAIN_OPTS)
def explain(
    metric: Annotated[str, typer.Argument(help="A metric id.", autocompletion=_complete_metric,
                                          show_default=False)],
    common: dict[str, Any],
) -> None:
    """Show one metric's definition, its parts, and the option values in force (and where each comes from).

    Example:

      kpi explain nrr --currency EUR --churn-at cancel
    """
    from kpi_cli.config import load_settings
    from kpi_cli.errors import UsageError
    from kpi_cli.options import CHOICES, RunOptions, check_choice

    if metric.strip() not in METRICS:
        from kpi_cli.registry import resolve

        resolve(metric)  # an unknown id: its usage error, with suggestions
        msg = f"kpi explain takes one metric id, not {metric!r}"
        raise UsageError(msg, hint="`kpi list` shows every metric id")
    m = METRICS[metric.strip()]
    run_options(common, RunOptions)  # every value in its domain, as a data command would check
    flags = {k: common[k] for k in ("tz", "week_start", "currency", "period", "discounts", "churn_at",
                                    "churn_denominator", "gross_margin")}
    settings = load_settings({"data_dir": common["data"], **flags}, common["config"])
    say_config_warnings(settings, common)
    for key in CHOICES:
        if key in settings.values:
            settings.values[key] = check_choice(key, str(settings.values[key]))
    from kpi_cli.explain import lines

    typer.echo("\n".join(lines(m, settings, common)))


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


from kpi_cli import commands, insight_commands, table_commands  # noqa: E402, F401 — register the other commands
