"""From ticket rows to clean support demand: instants, hygiene, the --tag filter and the account join.

Every ticket metric reads the frame :func:`clean` returns, once per run: agent-created (outbound)
tickets are gone, each ticket knows when it was answered and resolved (from the timestamps, else
from the export's minute columns), and which account it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from kpi_cli.errors import UsageError

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset

MINUTE_US = 60_000_000
HOUR_US = 3_600_000_000
# Columns of the clean frame that are no --by dimension of their own.
INTERNAL = ("created_at", "answered_at", "resolved", "fr_h", "fr_bh", "res_h", "res_bh", "reopened", "account",
            "tag_list", "first_response_at", "first_response_minutes", "first_response_business_minutes",
            "first_resolved_at", "resolved_at", "full_resolution_minutes", "full_resolution_business_minutes",
            "reopens", "is_agent_created", "requester_email", "tags", "ticket_id")


@dataclass(frozen=True)
class Hygiene:
    """What the ticket hygiene did, for ``-v`` (Dataset.notes) and ``kpi explain``."""

    read: int  # good rows of the source
    agent_created: int  # left out as outbound work
    untagged: int  # left out by --tag
    unmatched: int  # kept tickets that joined no account
    join: str  # how tickets were joined to accounts, as people read it


def outbound_vias(table: dict[str, Any]) -> list[str]:
    """``[tickets] outbound``: the ``via`` values of agent-initiated tickets, lower-cased."""
    found = table.get("outbound", [])
    if isinstance(found, str):
        found = [found]
    if not isinstance(found, list) or not all(isinstance(v, str) for v in found):
        msg = "[tickets] outbound must be a list of via values"
        raise UsageError(msg, hint='e.g. [tickets] outbound = ["Outbound email", "Proactive"]')
    return [v.strip().lower() for v in found]


def wanted_tags(tag: str | None) -> list[str]:
    """``--tag``: the tags kept, lower-cased (``a,b`` keeps tickets carrying either)."""
    if tag is None:
        return []
    tags = [t.strip().lower() for t in tag.replace(";", ",").split(",") if t.strip()]
    if not tags:
        msg = f"--tag {tag!r} names no tag"
        raise UsageError(msg, hint="e.g. --tag billing")
    return tags


def tag_list() -> pl.Expr:
    """A ticket's tags: split on ``;`` or ``,``, trimmed, lower-cased, blanks dropped."""
    parts = pl.col("tags").str.to_lowercase().str.replace_all(";", ",", literal=True).str.split(",")
    return parts.list.eval(pl.element().str.strip_chars()).list.eval(
        pl.element().filter(pl.element() != "")).alias("tag_list")


def instants(cols: list[str]) -> list[pl.Expr]:
    """When each ticket was answered and resolved, and the hours it took (calendar and business).

    A timestamp wins over a duration (Freshdesk exports often leave durations blank while the
    timestamps are filled); a duration alone (Zendesk's CSV) is counted from ``created_at``.
    """
    created = pl.col("created_at")

    def col(name: str, dtype: pl.DataType) -> pl.Expr:
        return pl.col(name) if name in cols else pl.lit(None, dtype=dtype)

    fr_min = col("first_response_minutes", pl.Float64())
    res_min = col("full_resolution_minutes", pl.Float64())
    answered = pl.coalesce(col("first_response_at", pl.Int64()),
                           created + (fr_min * MINUTE_US).round(0).cast(pl.Int64))
    resolved = pl.coalesce(col("resolved_at", pl.Int64()), created + (res_min * MINUTE_US).round(0).cast(pl.Int64))
    fr_h = _hours("first_response_at", cols, fr_min)
    res_h = _hours("resolved_at", cols, res_min)
    reopens = col("reopens", pl.Int64()).fill_null(0)
    return [answered.alias("answered_at"), resolved.alias("resolved"), fr_h.cast(pl.Float64).alias("fr_h"),
            (col("first_response_business_minutes", pl.Float64()) / 60).cast(pl.Float64).alias("fr_bh"),
            res_h.cast(pl.Float64).alias("res_h"),
            (col("full_resolution_business_minutes", pl.Float64()) / 60).cast(pl.Float64).alias("res_bh"),
            (reopens > 0).alias("reopened")]


def _hours(stamp: str, cols: list[str], minutes: pl.Expr) -> pl.Expr:
    """Hours from creation to ``stamp`` when it is given, else the export's minutes ÷ 60."""
    if stamp not in cols:
        return minutes / 60
    return pl.when(pl.col(stamp).is_not_null()).then((pl.col(stamp) - pl.col("created_at")) / HOUR_US).otherwise(
        minutes / 60)


def clean(ds: Dataset, table: dict[str, Any], tag: str | None, by_tag: bool = False
          ) -> tuple[pl.DataFrame, Hygiene]:
    """Tickets that are support demand, with instants, hours and their account (memoised); with
    ``tag`` or ``by_tag`` also ``tag_list`` (splitting tags costs a third of this on 1M tickets)."""
    key = f"tickets:clean:{tag}:{by_tag}"
    if key in ds.memo:
        cached: tuple[pl.DataFrame, Hygiene] = ds.memo[key]  # type: ignore[assignment]
        return cached
    raw = ds.load("tickets")
    assert raw is not None
    cols = list(raw.columns)
    frame = raw.with_columns(instants(cols))
    if tag is not None or by_tag:
        frame = frame.with_columns(tag_list() if "tags" in cols
                                   else pl.lit([], dtype=pl.List(pl.String)).alias("tag_list"))
    outbound = outbound_vias(table)
    agent = pl.lit(False)
    if "is_agent_created" in cols:
        agent = agent | pl.col("is_agent_created").fill_null(False)
    if outbound and "via" in cols:
        agent = agent | pl.col("via").str.strip_chars().str.to_lowercase().is_in(outbound).fill_null(False)
    read = frame.height
    frame = frame.filter(~agent)
    agent_created = read - frame.height
    tags = wanted_tags(tag)
    kept = frame.height
    if tags:
        frame = frame.filter(pl.col("tag_list").list.eval(pl.element().is_in(tags)).list.any())
    untagged = kept - frame.height
    frame, join = with_accounts(ds, frame)
    unmatched = int(frame["account"].is_null().sum())
    hygiene = Hygiene(read, agent_created, untagged, unmatched, join)
    ds.notes.extend(notes(hygiene, tags))
    ds.memo[key] = (frame, hygiene)
    return frame, hygiene


def notes(h: Hygiene, tags: list[str]) -> list[str]:
    """What ``-v`` says about the tickets."""
    out = [(f"tickets: {h.agent_created} agent-created ticket{'s' * (h.agent_created != 1)} left out "
            "(is_agent_created, or via in [tickets] outbound)")]
    if tags:
        out.append(f"tickets: --tag {','.join(tags)} keeps {h.read - h.agent_created - h.untagged} of "
                   f"{h.read - h.agent_created} tickets")
    out.append(f"tickets: unmatched_tickets = {h.unmatched} (joined to no account; they count in totals) — "
               f"joined by {h.join}")
    return out


def with_accounts(ds: Dataset, frame: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """``account``: the ticket's ``account_id``, else its ``requester_email`` (lower-cased) looked up
    in ``customers.email`` when that column exists, else in the events' ``email`` → ``account_id``."""
    account = (pl.col("account_id").cast(pl.String).str.strip_chars() if "account_id" in frame.columns
               else pl.lit(None, dtype=pl.String))
    account = pl.when(account != "").then(account)
    how = ["account_id"]
    emails = None
    if "requester_email" in frame.columns:
        emails, source = email_accounts(ds)
        if emails is not None:
            how.append(f"requester_email → {source}")
    if emails is None or emails.height == 0:
        return frame.with_columns(account.alias("account")), ", ".join(how)
    email = pl.col("requester_email").str.strip_chars().str.to_lowercase()
    looked_up = email.replace_strict(emails["email"], emails["account"], default=None, return_dtype=pl.String)
    return frame.with_columns(pl.coalesce(account, looked_up).alias("account")), ", ".join(how)


def email_accounts(ds: Dataset) -> tuple[pl.DataFrame | None, str]:
    """``email → account`` (both text, e-mail lower-cased): ``customers.email`` first, then the events'
    ``email`` for addresses customers do not hold (SPEC §3.4: customers/events email)."""
    found: list[pl.DataFrame] = []
    via: list[str] = []
    customers = ds.load("customers", required=False) if ds.has("customers") else None
    if customers is not None and "email" in customers.columns:
        known = customers.select(pl.col("email").cast(pl.String).str.strip_chars().str.to_lowercase(),
                                 pl.col("customer_id").cast(pl.String).alias("account"))
        known = known.filter(pl.col("email").is_not_null(), pl.col("email") != "", pl.col("account").is_not_null())
        found.append(known.unique("email", keep="first", maintain_order=True))
        via.append("customers.email")
    events = _event_emails(ds)
    if events is not None:
        if found:
            events = events.join(found[0].select("email"), on="email", how="anti")
        found.append(events)
        via.append("events email")
    if not found:
        return None, ""
    return pl.concat(found), ", then ".join(via)


def _event_emails(ds: Dataset) -> pl.DataFrame | None:
    """``email → account`` from the events; an e-mail seen with several accounts belongs to the
    account of its earliest event."""
    if not ds.has("events"):
        return None
    from kpi_cli.loading import load_source

    src = load_source("events", ds.settings, required=False)
    if src is None or "email" not in src.mapping or "account_id" not in src.mapping:
        return None
    from kpi_cli.engagement.hygiene import load_events

    events, _ = load_events(ds, columns=frozenset({"email", "account_id"}))
    found = events.select("ts", pl.col("email").cast(pl.String).str.strip_chars().str.to_lowercase(),
                          pl.col("account_id").cast(pl.String).alias("account"))
    found = found.filter(pl.col("email").is_not_null(), pl.col("email") != "", pl.col("account").is_not_null())
    found = found.sort("ts", maintain_order=True).unique("email", keep="first", maintain_order=True)
    return found.select("email", "account")
