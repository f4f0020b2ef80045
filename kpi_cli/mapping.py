"""Matching a file's headers to canonical columns: config columns > preset > a case- and
punctuation-insensitive match (SPEC §1.1), and what a preset and the source's table decide besides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpi_cli.errors import DataError
from kpi_cli.presets import ALL_PRESET_NAMES, PRESET_SOURCES, PRESETS, Preset
from kpi_cli.schemas import SOURCES, normalise
from kpi_cli.shape import constants_of, zone_suffix

if TYPE_CHECKING:
    import polars as pl

    from kpi_cli.config import Settings


@dataclass
class Resolved:
    """How a file's headers map to canonical columns, and what else its preset and table decided."""

    mapping: dict[str, str]  # canonical -> header as found
    preset: Preset | None
    zones: dict[str, str] = field(default_factory=dict)  # timestamp column -> zone of its header suffix
    constants: dict[str, str] = field(default_factory=dict)  # canonical -> value of every row
    ignored: list[str] = field(default_factory=list)  # headers never read (Qualtrics' own NPS class)


def resolve_columns(
    name: str, headers: list[str], settings: Settings, path: str
) -> tuple[dict[str, str], Preset | None]:
    """Map canonical columns to headers: config columns > preset > case/punctuation-insensitive match."""
    found = resolve(name, headers, settings.source_table(name), path)
    return found.mapping, found.preset


def preset_of(name: str, table: dict[str, object]) -> Preset | None:
    """The preset ``[sources.NAME]`` names (None without one); unknown or another source's is an error."""
    if not table.get("preset"):
        return None
    key = str(table["preset"]).lower()
    if key not in ALL_PRESET_NAMES:
        msg = f"source {name}: unknown preset {table['preset']!r}"
        raise DataError(msg, hint=f"use one of: {', '.join(ALL_PRESET_NAMES)}")
    home = PRESET_SOURCES[key]
    if home != name:
        msg = f"source {name}: preset {key!r} is for {home}, not {name}"
        raise DataError(msg, hint=f"remove preset from [sources.{name}] or move it to [sources.{home}]")
    return PRESETS[key]


def resolve(name: str, headers: list[str], table: dict[str, object], path: str) -> Resolved:
    """:func:`resolve_columns` with the zones of ``(Area/City)`` header suffixes, constants and ignored headers.

    A header ending in a zone (Intercom's ``Conversation started at (America/New_York)``) also
    matches without it, unless another header already reads that way.
    """
    import fnmatch

    preset = preset_of(name, table)
    # Derived before the ignored headers go: Qualtrics' question is found beside its NPS class.
    derived = preset.derive(headers) if preset and preset.derive else {}
    ignored = [h for h in headers if preset and any(fnmatch.fnmatchcase(h.lower(), g) for g in preset.ignore)]
    headers = [h for h in headers if h not in ignored]
    groups: dict[str, list[str]] = {}
    for h in headers:
        groups.setdefault(normalise(h), []).append(h)
    suffixed: dict[str, str] = {}  # header -> zone
    for h in headers:
        split = zone_suffix(h)
        if split is not None:
            suffixed[h] = split[1]
            groups.setdefault(normalise(split[0]), [h])

    def only(key: str, col: str) -> str:
        """The one header with ``key``: two that read alike are an error naming both (SPEC §1.3)."""
        found = groups[key]
        if len(found) > 1:
            both = " and ".join(f"{h!r}" for h in found[:2])
            msg = f"source {name} ({path}): headers {both} both name {col}"
            hint = ("rename or remove one of them in the file" if found[0] == found[1] else
                    f'map the one to use in [sources.{name}.columns] {col} = "<header exactly as written>"')
            raise DataError(msg, hint=hint)
        return found[0]

    written = table.get("columns")
    user_columns = written if isinstance(written, dict) else {}
    explicit = {str(k): str(v) for k, v in {**derived.get("columns", {}), **user_columns}.items()}
    mapping: dict[str, str] = {}
    for col in SOURCES[name]:
        if col.name in explicit:
            header = explicit[col.name]
            if header not in headers and normalise(header) not in groups:
                msg = (f"source {name} ({path}): mapped column {col.name} = {header!r} is not in the file; "
                       f"found: {', '.join(headers[:12])}")
                raise DataError(msg, hint=f"fix [sources.{name}.columns] {col.name} in the config")
            # A header written exactly is unambiguous unless the file repeats it verbatim.
            mapping[col.name] = (only(normalise(header), col.name) if headers.count(header) != 1 else header)
            continue
        # The first candidate present wins (a preset's order says which of its tool's headers to
        # prefer, e.g. Stripe's "Customer ID" over "Customer"); headers alike under one key do not.
        candidates = (preset.columns.get(col.name, ()) if preset else ()) + (col.name,)
        for cand in candidates:
            if normalise(cand) in groups:
                mapping[col.name] = only(normalise(cand), col.name)
                break
    constants = constants_of(name, table, derived, mapping)
    missing = [c.name for c in SOURCES[name] if c.required and c.name not in mapping and c.name not in constants]
    if missing:
        first = missing[0]
        msg = (f"source {name} ({path}): required column {first} not found; "
               f"found: {', '.join(headers[:12])}{' …' if len(headers) > 12 else ''}")
        hint = f'map it in kpi.toml: [sources.{name}.columns] {first} = "<your header>"'
        if name == "surveys" and first == "survey":
            hint = (f'set [sources.surveys] survey = "nps" (or "csat", "ces") when the export holds one kind '
                    f"of survey, or {hint}")
        elif not preset:
            hint += f" (or set a preset: {', '.join(p for p, home in PRESET_SOURCES.items() if home == name)})"
        raise DataError(msg, hint=hint)
    zones = {c: suffixed[h] for c, h in mapping.items() if h in suffixed}
    return Resolved(mapping, preset, zones, constants, ignored)


def column_expr(header: str, headers: list[str]) -> pl.Expr:
    """A plain column, or ``parent.field`` inside a struct column."""
    import polars as pl

    if header in headers:
        return pl.col(header)
    parent, _, leaf = header.partition(".")
    return pl.col(parent).struct.field(leaf)
