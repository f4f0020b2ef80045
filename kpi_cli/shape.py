"""How a tool writes its export, beyond which header is which column (SPEC §1.1, §1.2).

The zone of naive times (``source_tz``, Intercom's ``(Area/City)`` header suffixes), a survey type
every row shares, rows that are not completed responses, the unit of durations, text a preset
rewrites before parsing, header rows an older export lacks. :mod:`kpi_cli.loading` applies these
when it locates and reads a source; :mod:`kpi_cli.parsing` turns zones and units into values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kpi_cli.errors import UsageError
from kpi_cli.header_rows import header_rows_of
from kpi_cli.presets import DURATION_UNITS, SURVEY_TYPES, Preset
from kpi_cli.records import header_records, is_json
from kpi_cli.schemas import SOURCES, normalise

if TYPE_CHECKING:
    import polars as pl


ZONE_SUFFIX = r"^(.*?)\s*\(([A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)+)\)$"  # "Created at (America/New_York)"


def zone_suffix(header: str) -> tuple[str, str] | None:
    """``(header without it, zone)`` when ``header`` ends in an IANA ``(Area/City)`` zone, else None.

    Examples
    --------
    >>> zone_suffix("Conversation started at (America/New_York)")
    ('Conversation started at', 'America/New_York')
    >>> zone_suffix("Amount (USD/EUR)") is None
    True
    """
    import re

    found = re.match(ZONE_SUFFIX, header.strip())
    if found is None or not found.group(1) or not is_zone(found.group(2)):
        return None
    return found.group(1), found.group(2)


def is_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def constants_of(name: str, table: dict[str, object], derived: dict[str, object],
               mapping: dict[str, str]) -> dict[str, str]:
    """``[sources.surveys] survey = "nps"``: the survey type of every row of an export holding one
    kind of survey (Typeform, SurveyMonkey, Qualtrics write none); a mapped column wins."""
    if name != "surveys" or "survey" in mapping:
        return {}
    value = table.get("survey", derived.get("survey"))
    if value is None:
        return {}
    text = str(value).strip().lower()
    if text not in SURVEY_TYPES:
        msg = f"[sources.surveys] survey = {value!r} is not one of {', '.join(SURVEY_TYPES)}"
        raise UsageError(msg, hint='e.g. [sources.surveys] survey = "nps"')
    return {"survey": text}


def probed(table: dict[str, object], probe: Callable[[list[list[str]]], int] | None, path: str,
            name: str) -> dict[str, object]:
    """``table`` with the header rows the preset finds in this CSV file (Qualtrics' older exports have 2)."""
    from kpi_cli.loading import REMOTE, _is_parquet

    if probe is None or is_json(path) or _is_parquet(path) or path.startswith(REMOTE):
        return table
    rows = header_rows_of(table, name)
    return {**table, "header_rows": probe(header_records(path, table, name, rows))}


def zones_of(name: str, table: dict[str, object], preset: Preset | None, mapping: dict[str, str],
           written: dict[str, str], warnings: list[str]) -> dict[str, str]:
    """The zone of each timestamp column's naive values: the one its file writes, else ``source_tz``.

    A file writes a column's zone in its header's ``(Area/City)`` suffix (Intercom) or in a header
    row (Qualtrics' ImportId JSON); ``written`` holds those. A preset whose tool writes naive
    local times (Zendesk, Freshdesk) warns while no zone is known: they are then read as UTC, as
    every naive time is.
    """
    stamps = [c.name for c in SOURCES[name] if c.kind == "ts" and c.name in mapping]
    declared = table.get("source_tz")
    if declared is not None and not (isinstance(declared, str) and is_zone(declared)):
        msg = f"[sources.{name}] source_tz = {declared!r} is not an IANA time zone"
        raise UsageError(msg, hint=f'e.g. [sources.{name}] source_tz = "America/New_York" (IANA names: Area/City)')
    for c, zone in list(written.items()):
        if not is_zone(zone):
            warnings.append(f"{name}: the file gives {c} the time zone {zone!r}, which is not an IANA zone; "
                            f"ignored (set [sources.{name}] source_tz)")
            del written[c]
    zones = {c: written.get(c, str(declared)) for c in stamps if c in written or declared is not None}
    if preset and preset.needs_tz and declared is None and not written:
        warnings.append(f"{name}: the {preset.name} export writes naive local times and [sources.{name}] "
                        f"source_tz is not set, so they are read as UTC; set it to {preset.needs_tz}")
    return {c: z for c, z in zones.items() if z != "UTC"}


def duration_unit(name: str, table: dict[str, object], preset: Preset | None) -> str:
    unit = str(table.get("duration_unit") or (preset.duration_unit if preset else "minutes")).lower()
    if unit not in DURATION_UNITS:
        msg = f"[sources.{name}] duration_unit = {unit!r} is not one of {', '.join(DURATION_UNITS)}"
        raise UsageError(msg, hint=f'e.g. [sources.{name}] duration_unit = "seconds" (Intercom)')
    return unit


@dataclass(frozen=True)
class Filter:
    """Rows of a file kept (``keep``) or dropped by the values of one of its columns."""

    header: str
    values: tuple[str, ...]
    keep: bool

    def describe(self) -> str:
        shown = " or ".join(self.values[:4]) + (" …" if len(self.values) > 4 else "")
        return f"{self.header} {'not ' if self.keep else ''}{shown}"


def filters(preset: Preset | None, table: dict[str, object], headers: list[str]) -> list[Filter]:
    """``keep``/``drop`` of ``[sources.S]`` (each replacing its preset's) on the headers this file has."""
    out: list[Filter] = []
    by_key = {normalise(h): h for h in reversed(headers)}
    for kind in ("keep", "drop"):
        rules = table.get(kind, getattr(preset, kind) if preset else {})
        if not isinstance(rules, dict):
            msg = f"[sources.S] {kind} must be a table of column = [values]"
            raise UsageError(msg, hint=f'e.g. {kind} = {{ "Response Type" = ["completed"] }}')
        for column, values in rules.items():
            header = by_key.get(normalise(str(column)))
            if header is None:
                continue  # a filter on a column this export does not have filters nothing
            listed = (values,) if isinstance(values, str | int) else tuple(values)
            out.append(Filter(header, tuple(str(v).strip().lower() for v in listed), kind == "keep"))
    return out


def rewritten(expr: pl.Expr, rule: tuple[str, str] | None) -> pl.Expr:
    import polars as pl

    return expr if rule is None else expr.cast(pl.String).str.replace_all(rule[0], rule[1])


def filtered(frame: pl.LazyFrame, rules: list[Filter], source: str, path: str,
             notes: list[str] | None) -> pl.LazyFrame:
    """The rows of ``path`` every filter keeps; the others counted in ``notes`` (never silently lost)."""
    import polars as pl

    kept = pl.lit(True)
    for f in rules:
        value = pl.col(f.header).cast(pl.String).str.strip_chars().str.to_lowercase()
        hit = value.is_in(list(f.values)).fill_null(False)
        kept = kept & (hit if f.keep else ~hit)
    left_out = int(frame.select((~kept).sum()).collect().item())
    if left_out and notes is not None:
        why = "; ".join(f.describe() for f in rules)
        notes.append(f"{source}: {left_out} row{'s' * (left_out != 1)} of {path} left out as not "
                     f"completed responses ({why})")
    return frame.filter(kept)
