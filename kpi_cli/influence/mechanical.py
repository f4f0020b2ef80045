"""Which metrics move together by construction: they share a base column (a numerator or a denominator).

Two ratios that divide by the same count correlate through it whatever the accounts do (Pearson's
"spurious correlation of indices", research §3.2): ``kpi tree`` calls such a pair "mechanical".
Bases come from the catalogue: a ratio's numerator and denominator columns, a value column, a family
function, and, for a metric built from metrics, its parts' bases and the parts themselves.
"""

from __future__ import annotations

import functools

from kpi_cli.registry import METRICS

# Base columns that are the same count under another name: churn's default denominator is customers at
# the start; WAU/MAU and DAU/WAU are per-day averages of ratios over the same active counts.
ALIASES = {
    "revenue.churn_denominator": ("revenue.start_customers",),
    "revenue.customers_delta": ("revenue.customers", "revenue.start_customers"),
    "revenue.retained_customers": ("revenue.start_customers",),
    "engagement.wau_mau_c": ("engagement.wau", "engagement.active"),
    "engagement.dau_wau_c": ("engagement.dau", "engagement.wau"),
}


@functools.cache
def bases(mid: str) -> frozenset[str]:
    """The base columns metric ``mid`` is built on, as ``family.column``.

    Examples
    --------
    >>> sorted(bases("customer_churn_rate"))
    ['revenue.churn_denominator', 'revenue.churned_n', 'revenue.start_customers']
    """
    m = METRICS[mid]
    own: set[str] = set()
    if m.ratio is not None:
        own |= {f"{m.family}.{c}" for c in m.ratio}
    if m.value is not None:
        own.add(f"{m.family}.{m.value}")
    if m.special is not None and m.ratio is None and m.value is None and not m.of:
        own.add(f"{m.family}.{m.special}")
    for part in m.of:
        pid = part.partition("@")[0]  # a lagged part ("spend@cac_lag") has the same bases
        own.add(f"metric.{pid}")
        own |= bases(pid)
    for column in list(own):
        own.update(ALIASES.get(column, ()))
    return frozenset(own)


def shared_base(a: str, b: str) -> str | None:
    """A base column ``a`` and ``b`` share (the first in sorted order), or None.

    Examples
    --------
    >>> shared_base("customer_growth_rate", "customer_churn_rate")
    'revenue.start_customers'
    >>> shared_base("customer_churn_rate", "key_actions_per_user") is None
    True
    """
    if a == b:
        return f"metric.{a}"
    common = sorted(bases(a) & bases(b))
    return common[0] if common else None


def mechanical(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` share a numerator or a denominator in the catalogue.

    Examples
    --------
    >>> mechanical("dau_mau", "logins_per_user"), mechanical("nps", "ces")
    (True, False)
    """
    return shared_base(a, b) is not None
