"""The engagement family on the metric graph: events → per-period table → metric rows (SPEC §3.3)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement.base import EngagementBase, event_columns
from kpi_cli.engagement.events import Roles
from kpi_cli.engagement.hygiene import load_events
from kpi_cli.engagement.metrics import evaluate
from kpi_cli.engagement.windows import off_grain
from kpi_cli.errors import DataError, UsageError
from kpi_cli.graph import Family
from kpi_cli.registry import METRICS

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset
    from kpi_cli.graph import Graph

# Engagement metrics that read account ids whatever --actor says.
ACCOUNT_METRICS = ("active_accounts", "w2wai", "w2wai_count", "pqls")


def roles_of(graph: Graph) -> Roles:
    """The ``[events]`` roles of the run's config."""
    return Roles.from_table(graph.run.settings.tables.get("events", {}))


def _features(graph: Graph) -> bool:
    return list(graph.by) == ["feature"]


def _needs(graph: Graph) -> frozenset[str]:
    return parts_needed(graph.ids_of("engagement"), graph.run.options.window, graph.calendar.grain)


def build_base(graph: Graph) -> EngagementBase:
    """The engagement table for the run's range, actor and groups, with the parts its metrics read."""
    ids = graph.ids_of("engagement")
    if graph.lookback("engagement") > 1 and any(not METRICS[m].special for m in ids):
        msg = "an engagement metric read more than one period back is not supported"
        raise UsageError(msg)
    base = graph.run.engagement(roles_of(graph), () if _features(graph) else graph.by, _needs(graph),
                                req=graph.range_request)
    accounts = [m for m in ids if m in ACCOUNT_METRICS]
    if accounts:
        require_accounts(graph.run.dataset, accounts[0])
    return base


def evaluate_rows(graph: Graph, base: EngagementBase, mid: str) -> pl.DataFrame:
    """One engagement metric's rows (per feature with ``--by feature``)."""
    run = graph.run
    options: dict[str, object] = {"inactive_days": run.options.inactive_days,
                                  "pql": run.settings.tables.get("pql", {})}
    since = base.grid.first - min(graph.lookback("engagement"), base.grid.first)
    rows = evaluate(base, mid, roles_of(graph), run.options.window or "calendar", options, since)
    features = _features(graph)
    if ("feature" in rows.columns) != features:
        msg = (f"{mid} is reported per feature: add --by feature" if "feature" in rows.columns
               else f"--by feature: {mid} has no per-feature breakdown")
        raise UsageError(msg)
    periods = base.grid.periods().select("idx", "period", "complete")
    return rows.join(periods, on="idx", how="left").select(
        "period", *graph.by, "value", "numerator", "denominator", "complete")


def dims(graph: Graph) -> set[str] | None:
    """Event columns (canonical and extra), ``prop.*``, ``feature`` and the columns of customers (through
    the event's account_id), read from headers alone. None when engagement is the run's only family:
    its build names the columns of both sources itself."""
    from kpi_cli.loading import load_source

    if graph.families == ["engagement"]:
        return None
    settings = graph.run.settings
    out = {"prop.*", "feature"}
    src = load_source("events", settings, required=False)
    if src is not None:
        out |= set(src.mapping) | set(src.extra)
    customers = load_source("customers", settings, required=False)
    if customers is not None:
        out |= set(customers.mapping) | set(customers.extra)
    return out


def last_instant(graph: Graph) -> int | None:
    """The last instant of the clean events the run reads (the same load the build reuses)."""
    run = graph.run
    roles = roles_of(graph)
    by = () if _features(graph) else graph.by
    events, _ = load_events(run.dataset, run.options.identified_only, run.exclusions,
                            event_columns(roles, run.options.actor, by, _needs(graph)))
    return int(events["ts"].max())  # type: ignore[arg-type]


def require_accounts(ds: Dataset, why: str) -> None:
    """A data error when the events have no column mapped to ``account_id``: without one, account
    metrics would be silently 0 (Amplitude exports keep accounts in ``groups``)."""
    src = ds.sources.get("events")
    if src is None or "account_id" in src.mapping:
        return
    found = ", ".join([*src.mapping.values(), *src.extra][:12])
    msg = f"events ({src.files[0]}): {why} needs account ids, and no column maps to account_id; found: {found}"
    raise DataError(msg, hint='map it in kpi.toml: [sources.events.columns] account_id = "<header>" '
                    '(Amplitude: "groups.<your group type>", Segment: "context_groupId")')


@functools.cache
def _cached_parts(ids: tuple[str, ...], window: str | None, grain: str) -> frozenset[str]:
    needs = {i for i in ids if window != "trailing" and off_grain(i, grain)}
    if any(i.startswith("session") or i.endswith("session_duration") for i in ids):
        needs.add("sessions")
    if window == "trailing":
        needs.add("trailing")
    elif any(i in ("wau_mau", "dau_wau") for i in ids):
        needs.add("shares")
    if any(METRICS[i].special for i in ids):  # signup, account and feature metrics read every event
        needs.update(("entrants", "counts"))
    columns = {c for i in ids for c in (METRICS[i].value, *(METRICS[i].ratio or ()))}
    if columns & {"logins", "key_actions", "invites", "active_accounts"}:
        needs.add("counts")
    if "active_accounts" in columns:  # the streamed counts leave accounts out unless asked
        needs.add("accounts")
    return frozenset(needs)


def parts_needed(ids: list[str], window: str | None, grain: str = "month") -> frozenset[str]:
    """Which optional parts of the engagement table the metrics ``ids`` read."""
    return _cached_parts(tuple(ids), window, grain)


FAMILY = Family("engagement", ("events",), build_base, evaluate_rows, dims, last_instant)
