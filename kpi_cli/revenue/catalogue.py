"""The revenue family's catalogue entries (SPEC §3.1)."""

from __future__ import annotations

from kpi_cli.metric import Metric

BILLING = ("subscriptions|invoices",)
MOVE_OPTS = ("discounts", "churn_at", "currency")

METRICS = [
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
           special="freemium_conversion", options=("within",), columns=("customers.created_at",)),
]
