"""Settings and where each came from: flag > ``KPI_*`` variable > project file > user file > default.

``kpi config`` prints :meth:`Settings.provenance`; everything else reads the resolved values.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpi_cli.errors import DataError
from kpi_cli.files import is_uri

DEFAULTS: dict[str, Any] = {
    "data_dir": ".",
    "tz": "UTC",
    "week_start": "mon",
    "currency": None,
    "period": "month",
    "discounts": "recurring",
    "churn_at": "end",
    "churn_denominator": "start",
    "gross_margin": 1.0,
    "engine": "polars",
}
ENV = {key: f"KPI_{key.upper()}" for key in DEFAULTS}
ENV["data_dir"] = "KPI_DATA"


def user_config_path() -> Path:
    """``$XDG_CONFIG_HOME/kpi/kpi.toml`` (``~/.config/kpi/kpi.toml``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kpi" / "kpi.toml"


# Keys a kpi.toml may hold, beyond the settings of DEFAULTS; anything else is a warning naming the
# nearest known key (SPEC §4.2), so a typo like `curency` is not silently ignored.
TABLES = ("sources", "events", "exclude", "pql", "tickets", "channels", "benchmarks")
SOURCE_KEYS = ("path", "preset", "columns", "amount_unit", "source_tz", "header_rows", "encoding", "delimiter",
               "decimal", "thousands", "status", "keep", "drop", "survey", "duration_unit", "datetime_format")
EVENT_KEYS = ("signup", "login", "invite", "account_created", "trial_started", "pageview", "key_actions",
              "activation", "activation_window", "onboarding", "features", "active_events", "inactive_events")
TABLE_KEYS = {"exclude": ("users", "email_domains", "properties"),
              "pql": ("min_active_users", "min_key_actions", "within_days_of_signup"),
              "tickets": ("outbound",)}


def _read_toml(path: Path, hint: str) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        msg = f"config {path}: {e}"
        raise DataError(msg, hint="fix the TOML syntax (see `kpi init` for a template)") from None
    except UnicodeDecodeError as e:
        msg = f"config {path}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})"
        raise DataError(msg, hint="save the file as UTF-8") from None
    except OSError as e:
        msg = f"config {path}: cannot read ({e.strerror})"
        raise DataError(msg, hint=hint) from None


def _nearest(key: str, known: tuple[str, ...] | list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"


def unknown_keys(tables: dict[str, Any], where: Path | str) -> list[str]:
    """A warning per key of a parsed kpi.toml that no part of kpi reads, naming the nearest known key."""
    from kpi_cli.schemas import SOURCES

    out: list[str] = []

    def check(keys: Any, known: tuple[str, ...] | list[str], prefix: str) -> None:
        for key in keys:
            if key not in known:
                out.append(f"{where}: unknown key {prefix}{key}{_nearest(str(key), known)}")

    check(tables, (*DEFAULTS, *TABLES), "")
    sources = tables.get("sources")
    if isinstance(sources, dict):
        check(sources, list(SOURCES), "sources.")
        for name, table in sources.items():
            if name not in SOURCES or not isinstance(table, dict):
                continue
            check(table, SOURCE_KEYS, f"sources.{name}.")
            if isinstance(table.get("columns"), dict):
                check(table["columns"], [c.name for c in SOURCES[name]], f"sources.{name}.columns.")
    if isinstance(tables.get("events"), dict):
        check(tables["events"], EVENT_KEYS, "events.")
    for name, known in TABLE_KEYS.items():
        if isinstance(tables.get(name), dict):
            check(tables[name], known, f"{name}.")
    return out


@dataclass
class Settings:
    """Resolved settings, the raw config tables, and the origin of every value."""

    values: dict[str, Any]
    origin: dict[str, str]
    tables: dict[str, Any] = field(default_factory=dict)
    project_file: Path | None = None
    warnings: list[str] = field(default_factory=list)  # unknown keys, for the command to print
    user_file: Path | None = None
    listings: dict[str, Any] = field(default_factory=dict, repr=False)  # remote data directories, listed once

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def source_table(self, source: str) -> dict[str, Any]:
        """The ``[sources.NAME]`` table (path, preset, columns, amount_unit)."""
        table = self.tables.get("sources", {}).get(source, {})
        return table if isinstance(table, dict) else {}

    @property
    def data_dir(self) -> Path:
        """The data directory, relative paths taken from the config file's folder."""
        raw = Path(str(self.values["data_dir"]))
        if self.origin["data_dir"].startswith("config") and self.project_file and not raw.is_absolute():
            return self.project_file.parent / raw
        return raw

    @property
    def data_place(self) -> str:
        """The data directory as a person reads it: a URI as given, else the local path."""
        raw = str(self.values["data_dir"])
        return raw.rstrip("/") if is_uri(raw) else str(self.data_dir)

    def provenance(self) -> list[tuple[str, str, str]]:
        """Rows of (setting, value, origin) for ``kpi config``."""
        return [(k, "" if v is None else str(v), self.origin[k]) for k, v in sorted(self.values.items())]


def load_settings(flags: dict[str, Any] | None = None, config: str | Path | None = None) -> Settings:
    """Resolve settings from flags, environment, project and user files."""
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    user = user_config_path()
    # exists(), not is_file(): a directory or unreadable file there is an error, not "no user config".
    user_tables = _read_toml(user, "fix or remove the user config file") if user.exists() else {}
    path: Path | None = None
    explicit = config or os.environ.get("KPI_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            msg = f"config file {path} not found"
            raise DataError(msg, hint="check --config / KPI_CONFIG, or run `kpi init` to write one")
    elif Path("kpi.toml").is_file():
        path = Path("kpi.toml")
    project_tables = _read_toml(path, "check the path given to --config or KPI_CONFIG") if path else {}
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for key, default in DEFAULTS.items():
        if key in flags:
            values[key], origin[key] = flags[key], "flag"
        elif os.environ.get(ENV[key]):
            values[key], origin[key] = os.environ[ENV[key]], f"env {ENV[key]}"
        elif key in project_tables:
            values[key], origin[key] = project_tables[key], f"config {path}"
        elif key in user_tables:
            values[key], origin[key] = user_tables[key], f"user config {user}"
        else:
            values[key], origin[key] = default, "default"
    tables = {**user_tables, **project_tables}
    if "sources" in user_tables and "sources" in project_tables:
        tables["sources"] = {**user_tables["sources"], **project_tables["sources"]}
    warnings = [*unknown_keys(user_tables, user), *(unknown_keys(project_tables, path) if path else [])]
    return Settings(values, origin, tables, path, warnings, user if user_tables else None)
