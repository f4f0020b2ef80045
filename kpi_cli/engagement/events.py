"""Product events after hygiene: dedup by ``event_id``, anonymous → user identity, active filter.

The rules (SPEC §3.3): rows repeating an ``event_id`` keep the earliest timestamp (then the
first in the file); a blank id is no id. The anonymous → user map comes from every row carrying
both ids, the earliest such row winning; two user ids are never merged. Rows that stay
anonymous are their own actor, unless ``identified_only``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

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
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)
ID_COLUMNS = ("event_id", "user_id", "anonymous_id", "account_id")
ALWAYS = ("timestamp", "user_id", "anonymous_id")  # hygiene and the actor read these
ROW_FILE = 1 << 40  # a row's key: file index × 2⁴⁰ + line
ACTOR_SEED = 20_240_101
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


def actor_key(expr: pl.Expr) -> pl.Expr:
    """A 64-bit hash of an actor id, for counting distinct actors.

    Integers group and count 2-4× faster than strings on large logs. Two ids sharing a hash would
    count as one actor: for n distinct actors that has probability about n² / 2⁶⁵ (3 × 10⁻⁸ for a
    million). Event-id dedup and the anonymous map compare the real ids.
    """
    return expr.hash(ACTOR_SEED)


def id_hash(expr: pl.Expr, half: int) -> pl.Expr:
    """Half ``half`` (0 or 1) of an event id's 128-bit hash: two independently seeded hashes."""
    return expr.hash(7 + half)


def anonymous_hash(expr: pl.Expr) -> pl.Expr:
    """The hash that groups anonymous ids before their text is compared (see ``_anonymous_map``)."""
    return expr.hash(13)


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


def load_events(ds: Dataset, identified_only: bool = False, exclusions: Exclusions | None = None,
                columns: frozenset[str] | None = None) -> tuple[pl.DataFrame, Hygiene]:
    """Clean events: ``ts, actor, user_id`` and the other columns, one row per real event.

    ``columns`` (canonical names) limits the columns kept beyond those three; None keeps all.
    Hygiene is the same either way: rows are compared in full where that decides anything.
    """
    if exclusions:
        columns = None  # email domains and properties may be read
    key = f"events:clean:{identified_only}:{sorted(columns) if columns is not None else '*'}"
    if key not in ds.memo:
        ds.memo[key] = _clean_events(ds, identified_only, columns)
    cached: tuple[pl.DataFrame, Hygiene] = ds.memo[key]  # type: ignore[assignment]
    frame, hygiene = cached
    if exclusions:
        frame, actors, rows = _exclude(frame, exclusions)
        hygiene = replace(hygiene, excluded_actors=actors, excluded_rows=rows)
    return frame, hygiene


def _clean_events(ds: Dataset, identified_only: bool, columns: frozenset[str] | None
                  ) -> tuple[pl.DataFrame, Hygiene]:
    """Hygiene over one in-memory copy of the log, without its event id text.

    Event ids are long strings that only matter where they repeat: the log holds a 128-bit hash
    of each (two seeded 64-bit hashes), and columns a narrow log leaves out are held as one 64-bit
    hash per row, so repeats and exact copies are still decided on every column. Rows are
    identified by file and line, packed in one integer.
    """
    typed = ds.typed("events", rules=event_rules)
    lf = typed.frame
    names = lf.collect_schema().names()
    lf = lf.with_columns([pl.lit(None, dtype=pl.String).alias(c) for c in ID_COLUMNS if c not in names])
    lf = lf.with_columns((pl.col("_file").cast(pl.Int64) * ROW_FILE + pl.col("_line")).alias("_row"))
    values = [c for c in lf.collect_schema().names() if c not in ("_file", "_line", "_check", "_row")]
    held = [c for c in values if c != "event_id" and (columns is None or c in columns or c in ALWAYS)]
    rest = [c for c in values if c not in held and c != "event_id"]
    has_id = pl.col("event_id").is_not_null()
    hashes = [pl.when(has_id).then(id_hash(pl.col("event_id"), half)).alias(name)
              for half, name in ((0, "_h"), (1, "_h2"))]
    if rest:
        hashes.append(pl.struct(rest).hash(11).alias("_rest"))
    whole = lf.select("_row", "_check", *held, *hashes).collect(engine="streaming")
    bad = pl.col("_check").is_not_null()
    flagged = whole.filter(bad).select((pl.col("_row") // ROW_FILE).cast(pl.UInt32).alias("_file"),
                                       (pl.col("_row") % ROW_FILE).alias("_line"), "_check")
    ds.settle(typed, flagged, whole.height, 0, 0)
    if whole.height == flagged.height:
        msg = "no events to compute from (the file has only a header, or every row was rejected)"
        raise DataError(msg, hint="check the export, or run `kpi validate`")
    good = (whole.filter(~bad) if flagged.height else whole).drop("_check")
    del whole
    # Sorting the hashes finds repeats in a third of the time and memory of a hash table.
    first_half = good["_h"].sort()
    ids = first_half.filter(first_half == first_half.shift(1)).unique()
    del first_half
    clash = good.filter(pl.col("_h").is_in(ids.implode()))
    same = [*held, "_h", "_h2", *(["_rest"] if rest else [])]  # every column, as held
    # Repeated ids keep the earliest timestamp, then the first row in the file; a loser that
    # copies an earlier row exactly is reported as an exact duplicate, like an id-less repeat.
    clash = clash.sort("timestamp", "_row")
    losers = clash.filter(~pl.struct("_h", "_h2").is_first_distinct())["_row"]
    copies = clash.filter(~pl.struct(same).is_first_distinct()).height
    repeats = _exact_repeats(good.filter(pl.col("_h").is_null()), [c for c in same if c not in ("_h", "_h2")])
    drop = pl.concat([losers, repeats])
    kept = ~pl.col("_row").is_in(drop.implode())
    good = good.drop("_h", "_h2", *(["_rest"] if rest else []))  # decided: the hashes go before the next copies
    both = pl.col("user_id").is_not_null() & pl.col("anonymous_id").is_not_null()
    first = [pl.col("user_id").sort_by("timestamp", "_row").first(), pl.col("timestamp").min()]
    alias = _anonymous_map(good, both, first)
    # Only a losing twin can hold an anonymous id's earliest timestamp among dropped rows (an
    # exact repeat always has its earlier copy); where one does, that id's map is made again.
    hit = clash.filter(pl.col("_row").is_in(losers.implode()), both).join(alias, on=["anonymous_id", "timestamp"])
    if hit.height:
        ids_again = hit["anonymous_id"].unique().implode()
        again = (good.lazy().filter(both, kept, pl.col("anonymous_id").is_in(ids_again))
                 .group_by("anonymous_id").agg(first).collect())
        alias = pl.concat([alias.filter(~pl.col("anonymous_id").is_in(ids_again)), again])
    mask = good.select(kept).to_series()
    # Only rows without a user id need the map: gathered, resolved and put back by position.
    at = good.select(pl.arg_where(pl.col("user_id").is_null() & mask).alias("i"))["i"]
    anon = good["anonymous_id"].gather(at)
    merged = anon.replace_strict(alias["anonymous_id"], alias["user_id"], default=None)
    n_merged = int(merged.is_not_null().sum())
    resolved = merged if identified_only else merged.fill_null(ANON_PREFIX + anon)
    actor = good.get_column("user_id").scatter(at, resolved)
    # A narrow log keeps the actor alone, not the ids behind it.
    good = good.drop("_row", *(("user_id", "anonymous_id") if columns is not None else ())).with_columns(
        actor.alias("actor"))
    del actor
    if drop.len():  # column by column, each released once copied: the log is never held twice
        kept_columns = []
        for name in good.columns:
            kept_columns.append(good.get_column(name).filter(mask))
            good = good.drop(name)
        good = pl.DataFrame(kept_columns)
    frame = good.rename({"timestamp": "ts"})
    del good
    if identified_only:
        frame = frame.filter(pl.col("actor").is_not_null())
    anonymous = at.len() - n_merged
    ds.reports["events"].duplicates = repeats.len() + copies
    ds.reports["events"].used = frame.height
    return frame, Hygiene(losers.len() - copies, n_merged, anonymous, anonymous if identified_only else 0)


def _anonymous_map(good: pl.DataFrame, both: pl.Expr, first: list[pl.Expr]) -> pl.DataFrame:
    """Each anonymous id's earliest row carrying a user id: ``anonymous_id, user_id, timestamp``.

    Grouping millions of rows by id text is slow; the earliest timestamp per *hash* of the id is
    fast. The rows at that timestamp are then grouped by the real text. A hash shared by two ids
    could hide the later one: every id the map is needed for (those on rows without a user id)
    is checked, and any hidden one sends the whole map back to the slow exact path.
    """
    rows = good.lazy().filter(both).with_columns(anonymous_hash(pl.col("anonymous_id")).alias("_ah"))
    earliest = rows.group_by("_ah").agg(pl.col("timestamp").min()).collect()
    at_min = rows.join(earliest.lazy(), on=["_ah", "timestamp"], how="semi")
    alias = at_min.group_by("anonymous_id").agg(first).collect()
    # An id in the map holds a row at its hash's earliest timestamp, so that is its own earliest.
    needed = good.filter(pl.col("user_id").is_null(), pl.col("anonymous_id").is_not_null())["anonymous_id"].unique()
    hashed = needed.to_frame().with_columns(anonymous_hash(pl.col("anonymous_id")).alias("_ah"))
    hidden = hashed.filter(pl.col("_ah").is_in(earliest["_ah"].implode()),
                           ~pl.col("anonymous_id").is_in(alias["anonymous_id"].implode()))
    if hidden.height:
        return good.lazy().filter(both).group_by("anonymous_id").agg(first).collect()
    return alias


def _repeated(frame: pl.LazyFrame, key: pl.Expr) -> pl.LazyFrame:
    """Hashes seen more than once (``h``): candidates, to be compared by value."""
    return frame.group_by(key.alias("h")).agg(pl.len()).filter(pl.col("len") > 1).select("h")


def _exact_repeats(frame: pl.DataFrame, values: list[str]) -> pl.Series:
    """``_row`` of rows equal in every value to an earlier row; row hashes first, values on a hit."""
    if frame.height == 0:
        return pl.Series("_row", [], dtype=pl.Int64)
    hashed = frame.with_columns(pl.struct(values).hash(11).alias("_rh"))
    suspects = hashed.filter(pl.col("_rh").is_in(_repeated(hashed.lazy(), pl.col("_rh")).collect()["h"].implode()))
    return suspects.sort("_row").filter(~pl.struct(values).is_first_distinct())["_row"]


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


def active(frame: Frame, roles: Roles) -> Frame:
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
