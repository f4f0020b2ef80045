"""The metric catalogue, declared as data (SPEC §3): one entry per metric id.

Each family declares its entries in ``kpi_cli/<family>/catalogue.py`` (:class:`kpi_cli.metric.Metric`);
this module gathers them in group order. A metric is a column of its family's base table
(``value``), a ratio of two base columns (``ratio``), a function of its family (``special``), or
built from other metrics by id (``of``, with ``op`` when the graph evaluates it itself). This module
imports no dataframe library: ``kpi list``, ``kpi explain`` and shell completion read it cheaply.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from kpi_cli.errors import NoMetricError, UsageError
from kpi_cli.metric import Metric

# Catalogue modules, in the order kpi list and the `all` group show them.
CATALOGUES = ("revenue", "acquisition", "engagement", "surveys", "support")
GROUP_ORDER = ("revenue", "acquisition", "engagement", "satisfaction")


def _gather() -> list[Metric]:
    found: list[Metric] = []
    for family in CATALOGUES:
        name = f"kpi_cli.{family}.catalogue"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:  # a family whose catalogue is not written yet
            if e.name not in (name, f"kpi_cli.{family}"):
                raise
            continue
        found += module.METRICS
    return found


# Group order first, then catalogue order: `new_signups` (engagement data) sits with acquisition.
_ALL = sorted(_gather(), key=lambda m: GROUP_ORDER.index(m.listed_group))
METRICS: dict[str, Metric] = {m.id: m for m in _ALL}
if len(METRICS) != len(_ALL):
    _dupes = sorted({m.id for m in _ALL if sum(n.id == m.id for n in _ALL) > 1})
    _msg = f"metric ids declared twice: {', '.join(_dupes)}"
    raise RuntimeError(_msg)
GROUPS: dict[str, tuple[str, ...]] = {
    g: tuple(m.id for m in _ALL if m.listed_group == g and not m.hidden) for g in GROUP_ORDER
}
GROUPS["all"] = tuple(m for g in GROUP_ORDER for m in GROUPS[g])


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
        groups = [t.strip() for item in items for t in item.split(",") if t.strip() in GROUPS]
        if groups:
            msg = f"{', '.join(groups)}: none of its metrics can be computed from the sources found"
            raise NoMetricError(msg, hint="`kpi list` shows the sources each metric needs; "
                                "`kpi validate` shows what was found")
        msg_0 = "no metric given"
        raise NoMetricError(msg_0, hint="e.g. kpi compute mrr --month 2023-03")
    return out
