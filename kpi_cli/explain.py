"""``kpi explain ID``: one catalogue entry in full, its parts by id (recursively) and the options in force.

No dataframe library is imported: the text comes from the catalogue and the resolved settings.
"""

from __future__ import annotations

from typing import Any

from kpi_cli.metric import Metric
from kpi_cli.registry import METRICS, part_label

# Options that are not settings (no KPI_* variable, no kpi.toml key): a flag, else their default.
RUN_DEFAULTS = {"actor": "user", "identified_only": "off", "session_gap": "30m", "window": "calendar",
                "mau_days": "30", "inactive_days": "30", "exclude_file": "none", "cac_lag": "0",
                "cac_basis": "blended", "payback_basis": "new", "spend_allocation": "none",
                "bounce": "single_page", "engaged_seconds": "10", "csat": "share", "ces_scale": "1-7",
                "nps_unit": "respondent", "nps_weight": "none", "tag": "none (every ticket)", "hours": "calendar",
                "as_of": "now"}
WITHIN = {"trial_conversion_rate": "30d", "freemium_conversion_rate": "90d"}
OP_WORDS = {"ratio": "÷", "product": "×", "difference": "−"}


def lines(m: Metric, settings: Any, common: dict[str, Any]) -> list[str]:
    """The text of ``kpi explain`` for metric ``m``."""
    reads = f"; {m.family} data" if m.listed_group != m.family else ""
    out = [f"{m.id} — {m.label}  [{m.unit}, {m.listed_group}{reads}]",
           f"sources: {', '.join(s.replace('|', ' or ') for s in m.sources)}", "", m.definition, ""]
    if m.ratio:
        out += [f"numerator:   {part_label(m.ratio[0])}",
                f"denominator: {part_label(m.ratio[1])}  (a zero denominator gives null)"]
    if m.of:
        out.append("built from:" if not m.op else f"built from ({_formula(m)}):")
        out += _tree(m, common, "  ", {m.id})
    from kpi_cli.summary import benchmarks  # which benchmark kpi report would badge, at this grain, and why

    entries = benchmarks.load(settings.tables.get("benchmarks"))
    out += benchmarks.explain_lines(m.id, str(settings.values.get("period") or "month"), entries)
    out.append("options in force:")
    for o in dict.fromkeys((*_options(m), "period", "tz")):
        value, origin = in_force(o, m.id, settings, common)
        out.append(f"  --{o.replace('_', '-')} = {value}  ({origin})")
    return out


def _formula(m: Metric) -> str:
    parts = [p.partition("@")[0] + (f"(P − {p.partition('@')[2]})" if "@" in p else "") for p in m.of]
    if m.op == "growth":
        return f"({parts[0]} − {parts[0]}(P − 1)) ÷ {parts[0]}(P − 1)"
    return f" {OP_WORDS.get(m.op or '', '?')} ".join(parts)


def _tree(m: Metric, common: dict[str, Any], indent: str, seen: set[str]) -> list[str]:
    out = []
    for part in m.of:
        pid, _, lag = part.partition("@")
        p = METRICS[pid]
        when = ""
        if lag:
            n = lag if lag.isdigit() else str(common.get(lag) or RUN_DEFAULTS.get(lag, "0"))
            when = f" of P − {n}" + (f" (--{lag.replace('_', '-')})" if not lag.isdigit() else "")
        out.append(f"{indent}{p.id}{when} — {p.label}  [{p.unit}, {p.family}]: {p.definition}")
        if p.of and p.id not in seen:
            out += _tree(p, common, indent + "  ", seen | {p.id})
    return out


def _options(m: Metric, seen: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The metric's options and those of every part, in order of appearance."""
    found = list(m.options)
    for part in m.of:
        pid = part.partition("@")[0]
        if pid not in seen:
            found += _options(METRICS[pid], seen | {m.id})
    return tuple(dict.fromkeys(found))


def in_force(option: str, metric: str, settings: Any, common: dict[str, Any]) -> tuple[str, str]:
    """An option's value as ``kpi explain`` shows it, and where it came from (flag / env / config / default)."""
    if option in settings.values:
        value, origin = settings.values[option], settings.origin[option]
        if option == "currency" and value is None:
            return "(the one currency of the data, or the one fx_rates convert into)", origin
        return str(value), origin
    given = common.get(option)
    if given not in (None, False):
        return ("on" if given is True else str(given)), "flag"
    return (WITHIN.get(metric, "30d") if option == "within" else RUN_DEFAULTS[option]), "default"
