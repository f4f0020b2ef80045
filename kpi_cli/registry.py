"""The metric catalogue, declared as data (SPEC §3): one entry per metric id.

A metric is either a column of its family's base table (``value``), a ratio of two base
columns (``ratio``), or computed by a named function of its family (``special``). Ratios
name their parts, so numerator and denominator land in the output. This module imports no
dataframe library: ``kpi list``, ``kpi explain`` and shell completion read it cheaply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kpi_cli.errors import UsageError


@dataclass(frozen=True)
class Metric:
    """One catalogue entry."""

    id: str
    label: str
    unit: str  # currency | count | ratio | score | duration | months
    family: str
    sources: tuple[str, ...]
    definition: str
    value: str | None = None  # base-table column
    ratio: tuple[str, str] | None = None  # base-table numerator, denominator columns
    special: str | None = None  # name of a family function
    options: tuple[str, ...] = field(default_factory=tuple)
    roles: tuple[str, ...] = ()  # [events] roles that must be configured ("a|b": either will do)
    tables: tuple[str, ...] = ()  # config tables that must exist, e.g. [pql]


BILLING = ("subscriptions|invoices",)
MOVE_OPTS = ("discounts", "churn_at", "currency")

_REVENUE = [
    Metric("mrr", "MRR", "currency", "revenue", BILLING,
           "Monthly recurring revenue at the end of P: Σ over customers of their items' monthly values "
           "(amount × quantity ÷ interval months − recurring discount; trials, pauses, tax, one-time and "
           "metered items excluded).", value="mrr", options=MOVE_OPTS),
    Metric("arr", "ARR", "currency", "revenue", BILLING, "12 × MRR at the end of P.", value="arr",
           options=MOVE_OPTS),
    Metric("new_mrr", "New MRR", "currency", "revenue", BILLING,
           "Σ end MRR of customers not paying at the start of P who never paid at an earlier snapshot.",
           value="new", options=MOVE_OPTS),
    Metric("reactivation_mrr", "Reactivation MRR", "currency", "revenue", BILLING,
           "Σ end MRR of customers not paying at the start of P who paid at some earlier snapshot.",
           value="reactivation", options=MOVE_OPTS),
    Metric("expansion_mrr", "Expansion MRR", "currency", "revenue", BILLING,
           "Σ (end − start) over customers paying at the start whose MRR rose.", value="expansion",
           options=MOVE_OPTS),
    Metric("contraction_mrr", "Contraction MRR", "currency", "revenue", BILLING,
           "Σ (start − end) over customers paying at both ends whose MRR fell.", value="contraction",
           options=MOVE_OPTS),
    Metric("churned_mrr", "Churned MRR", "currency", "revenue", BILLING,
           "Σ start MRR of customers paying at the start of P and not at its end (churn at the end of "
           "the paid period; --churn-at cancel uses canceled_at).", value="churned", options=MOVE_OPTS),
    Metric("fx_mrr", "FX MRR", "currency", "revenue", BILLING,
           "Change of MRR from currency rates between the two snapshots (0 in one currency).", value="fx",
           options=MOVE_OPTS),
    Metric("net_new_mrr", "Net new MRR", "currency", "revenue", BILLING,
           "new + reactivation + expansion − contraction − churned + fx = MRR(end) − MRR(start).",
           value="net_new", options=MOVE_OPTS),
    Metric("customers", "Customers", "count", "revenue", BILLING,
           "Paying customers (MRR > 0) at the end of P.", value="customers", options=MOVE_OPTS),
    Metric("new_customers", "New customers", "count", "revenue", BILLING,
           "Customers counted in new MRR.", value="new_n", options=MOVE_OPTS),
    Metric("reactivated_customers", "Reactivated customers", "count", "revenue", BILLING,
           "Customers counted in reactivation MRR.", value="reactivation_n", options=MOVE_OPTS),
    Metric("churned_customers", "Churned customers", "count", "revenue", BILLING,
           "Customers counted in churned MRR.", value="churned_n", options=MOVE_OPTS),
    Metric("customer_growth_rate", "Customer growth", "ratio", "revenue", BILLING,
           "(customers(end) − customers(start)) / customers(start).",
           ratio=("customers_delta", "start_customers"), options=MOVE_OPTS),
    Metric("arpa", "ARPA", "currency", "revenue", BILLING, "MRR / paying customers at the end of P.",
           ratio=("mrr", "customers"), options=MOVE_OPTS),
    Metric("asp", "ASP", "currency", "revenue", BILLING, "New MRR / new customers.",
           ratio=("new", "new_n"), options=MOVE_OPTS),
    Metric("customer_churn_rate", "Customer churn", "ratio", "revenue", BILLING,
           "Churned customers / customers at the start of P (--churn-denominator start_plus_new: "
           "/ (start + new customers)).", ratio=("churned_n", "churn_denominator"),
           options=(*MOVE_OPTS, "churn_denominator")),
    Metric("customer_retention_rate", "Customer retention", "ratio", "revenue", BILLING,
           "(customers(end) − new − reactivated) / customers(start).",
           ratio=("retained_customers", "start_customers"), options=MOVE_OPTS),
    Metric("gross_mrr_churn_rate", "Gross MRR churn", "ratio", "revenue", BILLING,
           "(churned + contraction) / MRR(start).", ratio=("gross_churn", "start_mrr"), options=MOVE_OPTS),
    Metric("net_mrr_churn_rate", "Net MRR churn", "ratio", "revenue", BILLING,
           "(churned + contraction − expansion − reactivation) / MRR(start); may be negative.",
           ratio=("net_churn", "start_mrr"), options=MOVE_OPTS),
    Metric("nrr", "NRR", "ratio", "revenue", BILLING,
           "(MRR(start) + expansion − contraction − churned) / MRR(start): new and reactivation excluded.",
           ratio=("nrr_num", "start_mrr"), options=MOVE_OPTS),
    Metric("nrr_ttm", "NRR (TTM)", "ratio", "revenue", BILLING,
           "Σ MRR now of customers paying 12 months ago / Σ their MRR then.", special="ttm",
           options=MOVE_OPTS),
    Metric("grr", "GRR", "ratio", "revenue", BILLING, "(MRR(start) − contraction − churned) / MRR(start).",
           ratio=("grr_num", "start_mrr"), options=MOVE_OPTS),
    Metric("grr_ttm", "GRR (TTM)", "ratio", "revenue", BILLING,
           "Σ min(MRR now, MRR then) of customers paying 12 months ago / Σ their MRR then.", special="ttm",
           options=MOVE_OPTS),
    Metric("quick_ratio", "Quick ratio", "score", "revenue", BILLING,
           "(new + expansion + reactivation) / (contraction + churned); null when nothing was lost.",
           ratio=("quick_num", "quick_den"), options=MOVE_OPTS),
    Metric("ltv", "LTV", "currency", "revenue", BILLING,
           "ARPA × gross margin / customer churn rate averaged over the 6 complete periods before P "
           "(null when that average is 0 or none of them has customers).", special="ltv",
           options=(*MOVE_OPTS, "gross_margin")),
    Metric("upgrade_rate", "Upgrade rate", "ratio", "revenue", BILLING,
           "Customers with expansion / customers at the start of P.", ratio=("expansion_n", "start_customers"),
           options=MOVE_OPTS),
    Metric("downgrade_rate", "Downgrade rate", "ratio", "revenue", BILLING,
           "Customers with contraction / customers at the start of P.",
           ratio=("contraction_n", "start_customers"), options=MOVE_OPTS),
    Metric("cross_sell_rate", "Cross-sell rate", "ratio", "revenue", ("subscriptions",),
           "Customers paying at the start of P who started a paying subscription in P to a plan (or, "
           "without plans, a subscription) they did not have at the start / customers at the start.",
           special="cross_sell", options=MOVE_OPTS),
    Metric("renewal_rate", "Renewal rate", "ratio", "revenue", ("subscriptions",),
           "Subscriptions (interval ≥ year) whose term ended in P and continued past it / those whose "
           "term ended in P.", special="renewal", options=("churn_at",)),
    Metric("trial_conversion_rate", "Trial → paid", "ratio", "revenue", ("subscriptions",),
           "Customers whose first trial started in P and who became paying within --within (30d) after "
           "the trial ended / trials started in P; trials whose window is still open are left out.",
           special="trial_conversion", options=("within",)),
    Metric("freemium_conversion_rate", "Signup → paid", "ratio", "revenue", ("customers", "subscriptions"),
           "Customers created in P (customers.created_at) who became paying within --within (90d) / "
           "those created in P; signups whose window is still open are left out.",
           special="freemium_conversion", options=("within",)),
]

EVENTS = ("events",)
ACTOR_OPTS = ("actor", "identified_only", "tz")

_ENGAGEMENT = [
    Metric("dau", "DAU", "count", "engagement", EVENTS,
           "Average over the days of P (days without activity included; a DST day is one day) of distinct "
           "active actors per local day; at --period day the plain daily count.", value="dau",
           options=ACTOR_OPTS),
    Metric("wau", "WAU", "count", "engagement", EVENTS,
           "Distinct active actors in a calendar week: at --period week those of P; at a coarser grain the "
           "average over the calendar weeks starting in P of each week's count (as DAU averages days); at "
           "--period day the week containing the day. --window trailing: the 7 days ending on P's last day.",
           value="active", options=ACTOR_OPTS),
    Metric("mau", "MAU", "count", "engagement", EVENTS,
           "Distinct active actors in a calendar month: at --period month those of P; at --period quarter or "
           "year the average over the months of P; at --period day or week the month containing P's last day. "
           "--window trailing: the --mau-days days ending on P's last day.", value="active",
           options=ACTOR_OPTS),
    Metric("active_users", "Active users", "count", "engagement", EVENTS,
           "Distinct active actors in P (users, or accounts with --actor account).", value="active",
           options=ACTOR_OPTS),
    Metric("active_accounts", "Active accounts", "count", "engagement", EVENTS,
           "Distinct account_id values on active events in P.", value="active_accounts", options=ACTOR_OPTS),
    Metric("dau_mau", "DAU/MAU", "ratio", "engagement", EVENTS,
           "Stickiness: average DAU over P / distinct active actors in P.", ratio=("dau", "active"),
           options=ACTOR_OPTS),
    Metric("wau_mau", "WAU/MAU", "ratio", "engagement", EVENTS,
           "Mean over the calendar weeks starting in P of WAU / MAU of the week's month; with --window "
           "trailing the mean over P's days of WAU7(d) / MAU_n(d).", value="wau_mau_c", options=ACTOR_OPTS),
    Metric("dau_wau", "DAU/WAU", "ratio", "engagement", EVENTS,
           "Mean over the calendar weeks starting in P of the week's average DAU / WAU; with --window "
           "trailing the mean over P's days of DAU(d) / WAU7(d).", value="dau_wau_c", options=ACTOR_OPTS),
    Metric("logins_per_user", "Logins per user", "count", "engagement", EVENTS,
           "login events ([events] login, default \"Signed In\") in P / active actors in P.",
           ratio=("logins", "active"), options=ACTOR_OPTS),
    Metric("key_actions_per_user", "Key actions per user", "count", "engagement", EVENTS,
           "[events] key_actions events in P / active actors in P.", ratio=("key_actions", "active"),
           options=ACTOR_OPTS, roles=("key_actions",)),
    Metric("invites_per_user", "Invites per user", "count", "engagement", EVENTS,
           "invite events ([events] invite, default \"Invite Sent\") in P / active actors in P.",
           ratio=("invites", "active"), options=ACTOR_OPTS),
    Metric("sessions_per_user", "Sessions per user", "count", "engagement", EVENTS,
           "Sessions starting in P / active actors in P. A session is (actor, session_id) when the export "
           "has one, else a run of an actor's events with gaps ≤ --session-gap (30m); cut at 24 hours; it "
           "belongs to the period of its first event.", ratio=("sessions", "active"),
           options=(*ACTOR_OPTS, "session_gap")),
    Metric("avg_session_duration", "Avg session (s)", "duration", "engagement", EVENTS,
           "Mean of last − first event time over sessions starting in P, in seconds (single-event "
           "sessions count as 0).", ratio=("session_seconds", "sessions"), options=(*ACTOR_OPTS, "session_gap")),
    Metric("median_session_duration", "Median session (s)", "duration", "engagement", EVENTS,
           "Median of last − first event time over sessions starting in P, in seconds.",
           value="median_session_duration", options=(*ACTOR_OPTS, "session_gap")),
    Metric("session_minutes_per_user", "Session minutes per user", "count", "engagement", EVENTS,
           "Total duration of sessions starting in P, in minutes / active actors in P.",
           ratio=("session_minutes", "active"), options=(*ACTOR_OPTS, "session_gap")),
    Metric("activation_rate", "Activation", "ratio", "engagement", EVENTS,
           "Signups in P (first signup event) who did every [events] activation event within "
           "activation_window (7d) of signing up / signups in P whose window has ended.", special="activation",
           options=ACTOR_OPTS, roles=("activation",)),
    Metric("time_to_first_value", "Time to value (h)", "duration", "engagement", EVENTS,
           "Median hours from signup to the first activation (else key action) event, over signups in P "
           "who reached it; denominator = how many did.", special="ttfv", options=ACTOR_OPTS,
           roles=("activation|key_actions",)),
    Metric("time_to_first_value_p75", "Time to value p75 (h)", "duration", "engagement", EVENTS,
           "75th percentile (linear) of the same hours.", special="ttfv", options=ACTOR_OPTS,
           roles=("activation|key_actions",)),
    Metric("onboarding_completion_rate", "Onboarding completion", "ratio", "engagement", EVENTS,
           "Signups in P who did the [events] onboarding steps in order within activation_window / signups "
           "in P whose window has ended.", special="onboarding", options=ACTOR_OPTS, roles=("onboarding",)),
    Metric("reactivation_rate", "Reactivation", "ratio", "engagement", EVENTS,
           "Actors inactive for ≥ --inactive-days (30) at the start of P, and active before, who are active "
           "in P / those actors.", special="reactivation", options=(*ACTOR_OPTS, "inactive_days")),
    Metric("w2wai", "W2WAI", "ratio", "engagement", EVENTS,
           "Accounts created in P (first account_created event, else first event) with an event in days "
           "[7, 14) after creation / accounts created in P at least 14 days before the data ends (our "
           "reading of Atlassian's week-2 weekly active instances).", special="w2wai", options=ACTOR_OPTS),
    Metric("w2wai_count", "W2WAI count", "count", "engagement", EVENTS, "The numerator of w2wai.",
           special="w2wai", options=ACTOR_OPTS),
    Metric("invite_acceptance_rate", "Invite acceptance", "ratio", "engagement", EVENTS,
           "Invitations sent in P (invite events, distinct invitee_email) whose invitee signed up (signup "
           "event with that email) within 30 days / invitations sent in P.", special="invite_acceptance",
           options=ACTOR_OPTS),
    Metric("viral_coefficient", "Viral coefficient", "score", "engagement", EVENTS,
           "invites_per_user × invite_acceptance_rate (numerator and denominator carry the two factors).",
           special="viral", options=ACTOR_OPTS),
    Metric("pqls", "PQLs", "count", "engagement", EVENTS,
           "Accounts meeting the [pql] rule in P: ≥ min_active_users distinct users and ≥ min_key_actions key "
           "action events, counting only events within within_days_of_signup of the account's first event "
           "when set.", special="pqls", options=ACTOR_OPTS, tables=("pql",)),
    Metric("feature_adoption_rate", "Feature adoption", "ratio", "engagement", EVENTS,
           "Per feature (--by feature, [events.features]): actors with one of its events in P / active "
           "actors in P.", special="feature_adoption", options=ACTOR_OPTS, roles=("features",)),
    Metric("feature_retention_rate", "Feature retention", "ratio", "engagement", EVENTS,
           "Per feature (--by feature): actors who used it in the previous period and again in P / those who "
           "used it in the previous period.", special="feature_retention", options=ACTOR_OPTS,
           roles=("features",)),
]

METRICS: dict[str, Metric] = {m.id: m for m in (*_REVENUE, *_ENGAGEMENT)}
GROUPS: dict[str, tuple[str, ...]] = {
    "revenue": tuple(m.id for m in _REVENUE),
    "engagement": tuple(m.id for m in _ENGAGEMENT),
    "all": tuple(METRICS),
}


# Ratio parts that are not a metric of their own, as people read them (``kpi explain``).
PARTS: dict[str, str] = {
    "customers_delta": "customers(end) − customers(start)",
    "start_customers": "paying customers at the start of P",
    "churn_denominator": "customers at the start of P (+ new customers with --churn-denominator start_plus_new)",
    "retained_customers": "customers(end) − new − reactivated customers",
    "gross_churn": "churned_mrr + contraction_mrr",
    "start_mrr": "MRR at the start of P (the end of P − 1)",
    "net_churn": "churned_mrr + contraction_mrr − expansion_mrr − reactivation_mrr",
    "nrr_num": "MRR(start) + expansion_mrr − contraction_mrr − churned_mrr",
    "grr_num": "MRR(start) − contraction_mrr − churned_mrr",
    "quick_num": "new_mrr + expansion_mrr + reactivation_mrr",
    "quick_den": "contraction_mrr + churned_mrr",
    "expansion_n": "customers with expansion in P",
    "contraction_n": "customers with contraction in P",
    "logins": "login events in P",
    "key_actions": "key action events in P",
    "invites": "invite events in P",
    "sessions": "sessions starting in P",
    "session_seconds": "total seconds of sessions starting in P",
    "session_minutes": "total minutes of sessions starting in P",
}
# Where a part is a metric's own value, the metric names it: ``mrr`` is "mrr (MRR)".
_VALUE_OWNER = {"mrr": "mrr", "customers": "customers", "new": "new_mrr", "new_n": "new_customers",
                "churned_n": "churned_customers", "dau": "dau", "active": "active_users"}


def part_label(column: str) -> str:
    """A ratio part (base-table column) as people read it: the metric it is, else a description."""
    owner = _VALUE_OWNER.get(column)
    if owner is not None:
        return f"{owner} ({METRICS[owner].label})"
    return PARTS.get(column, column.replace("_", " "))


def resolve(requested: list[str] | str, available: Callable[[Metric], bool] | None = None) -> list[str]:
    """Metric ids from ids and group names, split on commas, order kept, duplicates dropped.

    A group keeps only the metrics ``available`` allows (what the sources present can give).

    Examples
    --------
    >>> resolve("mrr,arr")
    ['mrr', 'arr']
    """
    items = [requested] if isinstance(requested, str) else list(requested)
    out: list[str] = []
    for item in items:
        for token in (t.strip() for t in item.split(",")):
            if not token:
                continue
            if token in GROUPS:
                out += [m for m in GROUPS[token]
                        if m not in out and (available is None or available(METRICS[m]))]
            elif token in METRICS:
                if token not in out:
                    out.append(token)
            else:
                close = [m for m in METRICS if token.split("_")[0] in m][:3]
                hint = f"did you mean {', '.join(close)}? " if close else ""
                msg = f"unknown metric {token!r}"
                raise UsageError(msg, hint=f"{hint}`kpi list` shows every metric id")
    if not out:
        msg_0 = "no metric given"
        raise UsageError(msg_0, hint="e.g. kpi compute mrr --month 2023-03")
    return out
