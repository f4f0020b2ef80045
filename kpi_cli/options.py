"""Everything a run needs to know, in one place (no dataframe imports)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kpi_cli.errors import UsageError
from kpi_cli.periods import Calendar, RangeRequest

CHOICES = {
    "discounts": ("none", "recurring", "all"),
    "churn_at": ("end", "cancel"),
    "churn_denominator": ("start", "start_plus_new"),
    "on_bad_rows": ("error", "skip"),
    "engine": ("polars", "duckdb", "spark"),
    "actor": ("user", "account"),
    "cac_basis": ("blended", "paid"),
    "payback_basis": ("new", "new_plus_expansion"),
    "spend_allocation": ("none", "prorate"),
    "bounce": ("single_page", "ga4"),
    "csat": ("share", "mean"),
    "ces_scale": ("1-7", "1-5"),
    "nps_unit": ("respondent", "account"),
    "nps_weight": ("none", "mrr"),
    "hours": ("calendar", "business"),
}
# Whole-number options and their inclusive bounds (None: unbounded), checked before any work starts.
# --decimals stops at 15: a double holds 15–17 significant digits, and Polars overflows on negatives.
INT_RANGES: dict[str, tuple[int, int | None]] = {
    "decimals": (0, 15), "last": (1, None), "mau_days": (1, 366), "inactive_days": (1, None),
    "cac_lag": (0, 36),
}


@dataclass(frozen=True)
class RunOptions:
    """Options of a data command, as given (``None`` means: use the config or default)."""

    range: RangeRequest = field(default_factory=RangeRequest)
    period: str | None = None
    tz: str | None = None
    week_start: str | None = None
    as_of: str | None = None
    by: tuple[str, ...] = ()
    currency: str | None = None
    discounts: str | None = None
    churn_at: str | None = None
    churn_denominator: str | None = None
    gross_margin: float | None = None
    within: str | None = None
    on_bad_rows: str = "error"
    rejects: Path | None = None
    audit: bool = False  # count every row decision, e.g. exact duplicates no metric needs (-v)
    engine: str | None = None
    actor: str = "user"
    session_gap: str = "30m"
    window: str | None = None  # compute: calendar | trailing; funnel: a duration (14d)
    mau_days: int = 30
    inactive_days: int = 30
    exclude_file: str | None = None
    identified_only: bool = False
    # Acquisition (SPEC §3.2)
    cac_lag: int = 0
    cac_basis: str = "blended"
    payback_basis: str = "new"
    spend_allocation: str = "none"
    bounce: str = "single_page"
    engaged_seconds: float = 10.0
    # Satisfaction and support (SPEC §3.4)
    csat: str = "share"
    ces_scale: str = "1-7"
    nps_unit: str = "respondent"
    nps_weight: str = "none"
    tag: str | None = None
    hours: str = "calendar"
    data: str | None = None
    config: str | None = None

    def __post_init__(self) -> None:
        """Every option value in its domain, else a usage error naming the option (SPEC §4.2)."""
        check_choice("on_bad_rows", self.on_bad_rows)
        check_choice("actor", self.actor)
        for name in ("cac_basis", "payback_basis", "spend_allocation", "bounce", "csat", "ces_scale", "nps_unit",
                     "nps_weight", "hours"):
            object.__setattr__(self, name, check_choice(name, getattr(self, name)))
        if not self.engaged_seconds >= 0:
            msg = f"--engaged-seconds {self.engaged_seconds} must be zero or more"
            raise UsageError(msg, hint="e.g. --engaged-seconds 10")
        for name in ("mau_days", "inactive_days", "cac_lag"):
            check_int(name, getattr(self, name))
        check_int("last", self.range.last)
        if parse_duration_days(self.session_gap, "--session-gap") <= 0:
            msg = f"--session-gap {self.session_gap!r} must be longer than zero"
            raise UsageError(msg, hint="e.g. --session-gap 30m")
        if self.within is not None and parse_duration_days(self.within, "--within") <= 0:
            msg = f"--within {self.within!r} must be longer than zero"
            raise UsageError(msg, hint="e.g. --within 30d")

    def flags(self) -> dict[str, object]:
        """The options that are also settings, for :func:`kpi_cli.config.load_settings`."""
        return {"data_dir": self.data, "tz": self.tz, "week_start": self.week_start, "currency": self.currency,
                "period": self.period, "discounts": self.discounts, "churn_at": self.churn_at,
                "churn_denominator": self.churn_denominator, "gross_margin": self.gross_margin,
                "engine": self.engine}


def check_choice(option: str, value: str) -> str:
    """``value`` if it is one of the choices of ``option``, else a usage error."""
    value = str(value).replace("-", "_") if option not in ("engine", "ces_scale") else str(value)
    if option == "churn_at" and value == "period_end":
        value = "end"
    if value not in CHOICES[option]:
        msg = f"--{option.replace('_', '-')} {value!r} is not one of {', '.join(CHOICES[option])}"
        raise UsageError(msg)
    if option == "engine" and value == "duckdb":
        try:
            import duckdb  # noqa: F401 — only whether it can be imported
        except ImportError:
            msg = "--engine duckdb needs the duckdb package, which is not installed"
            raise UsageError(msg, hint="pip install 'kpi-cli[duckdb]', or use --engine polars (the default)") from None
    if option == "engine" and value == "spark":
        from importlib.util import find_spec

        if find_spec("pyspark") is None:  # found, not imported: importing pyspark takes a while
            msg = "--engine spark needs pyspark, which is not installed"
            raise UsageError(msg, hint="pip install 'kpi-cli[spark]' (and a Java 17 runtime), or use --engine polars")
    return value


def parse_spark_conf(pairs: list[str] | tuple[str, ...]) -> dict[str, str]:
    """``--spark-conf KEY=VALUE`` (repeatable) as a dict, else a usage error naming the bad one.

    >>> parse_spark_conf(["spark.executor.memory=4g", "spark.sql.shuffle.partitions=64"])
    {'spark.executor.memory': '4g', 'spark.sql.shuffle.partitions': '64'}
    """
    out = {}
    for pair in pairs:
        key, sep, value = str(pair).partition("=")
        if not sep or not key.strip():
            msg = f"--spark-conf {pair!r} is not KEY=VALUE"
            raise UsageError(msg, hint="e.g. --spark-conf spark.executor.memory=4g")
        out[key.strip()] = value
    return out


def check_int(option: str, value: int | None) -> int | None:
    """``value`` if it lies within ``INT_RANGES[option]`` (None passes), else a usage error."""
    if value is None:
        return None
    lo, hi = INT_RANGES[option]
    if value < lo or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        msg = f"--{option.replace('_', '-')} {value} is out of range: it must be {bounds}"
        raise UsageError(msg, hint=f"e.g. --{option.replace('_', '-')} {INT_EXAMPLES[option]}")
    return value


INT_EXAMPLES = {"decimals": 2, "last": 12, "mau_days": 30, "inactive_days": 30, "cac_lag": 1}


def parse_duration_days(text: str, option: str) -> float:
    """``30d``, ``12h``, ``2w`` or a bare number of days, in days."""
    t = str(text).strip().lower()
    units = {"d": 1.0, "h": 1 / 24, "w": 7.0, "m": 1 / 1440}
    try:
        if t[-1:] in units:
            return float(t[:-1]) * units[t[-1]]
        return float(t)
    except ValueError:
        msg = f"{option} {text!r} is not a duration"
        raise UsageError(msg, hint="write it like 30d, 12h or 2w") from None


def calendar_of(values: dict[str, object]) -> Calendar:
    """The calendar from resolved settings."""
    return Calendar(str(values["period"]), str(values["tz"]), str(values["week_start"]))
