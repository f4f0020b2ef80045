"""Event hygiene: dedup by ``event_id`` then exact rows, and the anonymous → user identity.

The rules (SPEC §3.3): rows repeating an ``event_id`` keep the earliest timestamp (then the
first in the file); a blank id is no id; exact duplicate rows go after that. The anonymous →
user map comes from every row carrying both ids, the earliest such row winning; two user ids
are never merged. Rows that stay anonymous are their own actor, unless ``identified_only``.

The log is held once in memory, without the event-id text: each id as a 128-bit hash (two
independently seeded 64-bit hashes), and, in a narrow log, the columns no metric reads as one
64-bit hash per row. Repeats and exact copies are still decided on every column.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement.events import Exclusions, event_rules, exclude
from kpi_cli.errors import DataError

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset, SourceReport

ID_COLUMNS = ("event_id", "user_id", "anonymous_id", "account_id")
ALWAYS = ("timestamp", "user_id", "anonymous_id")  # hygiene and the actor read these
ROW_FILE = 1 << 40  # a row's key: file index × 2⁴⁰ + line
ANON_PREFIX = "anon:"  # keeps an anonymous id from colliding with a user id of the same text
HASHES = ("_h", "_h2", "_rest")
BOTH = pl.col("user_id").is_not_null() & pl.col("anonymous_id").is_not_null()
# The earliest row (timestamp, then place in the file) of a group, and its timestamp.
FIRST = (pl.col("user_id").sort_by("timestamp", "_row").first(), pl.col("timestamp").min())


@dataclass(frozen=True)
class Hygiene:
    """What hygiene did, for ``-v`` and ``kpi explain``."""

    repeated_ids: int
    merged_anonymous: int
    anonymous_rows: int
    dropped_anonymous: int
    excluded_actors: int = 0
    excluded_rows: int = 0


@dataclass
class _Log:
    """The good rows held in memory, and what is needed to decide on them."""

    report: SourceReport
    good: pl.DataFrame  # _row, the held columns, _h, _h2 (and _rest)
    held: list[str]
    rest: list[str]  # columns held only through the _rest hash


@dataclass
class _Drops:
    """Rows that go, and how they are reported."""

    losers: pl.Series  # _row of repeated event ids that lose to an earlier row
    repeats: pl.Series  # _row of id-less rows repeating an earlier row exactly
    copies: int  # losers equal in every column to an earlier row of their id (reported as exact duplicates)
    clash: pl.DataFrame  # every row whose id repeats

    @cached_property
    def rows(self) -> pl.Series:
        """Every dropped row's ``_row``."""
        return pl.concat([self.losers, self.repeats])


def id_hash(expr: pl.Expr, half: int) -> pl.Expr:
    """Half ``half`` (0 or 1) of an event id's 128-bit hash: two independently seeded hashes."""
    return expr.hash(7 + half)


def anonymous_hash(expr: pl.Expr) -> pl.Expr:
    """The hash that groups anonymous ids before their text is compared (see ``_anonymous_map``)."""
    return expr.hash(13)


def load_events(ds: Dataset, identified_only: bool = False, exclusions: Exclusions | None = None,
                columns: frozenset[str] | None = None) -> tuple[pl.DataFrame, Hygiene]:
    """Clean events: ``ts, actor, user_id`` and the other columns, one row per real event.

    ``columns`` (canonical names) narrows the log: only those are kept besides ``ts`` and
    ``actor`` (None keeps every column). Hygiene decides the same either way.
    """
    if exclusions:
        columns = None  # email domains and properties may be read
    key = f"events:clean:{identified_only}:{sorted(columns) if columns is not None else '*'}"
    wide = f"events:clean:{identified_only}:*"
    if key not in ds.memo and columns is not None and wide in ds.memo:
        # Hygiene decides the same rows whatever the columns: a narrow log is the whole one, projected
        # (another family of the run, e.g. referral conversion, already cleaned every column).
        found: tuple[pl.DataFrame, Hygiene] = ds.memo[wide]  # type: ignore[assignment]
        whole, decided = found
        keep = [c for c in whole.columns if c in ("ts", "actor") or (c in columns and c not in ALWAYS)]
        ds.memo[key] = (whole.select(keep), decided)
    if key not in ds.memo:
        ds.memo[key] = _clean(ds, identified_only, columns)
    cached: tuple[pl.DataFrame, Hygiene] = ds.memo[key]  # type: ignore[assignment]
    frame, hygiene = cached
    if exclusions:
        frame, actors, rows = exclude(frame, exclusions)
        hygiene = replace(hygiene, excluded_actors=actors, excluded_rows=rows)
        if frame.height == 0:
            msg = "no events left: [exclude] (or --exclude-file) removes every actor"
            raise DataError(msg, hint="check the users, email_domains and properties in [exclude]")
    return frame, hygiene


def _clean(ds: Dataset, identified_only: bool, columns: frozenset[str] | None) -> tuple[pl.DataFrame, Hygiene]:
    log = _read(ds, columns)
    drops = _decide(log)
    alias = _anonymous_map(log.good, drops)
    kept = ~pl.col("_row").is_in(drops.rows.implode())
    good = log.good.drop(*[c for c in HASHES if c in log.good.columns])  # decided: released before the copies
    log.good = pl.DataFrame()
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
    if drops.rows.len():  # column by column, each released once copied: the log is never held twice
        columns_left = good.get_columns()
        del good
        kept_columns = []
        while columns_left:
            kept_columns.append(columns_left.pop(0).filter(mask))
        good = pl.DataFrame(kept_columns)
    frame = good.rename({"timestamp": "ts"})
    del good
    if identified_only:
        frame = frame.filter(pl.col("actor").is_not_null())
        if frame.height == 0:
            msg = "no events left: every row is anonymous and --identified-only drops them"
            raise DataError(msg, hint="drop --identified-only, or map user_id in kpi.toml")
    anonymous = at.len() - n_merged
    log.report.duplicates = drops.repeats.len() + drops.copies
    log.report.used = frame.height
    repeated = drops.losers.len() - drops.copies
    return frame, Hygiene(repeated_ids=repeated, merged_anonymous=n_merged, anonymous_rows=anonymous,
                          dropped_anonymous=anonymous if identified_only else 0)


def _read(ds: Dataset, columns: frozenset[str] | None) -> _Log:
    """One pass over the source: good rows held (bad ones settled with the dataset), ids hashed.

    Bad rows are rejected before any dedup, so a bad line repeated is rejected at each line (the
    rejects file lists every line that was not used). The parsed source itself is not kept: for
    CSV/JSON it is a whole in-memory copy of the log.
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
    report = ds.settle(typed, flagged, whole.height)
    if whole.height == flagged.height:
        msg = "no events to compute from (the file has only a header, or every row was rejected)"
        raise DataError(msg, hint="check the export, or run `kpi validate`")
    good = (whole.filter(~bad) if flagged.height else whole).drop("_check")
    return _Log(report, good, held, rest)


def _decide(log: _Log) -> _Drops:
    """Repeated ids keep the earliest timestamp, then the first row in the file; id-less rows
    equal in every column to an earlier one go. A loser equal in every column to an earlier row
    of its id is reported as an exact duplicate, like an id-less repeat."""
    good = log.good
    # Sorting the hashes finds repeats in a third of the time and memory of a hash table.
    first_half = good["_h"].sort()
    ids = first_half.filter(first_half == first_half.shift(1)).unique()
    del first_half
    same = [*log.held, *(c for c in HASHES if c in good.columns)]  # every column, as held
    clash = good.filter(pl.col("_h").is_in(ids.implode())).sort("timestamp", "_row")
    losers = clash.filter(~pl.struct("_h", "_h2").is_first_distinct())["_row"]
    copies = clash.filter(~pl.struct(same).is_first_distinct()).height
    repeats = _exact_repeats(good.filter(pl.col("_h").is_null()), [c for c in same if c not in ("_h", "_h2")])
    return _Drops(losers, repeats, copies, clash)


def _anonymous_map(good: pl.DataFrame, drops: _Drops) -> pl.DataFrame:
    """Each anonymous id's earliest surviving row carrying a user id: ``anonymous_id, user_id, timestamp``.

    Grouping millions of rows by id text is slow; the earliest timestamp per *hash* of the id is
    fast. The rows at that timestamp are then grouped by the real text: an id in the map holds a
    row at its hash's earliest instant, so that instant is its own earliest. A hash shared by two
    ids could hide the later one: every id the map is needed for (those on rows without a user
    id) is checked, and any hidden one sends the map back to grouping the full text.
    """
    rows = good.lazy().filter(BOTH).with_columns(anonymous_hash(pl.col("anonymous_id")).alias("_ah"))
    earliest = rows.group_by("_ah").agg(pl.col("timestamp").min()).collect()
    alias = rows.join(earliest.lazy(), on=["_ah", "timestamp"], how="semi").group_by("anonymous_id").agg(
        FIRST).collect()
    hashed = (good.lazy().filter(pl.col("user_id").is_null(), pl.col("anonymous_id").is_not_null())
              .select(pl.col("anonymous_id").unique()).with_columns(anonymous_hash(pl.col("anonymous_id")).alias("_ah"))
              .collect())
    hidden = hashed.filter(pl.col("_ah").is_in(earliest["_ah"].implode()),
                           ~pl.col("anonymous_id").is_in(alias["anonymous_id"].implode()))
    if hidden.height:
        alias = good.lazy().filter(BOTH).group_by("anonymous_id").agg(FIRST).collect()
    # Of the dropped rows only a losing twin can hold an anonymous id's earliest timestamp (an
    # exact repeat always has its earlier copy); where one does, that id's map is made again.
    hit = drops.clash.filter(pl.col("_row").is_in(drops.losers.implode()), BOTH).join(
        alias, on=["anonymous_id", "timestamp"])
    if hit.height:
        again_ids = hit["anonymous_id"].unique().implode()
        kept = ~pl.col("_row").is_in(drops.rows.implode())
        again = (good.lazy().filter(BOTH, kept, pl.col("anonymous_id").is_in(again_ids))
                 .group_by("anonymous_id").agg(FIRST).collect())
        alias = pl.concat([alias.filter(~pl.col("anonymous_id").is_in(again_ids)), again])
    return alias


def _exact_repeats(frame: pl.DataFrame, values: list[str]) -> pl.Series:
    """``_row`` of rows equal in every value to an earlier row; row hashes first, values on a hit."""
    if frame.height == 0:
        return pl.Series("_row", [], dtype=pl.Int64)
    hashed = frame.with_columns(pl.struct(values).hash(11).alias("_rh"))
    # Sorted hashes show their repeats side by side: ~9x faster than a hash table on 20M rows.
    ordered = hashed["_rh"].sort()
    repeated = ordered.filter(ordered == ordered.shift(1)).unique()
    del ordered
    suspects = hashed.filter(pl.col("_rh").is_in(repeated.implode()))
    return suspects.sort("_row").filter(~pl.struct(values).is_first_distinct())["_row"]
