"""Column mappings for the exports people actually have (research/revenue.md §5,
research/acquisition-support-report.md §2.4–2.5, research/product.md §2(d)).

Each preset maps a canonical column to the export's header candidates (first present wins),
and may translate status values, declare minor-unit amounts, and describe how its tool writes a
file: how many header rows, whether its times are naive local times, which rows are real
responses, in which unit durations are given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    """A named mapping for one source."""

    name: str
    source: str
    columns: dict[str, tuple[str, ...]]
    amount_unit: str = "major"
    statuses: dict[str, str] = field(default_factory=dict)
    snapshot: bool = False
    note: str = ""
    # Glob patterns (case-insensitive, relative to the data dir) of the files the tool exports,
    # tried after the source's own name: e.g. Segment's tracks.csv for events.
    files: tuple[str, ...] = ()
    # Header rows of a CSV export: names come from the first, the others are skipped (SPEC §1.1).
    header_rows: int = 1
    # Non-empty when the tool writes naive local times: where its user finds the zone for
    # ``source_tz`` (kpi validate and compute warn while it is unset).
    needs_tz: str = ""
    # Rows kept: header -> allowed values (any of them, trimmed, case-insensitive); rows dropped:
    # header -> values. Headers absent from a file are no filter. Counted at -v and in validate.
    keep: dict[str, tuple[str, ...]] = field(default_factory=dict)
    drop: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Header globs (case-insensitive) never read, not even as attributes: a tool's own derived
    # classes that kpi recomputes (Qualtrics' QIDn_NPS_GROUP).
    ignore: tuple[str, ...] = ()
    # The unit of the ``*_minutes`` duration columns as the tool writes them.
    duration_unit: str = "minutes"
    # A strftime format tried first for the source's timestamps (ISO-8601 and epochs still parse).
    datetime_format: str = ""
    # Canonical column -> (regex, replacement) on its text before parsing (Zendesk's space-separated tags).
    rewrite: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Source-table defaults found from the headers' shape (e.g. Qualtrics' NPS question): a dict
    # like a ``[sources.S]`` table (``columns``, ``survey``), under the user's own table.
    derive: Callable[[list[str]], dict[str, Any]] | None = None
    # Given a CSV's first ``header_rows`` records, how many of them are headers (an older export
    # of the tool may have fewer); used when the config does not set ``header_rows``.
    header_probe: Callable[[list[list[str]]], int] | None = None


SURVEY_TYPES = ("nps", "csat", "ces")


def qualtrics_rows(records: list[list[str]]) -> int:
    """Header rows of a Qualtrics CSV: 3 when the third holds ImportId JSON, else 2 (pre-2017 exports).

    Examples
    --------
    >>> qualtrics_rows([["StartDate"], ["Start Date"], ['{"ImportId":"startDate"}']])
    3
    >>> qualtrics_rows([["StartDate"], ["Start Date"], ["2016-05-01 10:00:00"]])
    2
    """
    third = records[2] if len(records) > 2 else []
    return 3 if third and third[0].strip().startswith("{") else 2


def qualtrics_nps(headers: list[str]) -> dict[str, Any]:
    """The NPS question of a Qualtrics export: the column ``X`` beside a ``X_NPS_GROUP`` column.

    Qualtrics writes the 0–10 answer in ``QIDn`` (or the question's export tag) and its own class
    in ``QIDn_NPS_GROUP``; the class is never read (SPEC §3.4), only used to find the question.

    Examples
    --------
    >>> qualtrics_nps(["ResponseId", "Q1", "QID2", "QID2_NPS_GROUP"])
    {'columns': {'score': 'QID2'}, 'survey': 'nps'}
    >>> qualtrics_nps(["ResponseId", "Q1"])
    {}
    """
    lower = {h.lower(): h for h in headers}
    for h in headers:
        if h.lower().endswith("_nps_group"):
            question = lower.get(h[: -len("_nps_group")].lower())
            if question is not None:
                return {"columns": {"score": question}, "survey": "nps"}
    return {}


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "stripe",
            "subscriptions",
            {
                "subscription_id": ("id", "Subscription ID"),
                "customer_id": ("Customer ID", "Customer"),
                "start_at": ("Start (UTC)", "Start Date (UTC)", "Created (UTC)"),
                "end_at": ("Ended At (UTC)",),
                "canceled_at": ("Canceled At (UTC)",),
                "trial_end_at": ("Trial End (UTC)",),
                "amount": ("Amount", "Plan Amount"),
                "interval": ("Interval", "Plan Interval"),
                "interval_count": ("Interval Count", "Plan Interval Count"),
                "quantity": ("Quantity",),
                "currency": ("Currency", "Plan Currency"),
                "status": ("Status",),
                "plan": ("Plan", "Product", "Plan ID", "Price ID"),
            },
            statuses={"incomplete_expired": "incomplete", "ended": "canceled"},
            snapshot=True,
            note="Stripe's subscriptions export is a snapshot of current state: past price and "
            "quantity changes are not in it, so history before each row's start is flat",
        ),
        Preset(
            "chargebee",
            "subscriptions",
            {
                "subscription_id": ("id", "subscription_id", "Subscription Id"),
                "customer_id": ("customer_id", "Customer Id"),
                "start_at": ("started_at", "activated_at", "created_at"),
                "end_at": ("cancelled_at", "Canceled On"),
                "canceled_at": ("cancelled_at", "Canceled On"),
                "trial_end_at": ("trial_end",),
                "amount": ("plan_unit_price", "unit_price", "plan_amount"),
                "quantity": ("plan_quantity", "quantity", "Plan Quantity"),
                "interval": ("billing_period_unit",),
                "interval_count": ("billing_period",),
                "currency": ("currency_code", "Currency"),
                "status": ("status",),
                "plan": ("plan_id", "item_price_id", "Current Plan"),
            },
            amount_unit="minor",
            statuses={"in_trial": "trialing", "cancelled": "canceled", "non_renewing": "active",
                      "future": "incomplete"},
        ),
        Preset(
            "recurly",
            "subscriptions",
            {
                "subscription_id": ("uuid", "subscription_id", "id"),
                "customer_id": ("account_code", "account_id"),
                "start_at": ("activated_at", "started_at"),
                "end_at": ("expires_at", "expired_at"),
                "canceled_at": ("canceled_at",),
                "trial_end_at": ("trial_ends_at",),
                "amount": ("unit_amount_in_cents", "unit_amount"),
                "quantity": ("quantity",),
                "interval": ("plan_interval_unit", "interval_unit"),
                "interval_count": ("plan_interval_length", "interval_length"),
                "currency": ("currency",),
                "status": ("state", "status"),
                "plan": ("plan_code", "plan_name"),
            },
            amount_unit="minor",
            statuses={"expired": "canceled", "future": "incomplete", "in_trial": "trialing"},
        ),
        Preset(
            "baremetrics",
            "subscriptions",
            {
                "subscription_id": ("subscription_oid",),
                "customer_id": ("customer_oid",),
                "start_at": ("subscription_started_at",),
                "end_at": ("subscription_canceled_at",),
                "canceled_at": ("subscription_canceled_at",),
                "amount": ("plan_amount",),
                "interval": ("plan_interval",),
                "interval_count": ("plan_interval_count",),
                "quantity": ("subscription_quantity",),
                "currency": ("plan_currency",),
                "plan": ("plan_name", "plan_oid"),
            },
            amount_unit="minor",
        ),
        # Event exports (research/product.md §2(d)); headers are matched ignoring case and punctuation,
        # and "parent.field" reaches into a nested JSON object.
        Preset(
            "segment",
            "events",
            {
                "event_id": ("message_id", "messageId", "id"),
                "timestamp": ("timestamp", "original_timestamp", "sent_at", "received_at"),
                "event": ("event_text", "event"),
                "user_id": ("user_id", "userId"),
                "anonymous_id": ("anonymous_id", "anonymousId"),
                "account_id": ("context_group_id", "group_id", "groupId", "context.groupId"),
                "email": ("context_traits_email", "context.traits.email"),
                "properties": ("properties",),
            },
            files=("tracks.*", "tracks/*"),
        ),
        Preset(
            "amplitude",
            "events",
            {
                "event_id": ("$insert_id", "insert_id", "uuid"),
                "timestamp": ("event_time", "client_event_time", "server_upload_time"),
                "event": ("event_type",),
                "user_id": ("user_id",),
                "anonymous_id": ("device_id",),
                "session_id": ("session_id",),
                "properties": ("event_properties",),
            },
            # The export's parts: <project>_<date>_<n>#<n>.json.gz, loose or in the project's folder.
            files=("*_*#*.json.gz", "*/*_*#*.json.gz", "*_*#*.json", "*/*_*#*.json"),
        ),
        Preset(
            "mixpanel",
            "events",
            {
                "event_id": ("$insert_id", "properties.$insert_id", "insert_id"),
                "timestamp": ("time", "properties.time"),
                "event": ("event",),
                "user_id": ("$user_id", "properties.$user_id", "distinct_id", "properties.distinct_id"),
                "anonymous_id": ("$device_id", "properties.$device_id", "device_id"),
                "email": ("$email", "properties.$email"),
                "properties": ("properties",),
            },
        ),
        Preset(
            "posthog",
            "events",
            {
                "event_id": ("uuid",),
                "timestamp": ("timestamp",),
                "event": ("event",),
                "user_id": ("person_id", "distinct_id"),
                "anonymous_id": ("$anon_distinct_id", "properties.$anon_distinct_id"),
                "account_id": ("$group_0", "properties.$group_0"),
                "session_id": ("$session_id", "properties.$session_id", "session_id"),
                "properties": ("properties",),
            },
        ),
        # Survey exports (research/acquisition-support-report.md §2.5, product.md §2(d)). Survey
        # presets never read a tool's own NPS class: kpi recomputes it from the score (SPEC §3.4).
        Preset(
            "delighted",
            "surveys",
            {
                # The API's fields (one JSON object a line), then the CSV's title-cased spellings.
                "response_id": ("id", "Response ID"),
                "respondent_id": ("person.id", "person", "Person ID", "Person"),
                "email": ("person.email", "Email", "Person email"),
                "survey": ("survey_type", "Survey type"),
                "score": ("score", "Score"),
                "comment": ("comment", "Comment"),
                "responded_at": ("created_at", "Created at", "Response timestamp", "Created"),
            },
            # The API's list saved as it comes (GET /v1/survey_responses.json): one JSON array.
            files=("surveys.json", "survey_responses*.json", "delighted*.json"),
        ),
        Preset(
            "typeform",
            "surveys",
            {
                # One column per question *title*: the score is mapped in the config (kpi init
                # guesses it from the title), the survey type is a constant ([sources.surveys] survey).
                "response_id": ("#", "Token", "Response ID"),
                "responded_at": ("Submit Date (UTC)", "Submitted At", "submitted_at"),
                "email": ("email", "Email", "Email address"),
                "respondent_id": ("user_id", "respondent_id"),
                "account_id": ("account_id", "company_id"),
            },
            keep={"Response Type": ("completed",)},
        ),
        Preset(
            "surveymonkey",
            "surveys",
            {
                # SurveyMonkey's Respondent ID is one per response, not one per person: the person is
                # the e-mail (the surveys family's respondent fallback).
                "response_id": ("Respondent ID",),
                "responded_at": ("End Date", "Start Date"),
                "email": ("Email Address", "Email"),
                "respondent_id": ("Custom Data 1",),
            },
            header_rows=2,
            datetime_format="%m/%d/%Y %I:%M:%S %p",
        ),
        Preset(
            "qualtrics",
            "surveys",
            {
                "response_id": ("ResponseId", "ResponseID"),
                "responded_at": ("RecordedDate", "EndDate"),
                "email": ("RecipientEmail",),
                "respondent_id": ("ExternalReference", "ExternalDataReference"),
            },
            header_rows=3,
            # Completed responses only: Finished = 1, and no previews, tests or spam (Status codes
            # 1, 2, 8, 9, 12, 17 or their text in "choice text" exports).
            keep={"Finished": ("1", "true")},
            drop={"Status": ("1", "2", "8", "9", "12", "17", "survey preview", "survey test", "spam",
                             "preview spam", "imported spam", "offline survey preview")},
            ignore=("*_nps_group",),
            derive=qualtrics_nps,
            header_probe=qualtrics_rows,
        ),
        # Ticket exports (research/acquisition-support-report.md §2.4).
        Preset(
            "zendesk",
            "tickets",
            {
                "ticket_id": ("Id",),
                "created_at": ("Created at",),
                # The external id is the id the product knows the requester by; Zendesk's own
                # "Requester id" is not.
                "user_id": ("Requester external id",),
                "requester_email": ("Requester email",),
                "organization": ("Organization",),
                "tags": ("Tags",),
                "status": ("Status",),
                "via": ("Via",),
                "reopens": ("Reopens",),
                "resolved_at": ("Solved at",),
                "first_response_minutes": ("First reply time in minutes",),
                "first_response_business_minutes": ("First reply time in minutes within business hours",),
                "full_resolution_minutes": ("Full resolution time in minutes",),
                "full_resolution_business_minutes": ("Full resolution time in minutes within business hours",),
            },
            needs_tz="the Zendesk account's time zone (Admin Center › Account › Localization), e.g. "
            '"America/New_York"',
            rewrite={"tags": (r"\s*[,;]\s*|\s+", ";")},  # Zendesk separates tags with spaces
        ),
        Preset(
            "intercom",
            "tickets",
            {
                # Timestamp headers carry the workspace zone: "Conversation started at (America/New_York)".
                "ticket_id": ("Conversation ID",),
                "created_at": ("Conversation started at",),
                "first_response_at": ("Conversation first replied at",),
                "first_resolved_at": ("Conversation first closed at",),
                "resolved_at": ("Conversation last closed at",),
                "first_response_minutes": ("First response time (seconds)",),
                "first_response_business_minutes": ("First response time, only within office hours (seconds)",),
                "full_resolution_minutes": ("Time to close (seconds)",),
                "via": ("Channel",),
                "status": ("Current conversation state",),
                "tags": ("Conversation tag", "Conversation tags"),
                "account_id": ("Company ID",),
                "organization": ("Company name",),
                "user_id": ("User ID",),
                "requester_email": ("User email",),
            },
            duration_unit="seconds",
        ),
        Preset(
            "freshdesk",
            "tickets",
            {
                "ticket_id": ("Ticket ID",),
                "created_at": ("Created time",),
                "first_response_at": ("Initial response time",),
                "resolved_at": ("Resolved time", "Closed time"),
                # Freshdesk's "(in hrs)" durations are business hours (research §2.2).
                "first_response_business_minutes": ("First response time (in hrs)",),
                "full_resolution_business_minutes": ("Resolution time (in hrs)",),
                "status": ("Status",),
                "via": ("Source",),
                "tags": ("Tags",),
                "requester_email": ("Email",),
                "user_id": ("Contact ID",),
                "organization": ("Company Name",),
            },
            needs_tz="the Freshdesk account's time zone (Admin › Helpdesk Settings › Time zone), e.g. "
            '"Europe/Berlin"',
            duration_unit="hours",
        ),
        # A marketing-spend sheet: a month (or date) per row, a channel (GA4 default channel group
        # names map to classes through [channels]), a cost.
        Preset(
            "spend_sheet",
            "spend",
            {
                "month": ("Month", "Year month", "Year Month (YYYYMM)", "yearMonth"),
                "date": ("Date", "Day"),
                "channel": ("Channel", "Session primary channel group (Default channel group)",
                            "Session default channel group", "Default channel group", "Channel group",
                            "First user default channel group"),
                "amount": ("Spend", "Cost", "Ads cost", "Amount", "Advertiser ad cost"),
                "currency": ("Currency", "Currency code"),
                "category": ("Category", "Spend category"),
            },
            rewrite={"month": (r"^\s*(\d{4})(\d{2})\s*$", "${1}-${2}")},  # GA4's yearMonth 202403
        ),
    )
}

PRESET_SOURCES = {name: p.source for name, p in PRESETS.items()}
ALL_PRESET_NAMES = tuple(PRESET_SOURCES)
DURATION_UNITS = {"seconds": 1 / 60, "minutes": 1.0, "hours": 60.0}  # factor to minutes


# Words of a survey question naming its kind, tried in this order (research/product.md §2.15).
QUESTION_WORDS = (("nps", ("recommend", "how likely")), ("csat", ("satisf",)),
                  ("ces", ("easy", "effort", "ease of")))


def survey_question(headers: list[str]) -> tuple[str, str] | None:
    """The header of a question-titled export's score column and its survey type, from its wording.

    For ``kpi init`` on Typeform and SurveyMonkey exports, whose columns are the questions asked:
    "How likely are you to recommend …" is NPS, "… satisfied …" CSAT, "… easy …" CES. Follow-up
    questions ("What is the main reason for your score?") are not scores.

    Examples
    --------
    >>> survey_question(["#", "How likely are you to recommend Acme to a friend?", "Why?"])
    ('How likely are you to recommend Acme to a friend?', 'nps')
    >>> survey_question(["#", "Submit Date (UTC)"]) is None
    True
    """
    for kind, words in QUESTION_WORDS:
        for h in headers:
            text = h.lower()
            if any(w in text for w in words) and not any(w in text for w in ("reason", "why", "comment")):
                return h, kind
    return None


def source_defaults(table: dict[str, Any]) -> dict[str, Any]:
    """A ``[sources.S]`` table with its preset's file settings beneath the user's own keys.

    ``header_rows`` is what the reader needs before any header is matched, so it is resolved here
    from the preset name alone; an unknown preset is reported later, by the column matching.
    """
    preset = PRESETS.get(str(table.get("preset") or "").lower())
    if preset is None:
        return table
    defaults: dict[str, Any] = {"header_rows": preset.header_rows}
    return {**defaults, **table}
