"""The engagement family's catalogue entries (SPEC §3.3)."""

from __future__ import annotations

from kpi_cli.metric import Metric

EVENTS = ("events",)
ACTOR_OPTS = ("actor", "identified_only", "tz")

METRICS = [
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
