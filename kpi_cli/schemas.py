"""Canonical sources and their columns (SPEC §1.2), declared as data.

Kinds: ``str`` text, ``ts`` an instant (ISO-8601, date or Unix epoch), ``num`` a decimal amount,
``int`` a whole count, ``bool`` a flag, ``json`` JSON text or a struct.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One canonical column."""

    name: str
    kind: str
    required: bool = False


def _cols(spec: str) -> tuple[Column, ...]:
    out = []
    for token in spec.split():
        name, kind = token.split(":")
        out.append(Column(name.rstrip("*"), kind, name.endswith("*")))
    return tuple(out)


SOURCES: dict[str, tuple[Column, ...]] = {
    "subscriptions": _cols(
        "customer_id*:str subscription_id*:str item_id:str start_at*:ts end_at:ts amount*:num "
        "currency:str interval:str interval_count:int quantity:num status:str trial_end_at:ts "
        "canceled_at:ts discount_percent:num discount_amount:num discount_duration:str "
        "discount_end_at:ts plan:str is_metered:bool"
    ),
    "invoices": _cols(
        "customer_id*:str subscription_id:str period_start*:ts period_end*:ts amount*:num "
        "tax_amount:num discount_amount:num currency:str quantity:num proration:bool recurring:bool"
    ),
    "customers": _cols("customer_id*:str created_at:ts"),
    "events": _cols(
        "timestamp*:ts event*:str user_id:str anonymous_id:str account_id:str event_id:str "
        "session_id:str email:str properties:json"
    ),
    "surveys": _cols(
        "responded_at*:ts score*:str survey*:str respondent_id:str user_id:str email:str account_id:str "
        "response_id:str wave:str touchpoint:str comment:str"
    ),
    # ``date`` or ``month`` (YYYY-MM): one of the two (checked by the acquisition family's rules).
    "spend": _cols("date:ts month:str amount*:num currency:str category:str channel:str"),
    "tickets": _cols(
        "ticket_id*:str created_at*:ts user_id:str account_id:str requester_email:str organization:str tags:str "
        "first_response_at:ts first_response_minutes:num first_response_business_minutes:num first_resolved_at:ts "
        "resolved_at:ts full_resolution_minutes:num full_resolution_business_minutes:num status:str reopens:int "
        "via:str is_agent_created:bool"
    ),
    "traffic": _cols(
        "session_id*:str visitor_id*:str started_at*:ts pageviews*:int duration_s:num key_event:bool channel:str "
        "signed_up:bool user_id:str"
    ),
    "fx_rates": _cols("date*:ts currency*:str rate*:num"),
}

# Columns whose values are money and so follow ``amount_unit = "minor"``.
MONEY = {"amount", "discount_amount", "tax_amount"}

# Sources whose non-canonical columns are kept (attributes usable with --by).
KEEP_EXTRA = {"customers", "events", "surveys", "tickets", "traffic", "spend"}


def normalise(header: str) -> str:
    """Header key used for matching: lower case, letters and digits only.

    Examples
    --------
    >>> normalise("Customer ID")
    'customerid'
    """
    return "".join(ch for ch in header.lower() if ch.isalnum())
