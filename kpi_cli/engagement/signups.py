"""Engagement metrics counted over entrants rather than activity: signups, new accounts, features.

Each returns ``idx, value, numerator, denominator`` (``feature`` or the ``--by`` keys first) for
the requested periods; windows that have not closed by the data's completeness instant leave
their entrants out of numerator and denominator alike.

With ``--by`` an entrant's group is the group of the event that made it an entrant (its first
signup, the account's creation or first event, the invitation, the last event before an idle
spell); what it does afterwards counts in that group whatever those later events carry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from kpi_cli.engagement.groups import at_first, at_last, groups_cross, over
from kpi_cli.errors import UsageError
from kpi_cli.locate import slot
from kpi_cli.options import parse_duration_days
from kpi_cli.revenue.metrics import ratio

if TYPE_CHECKING:
    from collections.abc import Callable

    from kpi_cli.engagement.base import EngagementBase
    from kpi_cli.engagement.events import Roles

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000


def _window_us(roles: Roles) -> int:
    return int(parse_duration_days(str(roles.names.get("activation_window", "7d")), "activation_window") * DAY_US)


def _period(base: EngagementBase, frame: pl.DataFrame, col: str) -> pl.DataFrame:
    """Add ``idx`` (period of instant ``col``), keeping the requested periods only."""
    out = frame.with_columns(slot(pl.col(col), base.grid.frame()["b_us"].to_list()).alias("idx"))
    return out.filter(pl.col("idx") >= base.grid.first, pl.col("idx") <= base.grid.last)


def _per_period(base: EngagementBase, frame: pl.DataFrame, num: pl.Expr, den: pl.Expr,
                keys: tuple[str, ...] = ()) -> pl.DataFrame:
    agg = frame.group_by(*keys, "idx").agg(num.alias("n"), den.alias("d"))
    periods = pl.DataFrame({"idx": list(range(base.grid.first, base.grid.last + 1))}, schema={"idx": pl.Int64})
    if keys:
        periods = agg.select(*keys).unique().join(periods, how="cross")
    out = periods.join(agg, on=[*keys, "idx"], how="left")
    return out.select(*keys, "idx", *ratio(pl.col("n").fill_null(0).cast(pl.Float64),
                                           pl.col("d").fill_null(0).cast(pl.Float64)))


def _requested(base: EngagementBase) -> pl.DataFrame:
    return pl.DataFrame({"idx": list(range(base.grid.first, base.grid.last + 1))}, schema={"idx": pl.Int64})


def _count(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """A ratio's numerator as a plain count."""
    none = pl.lit(None, dtype=pl.Float64)
    return rows.select(*keys, "idx", pl.col("numerator").alias("value"), none.alias("numerator"),
                       none.alias("denominator"))


def _signups(base: EngagementBase, roles: Roles) -> pl.DataFrame:
    """Each actor's first signup event: ``who, t0`` and its group keys."""
    names = roles.events("signup")
    return base.events.filter(pl.col("event").is_in(names)).group_by("who").agg(
        pl.col("ts").min().alias("t0"), *[at_first(k) for k in base.keys])


def _did_all(base: EngagementBase, entrants: pl.DataFrame, names: list[str], window_us: int) -> pl.DataFrame:
    """``who`` of entrants who did every event of ``names`` within [t0, t0 + window]."""
    hits = base.events.filter(pl.col("event").is_in(names)).join(entrants.select("who", "t0"), on="who")
    hits = hits.filter(pl.col("ts") >= pl.col("t0"), pl.col("ts") <= pl.col("t0") + window_us)
    return hits.group_by("who").agg(pl.col("event").n_unique().alias("k")).filter(
        pl.col("k") == len(set(names))).select("who")


def activation_rate(base: EngagementBase, roles: Roles, _id: str, _o: dict[str, Any]) -> pl.DataFrame:
    """Signups in P who did all ``activation`` events within the window / signups whose window ended."""
    window = _window_us(roles)
    entrants = _period(base, _signups(base, roles), "t0")
    entrants = entrants.filter(pl.col("t0") + window <= base.grid.complete_before)
    done = _did_all(base, entrants, roles.events("activation"), window)
    flagged = entrants.with_columns(pl.col("who").is_in(done["who"].implode()).alias("hit"))
    return _per_period(base, flagged, pl.col("hit").sum(), pl.len(), tuple(base.keys))


def time_to_first_value(base: EngagementBase, roles: Roles, metric_id: str, _o: dict[str, Any]) -> pl.DataFrame:
    """Median (or p75) hours from signup to the first activation (else key action) event."""
    names = roles.events("activation") or roles.events("key_actions")
    if not names:
        msg = f"{metric_id} needs [events] activation or key_actions in the config"
        raise UsageError(msg,
                         hint='e.g. [events] activation = ["Report Created"]')
    keys = base.keys
    entrants = _period(base, _signups(base, roles), "t0")
    firsts = base.events.filter(pl.col("event").is_in(names)).select("who", "ts").join(entrants, on="who").filter(
        pl.col("ts") >= pl.col("t0")).group_by("who", "idx", "t0", *keys).agg(pl.col("ts").min().alias("t1"))
    hours = (pl.col("t1") - pl.col("t0")) / HOUR_US
    stat = hours.median() if metric_id == "time_to_first_value" else hours.quantile(0.75, "linear")
    agg = firsts.group_by(*keys, "idx").agg(stat.alias("value"), pl.len().cast(pl.Float64).alias("denominator"))
    frame = groups_cross(entrants, keys, _requested(base))
    return frame.join(agg, on=[*keys, "idx"], how="left").select(
        *keys, "idx", pl.col("value").cast(pl.Float64), pl.lit(None, dtype=pl.Float64).alias("numerator"),
        pl.col("denominator").fill_null(0.0))


def onboarding_completion_rate(base: EngagementBase, roles: Roles, _id: str, _o: dict[str, Any]) -> pl.DataFrame:
    """Mature signups in P who did the ``onboarding`` steps in order within the window / mature signups."""
    window = _window_us(roles)
    entrants = _period(base, _signups(base, roles), "t0").filter(pl.col("t0") + window <= base.grid.complete_before)
    at = entrants.select("who", "t0", pl.col("t0").alias("t"))
    for step in roles.events("onboarding"):
        candidates = base.events.filter(pl.col("event") == step).select("who", pl.col("ts").alias("t_c")).sort("t_c")
        at = at.sort("t").join_asof(candidates, left_on="t", right_on="t_c", by="who", strategy="forward",
                                    check_sortedness=False)
        at = at.filter(pl.col("t_c").is_not_null(), pl.col("t_c") <= pl.col("t0") + window).select(
            "who", "t0", pl.col("t_c").alias("t"))
    flagged = entrants.with_columns(pl.col("who").is_in(at["who"].implode()).alias("hit"))
    return _per_period(base, flagged, pl.col("hit").sum(), pl.len(), tuple(base.keys))


def reactivation_rate(base: EngagementBase, _roles: Roles, _id: str, options: dict[str, Any]) -> pl.DataFrame:
    """Actors idle ≥ ``inactive_days`` at the start of P (and active before) who are active in P / those.

    With groups an actor's group is that of its last event before P.

    Linear in (actor, active period) pairs, however many periods: for an actor active in period p (its
    last event at t) and next in period q, the periods j in (p, q] see t as the last activity before
    them, so the actor is idle at the start of those of them that begin more than the idle span after
    t, and reactivated in q when q is one of them. A difference array over periods sums the spans.
    """
    idle_us = int(float(options.get("inactive_days", 30)) * DAY_US)
    keys = list(base.keys)
    bounds = base.grid.frame()["b_us"].to_list()
    first, last = base.grid.first, base.grid.last
    # The whole log: activity before the range matters.
    periods = base.events.select("who", "ts", *keys).with_columns(slot(pl.col("ts"), bounds).alias("p"))
    spans = periods.group_by("who", "p").agg(pl.col("ts").max().alias("t"), *[at_last(k) for k in keys]).sort(
        "who", "p").with_columns(pl.col("p").shift(-1).over("who").alias("q"))
    # The first period starting more than idle_us after t (a bound above t + idle_us): always after p.
    idle_from = slot(pl.col("t") + idle_us, bounds) + 1
    spans = spans.with_columns(
        pl.max_horizontal(idle_from, pl.lit(first)).alias("lo"),
        pl.min_horizontal(pl.col("q").fill_null(last), pl.lit(last)).alias("hi"),
    ).filter(pl.col("lo") <= pl.col("hi"))
    marks = pl.concat([
        spans.select(*keys, pl.col("lo").alias("idx"), pl.lit(1).alias("d"), pl.lit(0).alias("n")),
        spans.select(*keys, (pl.col("hi") + 1).alias("idx"), pl.lit(-1).alias("d"), pl.lit(0).alias("n")),
        spans.filter(pl.col("q") == pl.col("hi")).select(*keys, pl.col("q").alias("idx"), pl.lit(0).alias("d"),
                                                          pl.lit(1).alias("n")),
    ]).with_columns(pl.col("idx").cast(pl.Int64)).group_by(*keys, "idx").agg(pl.col("d", "n").sum())
    grid = groups_cross(marks, keys, _requested(base))
    counted = grid.join(marks, on=[*keys, "idx"], how="left").with_columns(pl.col("d", "n").fill_null(0)).sort(
        *keys, "idx")
    counted = counted.with_columns(over(pl.col("d").cum_sum(), keys).alias("d")).filter(pl.col("d") > 0)
    return _per_period(base, counted, pl.col("n").sum(), pl.col("d").sum(), tuple(keys))


def w2wai(base: EngagementBase, roles: Roles, metric_id: str, _o: dict[str, Any]) -> pl.DataFrame:
    """Accounts created in P active in days [7, 14) after creation / those whose day 14 has passed."""
    keys = base.keys
    ev = base.events.filter(pl.col("account_id").is_not_null())
    created_by_event = ev.filter(pl.col("event").is_in(roles.events("account_created"))).group_by(
        "account_id").agg(pl.col("ts").min().alias("t_created"), *[at_first(k).alias(f"{k}_c") for k in keys])
    first_seen = ev.group_by("account_id").agg(pl.col("ts").min().alias("t_first"), *[at_first(k) for k in keys])
    created = pl.col("t_created").is_not_null()
    accounts = first_seen.join(created_by_event, on="account_id", how="left").select(
        "account_id", pl.coalesce("t_created", "t_first").alias("t0"),
        *[pl.when(created).then(pl.col(f"{k}_c")).otherwise(pl.col(k)).alias(k) for k in keys])
    accounts = _period(base, accounts, "t0").filter(pl.col("t0") + 14 * DAY_US <= base.grid.complete_before)
    week2 = ev.select("account_id", "ts").join(accounts, on="account_id").filter(
        pl.col("ts") >= pl.col("t0") + 7 * DAY_US, pl.col("ts") < pl.col("t0") + 14 * DAY_US)
    flagged = accounts.with_columns(pl.col("account_id").is_in(week2["account_id"].implode()).alias("hit"))
    out = _per_period(base, flagged, pl.col("hit").sum(), pl.len(), tuple(keys))
    return _count(out, keys) if metric_id == "w2wai_count" else out


def _feature_rows(base: EngagementBase, roles: Roles) -> pl.DataFrame:
    features = roles.names.get("features") or {}
    if not isinstance(features, dict) or not features:
        msg = "feature metrics need [events.features] in the config"
        raise UsageError(msg,
                         hint='e.g. [events.features] reports = ["Report Created"]')
    pairs = [(name, str(e)) for name, evs in features.items() for e in ([evs] if isinstance(evs, str) else evs)]
    mapping = pl.DataFrame(pairs, schema={"feature": pl.String, "event": pl.String}, orient="row")
    return base.events.join(mapping, on="event")


def feature_adoption_rate(base: EngagementBase, roles: Roles, _id: str, _o: dict[str, Any]) -> pl.DataFrame:
    """Per feature: actors with one of its events in P / active actors in P."""
    used = _period(base, _feature_rows(base, roles), "ts").select("feature", "idx", "who").unique()
    active = base.table.select("idx", "active")
    agg = used.group_by("feature", "idx").agg(pl.len().cast(pl.Float64).alias("n"))
    periods = active.filter(pl.col("idx") >= base.grid.first)
    frame = agg.select("feature").unique().join(periods, how="cross").join(agg, on=["feature", "idx"], how="left")
    return frame.select("feature", "idx", *ratio(pl.col("n").fill_null(0.0), pl.col("active")))


def feature_retention_rate(base: EngagementBase, roles: Roles, _id: str, _o: dict[str, Any]) -> pl.DataFrame:
    """Per feature: actors who used it in the previous period and again in P / previous period's users."""
    rows = _feature_rows(base, roles).with_columns(slot(pl.col("ts"), base.grid.frame()["b_us"].to_list()).alias("idx"))
    used = rows.filter(pl.col("idx") >= base.grid.first - 1, pl.col("idx") <= base.grid.last).select(
        "feature", "idx", "who").unique()
    before = used.with_columns((pl.col("idx") + 1).alias("idx")).filter(pl.col("idx") >= base.grid.first)
    kept = before.join(used, on=["feature", "idx", "who"], how="semi")
    den = before.group_by("feature", "idx").agg(pl.len().cast(pl.Float64).alias("d"))
    num = kept.group_by("feature", "idx").agg(pl.len().cast(pl.Float64).alias("n"))
    periods = pl.DataFrame({"idx": list(range(base.grid.first, base.grid.last + 1))}, schema={"idx": pl.Int64})
    names = used.select("feature").unique()
    frame = names.join(periods, how="cross").join(den, on=["feature", "idx"], how="left").join(
        num, on=["feature", "idx"], how="left")
    return frame.select("feature", "idx", *ratio(pl.col("n").fill_null(0.0), pl.col("d").fill_null(0.0)))


def invite_acceptance_rate(base: EngagementBase, roles: Roles, _id: str, _o: dict[str, Any]) -> pl.DataFrame:
    """Invitations sent in P (distinct invitee emails) that became a signup within 30 days / those."""
    invites = base.events.filter(pl.col("event").is_in(roles.events("invite")), pl.col("invitee_email").is_not_null())
    invites = _period(base, invites.with_columns(pl.col("invitee_email").str.to_lowercase()), "ts")
    invites = invites.group_by("idx", "invitee_email").agg(pl.col("ts").min(), *[at_first(k) for k in base.keys])
    signups = base.events.filter(pl.col("event").is_in(roles.events("signup")), pl.col("email").is_not_null())
    signups = signups.select(pl.col("email").str.to_lowercase().alias("invitee_email"), pl.col("ts").alias("t_s"))
    joined = invites.join(signups, on="invitee_email", how="left").with_columns(
        ((pl.col("t_s") >= pl.col("ts")) & (pl.col("t_s") <= pl.col("ts") + 30 * DAY_US)).fill_null(False)
        .alias("hit"))
    accepted = joined.group_by("idx", "invitee_email").agg(pl.col("hit").any(), *[pl.col(k).first() for k in base.keys])
    return _per_period(base, accepted, pl.col("hit").sum(), pl.len(), tuple(base.keys))


def viral_coefficient(base: EngagementBase, roles: Roles, metric_id: str, options: dict[str, Any]) -> pl.DataFrame:
    """Invites per active actor × invite acceptance rate (numerator and denominator are those two)."""
    keys = base.keys
    per_user = base.table.filter(pl.col("idx") >= base.grid.first, pl.col("idx") <= base.grid.last).select(
        *keys, "idx", *ratio(pl.col("invites"), pl.col("active")))
    accept = invite_acceptance_rate(base, roles, metric_id, options)
    both = per_user.join(accept, on=[*keys, "idx"], how="left", suffix="_a")
    return both.select(*keys, "idx", (pl.col("value") * pl.col("value_a")).alias("value"),
                       pl.col("value").alias("numerator"), pl.col("value_a").alias("denominator"))


def pql_accounts(base: EngagementBase, roles: Roles, options: dict[str, Any]) -> pl.DataFrame:
    """Accounts meeting the ``[pql]`` rule per period: ``idx, account_id, active_users, key_actions``."""
    return _pql_rows(base, roles, options).filter(pl.col("hit")).drop("hit").sort("idx", "account_id")


def _pql_rows(base: EngagementBase, roles: Roles, options: dict[str, Any]) -> pl.DataFrame:
    """Per period, every account with events in it and whether it meets the ``[pql]`` rule (``hit``).

    The rule: ≥ ``min_active_users`` distinct users and ≥ ``min_key_actions`` key action events in
    P, counting only events within ``within_days_of_signup`` of the account's first event when set.
    """
    rule = dict(options.get("pql") or {})
    if not rule:
        msg = "pqls needs a [pql] rule in the config"
        raise UsageError(msg,
                         hint="e.g. [pql] min_active_users = 3, min_key_actions = 10, within_days_of_signup = 14")
    ev = _period(base, base.events.filter(pl.col("account_id").is_not_null()), "ts")
    if rule.get("within_days_of_signup") is not None:
        start = base.events.filter(pl.col("account_id").is_not_null()).group_by("account_id").agg(
            pl.col("ts").min().alias("t0"))
        ev = ev.join(start, on="account_id").filter(
            pl.col("ts") <= pl.col("t0") + float(rule["within_days_of_signup"]) * DAY_US)
    per_account = ev.group_by("idx", "account_id").agg(
        pl.col("user").n_unique().alias("active_users"),
        pl.col("event").is_in(roles.events("key_actions")).sum().alias("key_actions"))
    hit = (pl.col("active_users") >= int(rule.get("min_active_users", 0))) & (
        pl.col("key_actions") >= int(rule.get("min_key_actions", 0)))
    return per_account.with_columns(hit.alias("hit"))


def pqls(base: EngagementBase, roles: Roles, _id: str, options: dict[str, Any]) -> pl.DataFrame:
    """How many accounts meet the ``[pql]`` rule in P (see :func:`pql_accounts`).

    With groups an account's group is that of its first event.
    """
    keys = base.keys
    rows = _pql_rows(base, roles, options)
    if keys:
        first = base.events.filter(pl.col("account_id").is_not_null()).group_by("account_id").agg(
            *[at_first(k) for k in keys])
        rows = rows.join(first, on="account_id", how="left")
    return _count(_per_period(base, rows, pl.col("hit").sum(), pl.len(), tuple(keys)), keys)


def new_signups(base: EngagementBase, roles: Roles, _id: str, _o: dict[str, Any]) -> pl.DataFrame:
    """Actors whose first signup event falls in P, for every period of the grid (P − 1 included,
    which ``signup_growth_rate`` divides by)."""
    keys = list(base.keys)
    first = _signups(base, roles).with_columns(slot(pl.col("t0"), base.grid.frame()["b_us"].to_list()).alias("idx"))
    first = first.filter(pl.col("idx") >= 0, pl.col("idx") <= base.grid.last)
    counts = first.group_by(*keys, "idx").agg(pl.len().cast(pl.Float64).alias("value"))
    periods = pl.DataFrame({"idx": list(range(base.grid.last + 1))}, schema={"idx": pl.Int64})
    if keys:
        periods = counts.select(*keys).unique().join(periods, how="cross")
    none = pl.lit(None, dtype=pl.Float64)
    return periods.join(counts, on=[*keys, "idx"], how="left").select(
        *keys, "idx", pl.col("value").fill_null(0.0), none.alias("numerator"), none.alias("denominator"))


SPECIALS: dict[str, Callable[[EngagementBase, Roles, str, dict[str, Any]], pl.DataFrame]] = {
    "activation": activation_rate,
    "ttfv": time_to_first_value,
    "onboarding": onboarding_completion_rate,
    "reactivation": reactivation_rate,
    "w2wai": w2wai,
    "feature_adoption": feature_adoption_rate,
    "feature_retention": feature_retention_rate,
    "invite_acceptance": invite_acceptance_rate,
    "viral": viral_coefficient,
    "pqls": pqls,
    "signups": new_signups,
}
