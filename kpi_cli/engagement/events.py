"""Product events after hygiene: dedup by ``event_id``, anonymous → user identity, active filter.

The rules (SPEC §3.3): rows repeating an ``event_id`` keep the earliest timestamp (then the
first in the file); a blank id is no id. The anonymous → user map comes from every row carrying
both ids, the earliest such row winning; two user ids are never merged. Rows that stay
anonymous are their own actor, unless ``identified_only``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from kpi_cli.errors import DataError, UsageError

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset
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
ANON_PREFIX = "anon:"  # keeps an anonymous id from colliding with a user id of the same text


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
class Hygiene:
    """What hygiene did, for ``-v`` and ``kpi explain``."""

    repeated_ids: int
    merged_anonymous: int
    anonymous_rows: int
    dropped_anonymous: int
    excluded_actors: int = 0
    excluded_rows: int = 0


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


def load_events(ds: Dataset, identified_only: bool = False, exclusions: Exclusions | None = None
                ) -> tuple[pl.DataFrame, Hygiene]:
    """Clean events: ``ts, event, actor, account_id`` (+ other columns), one row per real event."""
    raw = ds.load("events", rules=event_rules)
    assert raw is not None
    if raw.height == 0:
        msg = "no events to compute from (the file has only a header, or every row was rejected)"
        raise DataError(msg,
                        hint="check the export, or run `kpi validate`")
    frame = raw.rename({"timestamp": "ts"})
    for c in ("user_id", "anonymous_id", "account_id", "event_id"):
        if c not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    before = frame.height
    # Repeated event ids: keep the earliest timestamp, then the first in the file.
    # Only rows whose id repeats need sorting; usually a tiny share of the log. One filter keeps
    # the rest and the winners, so the wide frame is copied once.
    # Hashes find repeats fast; a collision only adds a row to the (exact) sort below.
    repeats = pl.col("event_id").is_not_null() & pl.col("event_id").hash(7).is_duplicated()
    frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"))
    clash = frame.filter(repeats).select("event_id", "ts", "_file", "_line", "_row")
    if clash.height:
        winners = clash.sort("ts", "_file", "_line").unique("event_id", keep="first")["_row"]
        frame = frame.filter(~repeats | pl.col("_row").is_in(winners.implode()))
    frame = frame.drop("_row")
    repeated = before - frame.height
    both = frame.filter(pl.col("user_id").is_not_null() & pl.col("anonymous_id").is_not_null())
    alias = (both.select("anonymous_id", "user_id", "ts", "_file", "_line").sort("ts", "_file", "_line")
             .unique("anonymous_id", keep="first"))
    # Only rows without a user id need the alias map: a hash lookup, not a join over the whole log.
    needs_alias = pl.col("user_id").is_null() & pl.col("anonymous_id").is_not_null()
    merged_id = pl.col("anonymous_id").replace_strict(alias["anonymous_id"], alias["user_id"], default=None)
    frame = frame.with_columns(pl.when(needs_alias).then(merged_id).otherwise(None).alias("_merged"))
    resolved = pl.coalesce("user_id", "_merged")
    anonymous = resolved.is_null()
    merged, anonymous_rows = frame.select(
        (pl.col("user_id").is_null() & pl.col("_merged").is_not_null()).sum().alias("merged"),
        anonymous.sum().alias("anonymous")).row(0)
    if identified_only:
        frame = frame.filter(~anonymous)
    frame = frame.with_columns(
        pl.coalesce(resolved, pl.lit(ANON_PREFIX) + pl.col("anonymous_id")).alias("actor")
    ).drop("_merged")
    dropped = anonymous_rows if identified_only else 0
    excluded_actors = excluded_rows = 0
    if exclusions:
        frame, excluded_actors, excluded_rows = _exclude(frame, exclusions)
    return frame, Hygiene(repeated, merged, anonymous_rows, dropped, excluded_actors, excluded_rows)


def _exclude(frame: pl.DataFrame, ex: Exclusions) -> tuple[pl.DataFrame, int, int]:
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


def active(frame: pl.DataFrame, roles: Roles) -> pl.DataFrame:
    """Rows that make their actor active: ``active_events`` if set, minus ``inactive_events``."""
    wanted, unwanted = roles.events("active_events"), roles.events("inactive_events")
    if wanted and unwanted:
        msg = "[events] has both active_events and inactive_events"
        raise UsageError(msg, hint="keep one of them")
    if wanted:
        return frame.filter(pl.col("event").is_in(wanted))
    if unwanted:
        return frame.filter(~pl.col("event").is_in(unwanted))
    return frame
