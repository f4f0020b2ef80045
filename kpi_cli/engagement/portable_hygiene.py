"""Event hygiene of a Parquet log on any engine: ``event_id`` dedup and the anonymous → user map.

The rules are :mod:`kpi_cli.engagement.hygiene`'s (SPEC §3.3), on the engine's scan of the log,
written on Narwhals:

- A blank id is no id (:func:`kpi_cli.engagement.portable.checked` has made empty text null, as the
  Polars parse does, also where Parquet statistics let the row checks be skipped).
- Rows repeating an ``event_id`` keep the earliest timestamp, then the first row in the files
  (file index in the source's file list × 2⁴⁰ + line, as on Polars); the others are not *kept*.
  The ids that may repeat are found by their 64-bit hashes (a shared hash only adds a candidate),
  then decided by their text: the engine never holds a table of every id's text.
- The anonymous → user map comes from every kept row carrying both ids: each anonymous id maps to
  the user of its earliest such row (timestamp, then place). Two user ids are never merged.
- The actor of a row is its user id, else the user its anonymous id maps to, else the anonymous id
  itself (a separate actor), or none with ``identified_only`` (then the row is not kept either).

Ids are grouped by their text (exact); an actor is a 64-bit key: a user's key is its text's hash
made even, an anonymous actor's the anonymous id's hash made odd, so the two never meet. Exact
duplicate rows are left: they cannot change a distinct count, and the role counts group every
column themselves (:func:`kpi_cli.engagement.portable_parts.counts`).

``-v`` asks for what the Polars path reports: :func:`audit` counts exact duplicates, repeated ids,
merged and anonymous rows from one grouping of the good rows by every column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import narwhals as nw

from kpi_cli.engagement.hygiene import Hygiene
from kpi_cli.engines import keep
from kpi_cli.portable_rows import with_places

if TYPE_CHECKING:
    from collections.abc import Collection

    from kpi_cli.engines import Engine

KEPT, ACTOR = "_kept", "actor"
IDS = ("event_id", "user_id", "anonymous_id")


def needed(present: Collection[str]) -> bool:
    """True when the log has a column hygiene reads beyond the plain log's."""
    return bool({"event_id", "anonymous_id"} & set(present))


def resolve(engine: Engine, log: nw.LazyFrame, present: Collection[str], files: dict[str, int], *,
            identified_only: bool) -> nw.LazyFrame:
    """``log`` (checked: ``_check`` null on a good row, the ``_key_`` hashes of the ids) with blank ids
    nulled, :data:`KEPT` (a good row that survives dedup and, with ``identified_only``, has a user)
    and :data:`ACTOR` (the row's actor key, null where there is none).

    ``files`` maps each file's name (as given, as every engine names a row's file) to its index in the
    source's file list.
    """
    missing = [c for c in IDS if c not in present]  # as on Polars: an absent id column is an empty one
    log = log.with_columns(nw.lit(None, dtype=nw.String).alias(c) for c in missing)  # blanks: null since checked()
    good = nw.col("_check").is_null()
    log = with_places(engine, log, files)
    kept = good
    if "event_id" in present:
        # Most ids occur once: their 64-bit hashes find the few that may repeat (a shared hash only adds a
        # candidate), those rows are decided by the id's text, and only the losers are joined back.
        ided = log.filter(good & ~nw.col("event_id").is_null())
        repeated = (ided.group_by("_key_event_id").agg(nw.len().alias("_n")).filter(nw.col("_n") > 1)
                    .select("_key_event_id"))
        clash = keep(engine, ided.join(repeated, on="_key_event_id", how="inner").select("event_id", "timestamp",
                                                                                          "_row"))
        winners = earliest(engine, clash, "event_id").select("_row", nw.lit(value=True).alias("_win"))
        losers = keep(engine, clash.join(winners, on="_row", how="left").filter(nw.col("_win").is_null())
                      .select("_row", nw.lit(value=True).alias("_lost")))
        log = log.join(losers, on="_row", how="left")
        kept = good & nw.col("_lost").is_null()
    has_user, has_anon = ~nw.col("user_id").is_null(), ~nw.col("anonymous_id").is_null()
    branches: list[tuple[nw.Expr, nw.Expr]] = []  # (when, actor key), first match wins
    if "user_id" in present:
        user_key = nw.col("_key_user_id") - nw.col("_key_user_id") % 2
        branches.append((has_user, user_key))
        if "anonymous_id" in present:
            # Held: earliest() reads it twice, and each read of the log re-reads its files and its row checks.
            both = keep(engine, log.filter(kept & has_user & has_anon).select(
                "anonymous_id", "_key_anonymous_id", "timestamp", "_row", user_key.alias("_mapped")))
            mapped = keep(engine, earliest(engine, both, "anonymous_id").select(
                "anonymous_id", nw.col("anonymous_id").alias("_mapped_id"), "_mapped", "_key_anonymous_id"))
            if _unique(engine, mapped, "_key_anonymous_id"):  # an integer join, the text compared after it
                log = log.join(mapped.drop("anonymous_id"), on="_key_anonymous_id", how="left")
                found = ~nw.col("_mapped").is_null() & (nw.col("_mapped_id") == nw.col("anonymous_id"))
            else:
                log = log.join(mapped.drop("_key_anonymous_id"), on="anonymous_id", how="left")
                found = ~nw.col("_mapped").is_null()
            branches.append((found.fill_null(value=False), nw.col("_mapped")))
    if "anonymous_id" in present and not identified_only:
        branches.append((has_anon, nw.col("_key_anonymous_id") - nw.col("_key_anonymous_id") % 2 + 1))
    actor: nw.Expr = nw.lit(None, dtype=nw.Int64)  # no id of a user at all
    for i, (when, key) in enumerate(reversed(branches)):  # keys of one type: the innermost has no otherwise
        actor = nw.when(when).then(key) if i == 0 else nw.when(when).then(key).otherwise(actor)
    out = log.with_columns(actor.alias(ACTOR))
    if identified_only:
        kept = kept & ~nw.col(ACTOR).is_null()
    return out.with_columns(kept.fill_null(value=False).alias(KEPT))


def _unique(engine: Engine, frame: nw.LazyFrame, key: str) -> bool:
    """True when no two rows of the (small, held) ``frame`` share ``key``."""
    counts = engine.collect(frame.select(nw.len().alias("n"), nw.col(key).n_unique().alias("k")))
    return bool(counts["n"][0] == counts["k"][0])


def earliest(engine: Engine, rows: nw.LazyFrame, key: str) -> nw.LazyFrame:
    """Per ``key``, its earliest row of ``rows`` (timestamp, then ``_row``): that row, whole.

    ``rows`` is read twice (the first instant per key, then the rows at it); what is read from those
    small results is held on the engine (:func:`kpi_cli.engines.keep`), or a SQL engine would read
    ``rows`` again for each.
    """
    ts = nw.col("timestamp")
    first_at = keep(engine, rows.group_by(key).agg(ts.min().alias("_t0")), small=True)
    at_first = keep(engine, rows.join(first_at, on=key, how="inner").filter(ts == nw.col("_t0")), small=True)
    first_row = at_first.group_by(key).agg(nw.col("_row").min().alias("_r0"))
    return at_first.join(first_row, on=key, how="inner").filter(nw.col("_row") == nw.col("_r0")).drop("_t0", "_r0")


def audit(engine: Engine, log: nw.LazyFrame, values: list[str], present: Collection[str], *,
          identified_only: bool) -> tuple[Hygiene, int, int]:
    """What the Polars path's hygiene reports (``-v``): the figures, the exact duplicates dropped and the
    rows used, from ``log`` after :func:`resolve` (or the checked plain log) and the source's ``values``
    (every column).

    The Polars path drops a repeat of an id-less row (equal in every column to an earlier one) and every
    loser of a repeated id, and reports a loser equal in every column to an earlier row of its id as an
    exact duplicate too. So, per group of equal good rows (n of them): an id-less group keeps one row and
    has n − 1 duplicates; an id group keeps the rows that did not lose (at most one) and has n − 1
    duplicates (copies). Repeated ids are the losers that are no copy. A kept row without a user is merged
    when its anonymous id maps to a user (its actor is a user's key: even), else it stays anonymous.
    """
    good = log.filter(nw.col("_check").is_null())
    ided = ~nw.col("event_id").is_null() if "event_id" in present else nw.lit(value=False)
    lost = ~nw.col("_lost").is_null() if "event_id" in present else nw.lit(value=False)
    no_user = nw.col("user_id").is_null() if "user_id" in present else nw.lit(value=True)
    if needed(present):
        merged = ~nw.col(ACTOR).is_null() & (nw.col(ACTOR) % 2 == 0)
    else:
        merged = nw.lit(value=False)
    flags = [ided.alias("_i"), no_user.alias("_nu"), merged.fill_null(value=False).alias("_m")]
    groups = good.with_columns(*flags, (~lost).cast(nw.Int64).alias("_w")).group_by(*values).agg(
        nw.len().alias("_n"), nw.col("_w").sum(), nw.col("_i").max(), nw.col("_nu").max(), nw.col("_m").max())
    n, kept = nw.col("_n"), nw.when(nw.col("_i")).then(nw.col("_w")).otherwise(nw.lit(1, dtype=nw.Int64))
    alone = nw.col("_nu")
    total = engine.collect(groups.select(
        n.sum().alias("rows"), (n - 1).sum().alias("duplicates"),
        nw.when(nw.col("_i")).then(n - 1).otherwise(0).sum().alias("copies"),
        nw.when(nw.col("_i")).then(n - nw.col("_w")).otherwise(0).sum().alias("losers"),
        kept.sum().alias("kept"), nw.when(alone).then(kept).otherwise(0).sum().alias("no_user"),
        nw.when(alone & nw.col("_m")).then(kept).otherwise(0).sum().alias("merged")))
    row = {k: int(v or 0) for k, v in total.row(0, named=True).items()}
    anonymous = row["no_user"] - row["merged"]
    hygiene = Hygiene(repeated_ids=row["losers"] - row["copies"], merged_anonymous=row["merged"],
                      anonymous_rows=anonymous, dropped_anonymous=anonymous if identified_only else 0)
    return hygiene, row["duplicates"], row["kept"] - (anonymous if identified_only else 0)
