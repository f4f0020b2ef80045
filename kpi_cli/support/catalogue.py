"""The support family's catalogue entries (SPEC §3.4, ticket half), listed under satisfaction."""

from __future__ import annotations

from kpi_cli.metric import Metric

TICKETS = ("tickets",)
OPTS = ("tag", "tz")
HYGIENE = ("Agent-created tickets (is_agent_created, or via in [tickets] outbound) are outbound work and "
           "left out; --tag keeps tickets carrying the tag (tags are split at semicolons or commas, any case).")
ANSWERED = ("A ticket is answered when its first response (first_response_at, else created_at + "
            "first_response_minutes) is at or before --as-of.")

METRICS = [
    Metric("tickets", "Tickets", "count", "support", TICKETS,
           f"Tickets created in P. {HYGIENE}", options=OPTS, group="satisfaction"),
    Metric("tickets_per_user", "Tickets per user", "count", "support", ("tickets", "events"),
           "tickets created in P / active actors in P (active_users of the engagement family; accounts "
           "with --actor account).", of=("tickets", "active_users"), op="ratio",
           options=(*OPTS, "actor"), group="satisfaction"),
    Metric("tickets_per_customer", "Tickets per customer", "count", "support", ("tickets", "subscriptions|invoices"),
           "tickets created in P / paying customers at the end of P (customers of the revenue family).",
           of=("tickets", "customers"), op="ratio", options=OPTS, group="satisfaction"),
    Metric("first_response_time", "First response (h)", "duration", "support", TICKETS,
           "Median hours from created_at to the first response, over tickets created in P answered by --as-of "
           "(an even count: the mean of the two middle values); --hours business reads the export's "
           f"first_response_business_minutes. {ANSWERED} {HYGIENE}",
           options=(*OPTS, "hours"), group="satisfaction"),
    Metric("first_response_time_p90", "First response p90 (h)", "duration", "support", TICKETS,
           "90th percentile (linear between order statistics, numpy's default) of the same hours.",
           options=(*OPTS, "hours"), group="satisfaction"),
    Metric("first_response_rate", "First response rate", "ratio", "support", TICKETS,
           f"Tickets created in P answered by --as-of / tickets created in P. {ANSWERED} {HYGIENE}",
           options=OPTS, group="satisfaction"),
    Metric("unanswered_tickets", "Unanswered tickets", "count", "support", TICKETS,
           f"Tickets created in P without a first response at --as-of. {ANSWERED} {HYGIENE}",
           options=OPTS, group="satisfaction"),
    Metric("resolution_time", "Resolution (h)", "duration", "support", TICKETS,
           "Median hours from created_at to the final resolution (resolved_at, else created_at + "
           "full_resolution_minutes), over tickets created in P resolved by --as-of; --hours business reads "
           f"full_resolution_business_minutes. {HYGIENE}",
           options=(*OPTS, "hours"), group="satisfaction"),
    Metric("reopen_rate", "Reopen rate", "ratio", "support", TICKETS,
           "Tickets resolved in P (final resolution) with reopens > 0 / tickets resolved in P (a blank "
           f"or absent reopens is 0). {HYGIENE}", options=OPTS, group="satisfaction"),
]
