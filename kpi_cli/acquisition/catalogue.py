"""The acquisition and cost family's catalogue entries (SPEC §3.2)."""

from __future__ import annotations

from kpi_cli.metric import Metric

BILLING = "subscriptions|invoices"
SPEND_OPTS = ("currency", "spend_allocation")
GROUP = "acquisition"


def _metric(*args: object, **kwargs: object) -> Metric:
    """An entry of the ``acquisition`` group (whichever family computes it)."""
    return Metric(*args, group=GROUP, **kwargs)  # type: ignore[arg-type,misc]


METRICS = [
    _metric("acquisition_spend", "Acquisition spend", "currency", "acquisition", ("spend",),
            "Σ spend rows of category acquisition (blank category included) in P, in the reporting currency "
            "(each row at the fx_rates rate on or before its date; a month row at its last day). Null, not 0, "
            "when no row covers P.", options=SPEND_OPTS),
    _metric("retention_spend", "Retention spend", "currency", "acquisition", ("spend",),
            "Σ spend rows of category retention in P, in the reporting currency; null when no row covers P.",
            options=SPEND_OPTS),
    _metric("cac", "CAC", "currency", "acquisition", ("spend", BILLING),
            "Acquisition spend of P − --cac-lag (0) / new_customers in P. --cac-basis paid: spend on channels "
            "whose class is paid / new customers whose customers.channel is paid. --by channel: that channel's "
            "spend / its new customers ((unattributed) included: blended spend and counts are the sums over "
            "channels). Null when no spend row covers the spend period or there are no new customers.",
            of=("acquisition_spend@cac_lag", "new_customers"), options=(*SPEND_OPTS, "cac_lag", "cac_basis")),
    _metric("cpa", "CPA (per signup)", "currency", "acquisition", ("spend", "events"),
            "Acquisition spend of P − --cac-lag / new_signups in P.",
            of=("acquisition_spend@cac_lag", "new_signups"), options=(*SPEND_OPTS, "cac_lag")),
    _metric("ltv_cac_ratio", "LTV:CAC", "score", "acquisition", ("spend", BILLING),
            "ltv / cac of the same P, group and lag (a warning while --gross-margin is the default 1.0: "
            "that is revenue LTV, not the gross-margin LTV the 3:1 rule assumes).", of=("ltv", "cac"),
            options=(*SPEND_OPTS, "gross_margin", "cac_lag", "cac_basis")),
    _metric("cac_payback_months", "CAC payback", "months", "acquisition", ("spend", BILLING),
            "Acquisition spend (of P − --cac-lag) / (new_mrr × gross margin) = cac / (asp × GM). "
            "--payback-basis new_plus_expansion: / ((new + reactivation + expansion MRR) × GM); never net new MRR.",
            of=("acquisition_spend@cac_lag", "new_mrr", "reactivation_mrr", "expansion_mrr"),
            options=(*SPEND_OPTS, "cac_lag", "payback_basis", "gross_margin")),
    _metric("crc", "Retention cost (CRC)", "currency", "acquisition", ("spend", BILLING),
            "Retention spend in P / (customers at the start of P − churned_customers in P).",
            of=("retention_spend", "customers@1", "churned_customers"), options=SPEND_OPTS),
    # Computed from events by the engagement family; listed here, with the acquisition group.
    Metric("new_signups", "New signups", "count", "engagement", ("events",),
           "Distinct actors (users, or accounts with --actor account) whose first signup event ([events] "
           "signup, default \"Signed Up\") falls in P.", special="signups",
           options=("actor", "identified_only", "tz"), group="acquisition"),
    _metric("signup_growth_rate", "Signup growth", "ratio", "engagement", ("events",),
            "(new_signups(P) − new_signups(P − 1)) / new_signups(P − 1); null when P − 1 had none.",
            of=("new_signups",), op="growth", options=("actor",)),
    _metric("visitor_conversion_rate", "Visitor conversion", "ratio", "acquisition", ("traffic",),
            "Distinct traffic visitors with a session starting in P who signed up in one of them (signed_up, "
            "else a session carrying the signup's user_id) / distinct visitors with a session starting in P.",
            ratio=("converted", "visitors")),
    _metric("bounce_rate", "Bounce rate", "ratio", "acquisition", ("traffic|events",),
            "Sessions starting in P that bounced / sessions starting in P. --bounce single_page (default): "
            "pageviews ≤ 1; --bounce ga4: not engaged, i.e. not (duration_s > --engaged-seconds (10) or "
            "key_event or pageviews ≥ 2). Without traffic: page-view sessions of events (the pageview role), "
            "a bounce being a session of one page view.", ratio=("bounces", "sessions"),
            options=("bounce", "engaged_seconds")),
    _metric("paid_share", "Paid share", "ratio", "acquisition", ("customers", BILLING),
            "New customers whose channel's class is paid / new customers with a channel.",
            of=("new_customers",), options=("currency",), columns=("customers.channel",)),
    _metric("unattributed_share", "Unattributed share", "ratio", "acquisition",
            ("customers", BILLING), "New customers without a channel / new customers.", of=("new_customers",),
            options=("currency",), columns=("customers.channel",)),
    _metric("referral_conversion_rate", "Referral conversion", "ratio", "acquisition", ("customers", BILLING),
            "Customers created in P with referred_by who became paying within --within (90d) / customers "
            "created in P with referred_by whose window has ended.", options=("within",),
            columns=("customers.referred_by",)),
    _metric("non_referral_conversion_rate", "Non-referral conversion", "ratio", "acquisition",
            ("customers", BILLING),
            "The same as referral_conversion_rate for customers created in P without referred_by (its baseline).",
            options=("within",), columns=("customers.referred_by",)),
]
