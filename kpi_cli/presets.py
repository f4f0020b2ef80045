"""Column mappings for the billing exports people actually have (research/revenue.md §5).

Each preset maps a canonical column to the export's header candidates (first present wins),
and may translate status values and declare minor-unit amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
    )
}

# Delighted (surveys) is accepted by name so config files stay valid until surveys land.
PRESET_SOURCES = {name: p.source for name, p in PRESETS.items()} | {"delighted": "surveys"}
ALL_PRESET_NAMES = tuple(PRESET_SOURCES)
