"""Product events: event roles, exclusions, properties, actor keys and the active filter.

Hygiene (dedup and identity) is in :mod:`kpi_cli.engagement.hygiene`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from kpi_cli.errors import DataError, UsageError

if TYPE_CHECKING:
    import narwhals as nw

    from kpi_cli.loading import Source
    from kpi_cli.parsing import Check

# Segment B2B SaaS spec names (SPEC §1.2), overridable in kpi.toml's [events] table.
DEFAULT_ROLES: dict[str, Any] = {
    "signup": "Signed Up",
    "login": "Signed In",
    "invite": "Invite Sent",
    "account_created": "Account Created",
    "trial_started": "Trial Started",
    "pageview": "Page Viewed",
    "key_actions": [],
    "active_events": [],
    "inactive_events": [],
}
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)
ACTOR_SEED = 20_240_101


@dataclass(frozen=True)
class Roles:
    """Event names by role, from ``[events]`` in the config over the Segment defaults."""

    names: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ROLES))

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> Roles:
        """Roles from a config table; unknown keys are kept (later metric families read them)."""
        return cls({**DEFAULT_ROLES, **table})

    def configured(self, needed: tuple[str, ...]) -> bool:
        """Every entry of ``needed`` has events (an entry "a|b" is met by either role)."""
        return all(any(self.events(r) for r in entry.split("|")) for entry in needed)

    def events(self, role: str) -> list[str]:
        """Event names of ``role`` as a list."""
        value = self.names.get(role) or []
        return [value] if isinstance(value, str) else [str(v) for v in value]


@dataclass(frozen=True)
class Exclusions:
    """Test and internal traffic to leave out of every engagement metric alike.

    ``users`` and ``email_domains`` remove whole actors (every row of an actor seen once with an
    excluded id or email domain); ``properties`` (``name=value``) remove matching events.
    """

    users: frozenset[str] = frozenset()
    email_domains: tuple[str, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_config(cls, table: dict[str, Any], exclude_file: str | None = None) -> Exclusions:
        """From ``[exclude]`` (users, email_domains, properties) and an optional file of user ids."""
        users = {str(u) for u in table.get("users", [])}
        if exclude_file:
            try:
                lines = Path(exclude_file).read_text().splitlines()
            except OSError as e:
                msg = f"--exclude-file {exclude_file}: cannot read ({e.strerror})"
                raise DataError(msg, hint="one user id per line") from None
            users |= {line.strip() for line in lines if line.strip() and not line.startswith("#")}
        props = []
        for item in table.get("properties", []):
            name, sep, value = str(item).partition("=")
            if not sep:
                msg = f"[exclude] properties entry {item!r} is not name=value"
                raise UsageError(msg, hint='e.g. properties = ["plan=internal"]')
            props.append((name.strip(), value.strip()))
        domains = tuple(str(d).lower().lstrip("@") for d in table.get("email_domains", []))
        return cls(frozenset(users), domains, tuple(props))

    def __bool__(self) -> bool:
        return bool(self.users or self.email_domains or self.properties)


def property_value(frame: pl.DataFrame, name: str) -> pl.Expr:
    """Event property ``name``: a column of that name, else a field of ``properties`` (JSON or struct)."""
    if name in frame.columns:
        return pl.col(name).cast(pl.String)
    if "properties" not in frame.columns:
        return pl.lit(None, dtype=pl.String)
    if isinstance(frame.schema["properties"], pl.Struct):
        fields = {f.name for f in frame.schema["properties"].fields}
        return pl.col("properties").struct.field(name).cast(pl.String) if name in fields else pl.lit(None)
    return pl.col("properties").cast(pl.String).str.json_path_match(f"$.{name}")


def actor_key(expr: pl.Expr) -> pl.Expr:
    """A 64-bit hash of an actor id, for counting distinct actors.

    Integers group and count 2-4× faster than strings on large logs. Two ids sharing a hash would
    count as one actor: for n distinct actors that has probability about n² / 2⁶⁵ (3 × 10⁻⁸ for a
    million). Event-id dedup and the anonymous map compare the real ids.
    """
    return expr.hash(ACTOR_SEED)


def event_rules(_src: Source, cols: list[str]) -> tuple[list[pl.Expr], list[Check]]:
    """Every event row needs someone to attribute it to."""
    ids = [pl.col(c).is_null() for c in ("user_id", "anonymous_id") if c in cols]
    if not ids:
        msg = "source events: neither user_id nor anonymous_id found"
        raise DataError(msg, hint='map one: [sources.events.columns] user_id = "<your header>"')
    transforms = []
    if "session_id" in cols:  # Amplitude writes -1 for "no session"
        sid = pl.col("session_id")
        transforms.append(pl.when(sid.is_in(["-1", ""])).then(None).otherwise(sid).alias("session_id"))
    return transforms, [("user_id", pl.all_horizontal(ids), "no user_id or anonymous_id")]


def exclude(frame: pl.DataFrame, ex: Exclusions) -> tuple[pl.DataFrame, int, int]:
    """Drop excluded actors, then excluded events; return the frame and both counts."""
    bad_actor = pl.col("actor").is_in(list(ex.users)) | pl.col("user_id").is_in(list(ex.users))
    if ex.email_domains and "email" in frame.columns:
        domain = pl.col("email").str.to_lowercase().str.split("@").list.last()
        bad_actor = bad_actor | domain.is_in(list(ex.email_domains)).fill_null(False)
    actors = frame.filter(bad_actor)["actor"].unique()
    before = frame.height
    frame = frame.filter(~pl.col("actor").is_in(actors.implode()))
    for name, value in ex.properties:
        frame = frame.filter((property_value(frame, name) != value).fill_null(True))
    return frame, actors.len(), before - frame.height


def active(frame: Frame, roles: Roles) -> Frame:
    """Rows that make their actor active: ``active_events`` if set, minus ``inactive_events``."""
    condition = active_condition(roles)
    return frame if condition is None else frame.filter(condition)


def active_condition_nw(roles: Roles) -> nw.Expr:
    """:func:`active_condition` on Narwhals' API (every engine), true where every event counts."""
    import narwhals as nw

    wanted, unwanted = roles.events("active_events"), roles.events("inactive_events")
    active_condition(roles)  # the same usage error for both lists
    if wanted:
        return nw.col("event").is_in(wanted)
    if unwanted:
        return ~nw.col("event").is_in(unwanted)
    return nw.lit(value=True)


def active_condition(roles: Roles) -> pl.Expr | None:
    """The condition :func:`active` filters on (None: every event makes its actor active)."""
    wanted, unwanted = roles.events("active_events"), roles.events("inactive_events")
    if wanted and unwanted:
        msg = "[events] has both active_events and inactive_events"
        raise UsageError(msg, hint="keep one of them")
    if wanted:
        return pl.col("event").is_in(wanted)
    if unwanted:
        return ~pl.col("event").is_in(unwanted)
    return None
