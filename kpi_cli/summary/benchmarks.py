"""Benchmarks: the shipped ``benchmarks.toml``, ``[benchmarks]`` overrides, and like-with-like matching.

A benchmark is compared only on its own basis (SPEC §3.5): a point figure at any grain, a monthly one
at a monthly grain, an annual one at a yearly grain — and churn and retention rates are compounded
between month, quarter and year first (monthly churn 2% is 1 − 0.98¹² = 21.5% a year). Anything
else gets no badge and a reason instead.

Examples
--------
>>> entries = load(None)
>>> found, why = match("customer_churn_rate", 0.02, "month", entries)
>>> found.badge, found.note
('above 5–7%/yr at 21.5%/yr · seed rule of thumb, high-ACV', 'monthly 2.0% compounded: 21.5%/yr')
>>> match("customer_churn_rate", 0.02, "week", entries)[1]
'annual benchmark; a weekly rate cannot be compounded honestly (a year is not whole weeks): run --period month'
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from kpi_cli.errors import UsageError
from kpi_cli.summary.model import Benchmark

BASES = ("monthly", "annual", "point")
CONFIDENCE = ("seed", "published", "own")  # own: an entry from kpi.toml
FIELDS = ("metric", "basis", "low", "high", "value", "percentile", "population", "year", "source", "confidence",
          "label", "arpa_usd")
# Churn rates compound as 1 − (1 − m)^k and retention rates as r^k; every other rate (NRR, conversion,
# stickiness) does not compound honestly, so it is compared on its own basis only. grr is 1 − gross
# MRR churn, so it compounds like it.
CHURN = ("customer_churn_rate", "gross_mrr_churn_rate")
RETENTION = ("customer_retention_rate", "grr")
MONTHS = {"month": 1, "quarter": 3, "year": 12}  # day and week do not tile months or years
BASIS_MONTHS = {"monthly": 1, "annual": 12}
ADJECTIVE = {"day": "daily", "week": "weekly", "month": "monthly", "quarter": "quarterly", "year": "annual"}
PER = {"monthly": "/mo", "annual": "/yr", "point": ""}
GRAIN_FOR = {"monthly": "month", "annual": "year"}


@dataclass(frozen=True)
class Entry:
    """One benchmark entry, shipped or from ``kpi.toml``."""

    metric: str
    basis: str
    low: float | None
    high: float | None
    value: float | None
    population: str
    year: str
    source: str
    confidence: str
    label: str
    percentile: float | None = None
    arpa_usd: tuple[float, float] | None = None  # [lo, hi): the entry applies when ARPA (USD) is in it
    origin: str = "benchmarks.toml"

    def covers(self, arpa_usd: float | None) -> bool:
        """Whether a segmented entry's ARPA band holds ``arpa_usd`` (False for an unsegmented entry)."""
        return self.arpa_usd is not None and arpa_usd is not None and self.arpa_usd[0] <= arpa_usd < self.arpa_usd[1]


def _number(raw: dict[str, Any], key: str, where: str) -> float | None:
    v = raw.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
        msg = f"{where}: {key} = {v!r} is not a number"
        raise UsageError(msg, hint=f"write {key} as a number, a fraction for rates (5% is 0.05)")
    return float(v)


def _entry(raw: Any, where: str, origin: str, metric: str | None = None) -> Entry:
    """One validated entry; ``where`` names it in errors (``kpi.toml [benchmarks.nps]``)."""
    from kpi_cli.config import _nearest
    from kpi_cli.registry import METRICS

    if not isinstance(raw, dict):
        msg = f"{where}: expected a table of benchmark fields, got {raw!r}"
        raise UsageError(msg, hint="write basis, low/high or value, source (docs/decisions/issue9-benchmarks.md)")
    for key in raw:
        if key not in FIELDS or (metric is not None and key == "metric"):
            msg = f"{where}: unknown key {key!r}{_nearest(str(key), FIELDS[1:])}"
            raise UsageError(msg, hint="remove the key or correct its spelling")
    metric = metric if metric is not None else raw.get("metric")
    if metric not in METRICS:
        msg = f"{where}: unknown metric id {metric!r}{_nearest(str(metric), list(METRICS))}"
        raise UsageError(msg, hint="use an id from `kpi list`")
    basis = raw.get("basis")
    if basis not in BASES:
        msg = f"{where}: basis {basis!r} is not one of {', '.join(BASES)}"
        raise UsageError(msg, hint="monthly or annual for a rate of a period, point when the period length "
                                   "does not matter")
    low, high, value = (_number(raw, k, where) for k in ("low", "high", "value"))
    if low is None and high is None and value is None:
        msg = f"{where}: gives neither low/high nor value"
        raise UsageError(msg, hint="add low and/or high (a band) or value (a single figure)")
    if low is not None and high is not None and low > high:
        msg = f"{where}: low {low:g} is above high {high:g}"
        raise UsageError(msg, hint="swap them, or give only one side")
    percentile = _number(raw, "percentile", where)
    if percentile is not None and not 0 <= percentile <= 100:
        msg = f"{where}: percentile {percentile:g} is not within 0–100"
        raise UsageError(msg, hint="write the percentile as 0–100 (50 for a median)")
    confidence = raw.get("confidence", "own" if origin == "kpi.toml" else None)
    if confidence not in CONFIDENCE:
        msg = f"{where}: confidence {confidence!r} is not one of {', '.join(CONFIDENCE)}"
        raise UsageError(msg, hint="seed (a rule of thumb), published (a survey) or own (a target)")
    segment = raw.get("arpa_usd")
    arpa: tuple[float, float] | None = None
    if segment is not None:
        if (not isinstance(segment, list) or len(segment) != 2
                or any(isinstance(v, bool) or not isinstance(v, int | float) for v in segment)
                or not 0 <= segment[0] < segment[1]):
            msg = f"{where}: arpa_usd = {segment!r} is not a band [lo, hi) with 0 ≤ lo < hi"
            raise UsageError(msg, hint="write e.g. arpa_usd = [0, 10], or [500, inf] for an open top")
        arpa = (float(segment[0]), float(segment[1]))
    source = str(raw.get("source", "kpi.toml"))
    text = {k: raw.get(k) for k in ("population", "year", "label")}
    for key, v in text.items():
        if v is not None and not isinstance(v, str | int):
            msg = f"{where}: {key} = {v!r} is not text"
            raise UsageError(msg, hint=f'write {key} = "…"')
    label = text["label"] or (source if not source.startswith("http") else origin)
    return Entry(metric, basis, low, high, value, str(text["population"] or "your own target"),
                 str(text["year"] or ""), source, confidence, str(label), percentile, arpa, origin)


def shipped() -> list[Entry]:
    """The entries of the packaged ``kpi_cli/benchmarks.toml``, validated."""
    data = tomllib.loads(resources.files("kpi_cli").joinpath("benchmarks.toml").read_text(encoding="utf-8"))
    return [_entry(raw, f"benchmarks.toml entry {i + 1}", "benchmarks.toml")
            for i, raw in enumerate(data.get("benchmark", []))]


def load(overrides: dict[str, Any] | None) -> list[Entry]:
    """The shipped entries with ``[benchmarks]`` of kpi.toml applied.

    ``[benchmarks.ID]`` (one table) or ``[[benchmarks.ID]]`` (several, e.g. by ARPA band) replaces
    every shipped entry for metric ID, or adds ID when none was shipped; ``ID = []`` removes them.

    Examples
    --------
    >>> own = load({"customer_churn_rate": {"basis": "annual", "low": 0.05, "high": 0.08, "source": "board target"}})
    >>> [(e.low, e.high, e.label, e.confidence) for e in own if e.metric == "customer_churn_rate"]
    [(0.05, 0.08, 'board target', 'own')]
    """
    entries = shipped()
    if not overrides:
        return entries
    if not isinstance(overrides, dict):
        msg = f"kpi.toml [benchmarks]: expected a table of metric ids, got {overrides!r}"
        raise UsageError(msg, hint="write [benchmarks.METRIC_ID] tables (docs/decisions/issue9-benchmarks.md)")
    own: list[Entry] = []
    for metric, raw in overrides.items():
        tables = raw if isinstance(raw, list) else [raw]
        for i, table in enumerate(tables):
            where = f"kpi.toml [benchmarks.{metric}]" + (f" entry {i + 1}" if isinstance(raw, list) else "")
            own.append(_entry(table, where, "kpi.toml", metric=str(metric)))
    return [e for e in entries if e.metric not in overrides] + own


def _fmt(v: float, unit: str) -> str:
    """A figure without its unit: a ratio in percent, with at most one decimal."""
    if unit == "ratio":
        v *= 100
    return f"{v:,.1f}".removesuffix(".0")


def band_text(e: Entry | Benchmark, unit: str) -> str:
    """The benchmark's figure as text: ``5–7%/yr``, ``≥ 3``, ``6–18 months``, ``37.5%``.

    Examples
    --------
    >>> e = shipped()[2]
    >>> band_text(e, "ratio")
    '5–7%/yr'
    """
    if e.low is not None and e.high is not None:
        core = f"{_fmt(e.low, unit)}–{_fmt(e.high, unit)}"
    elif e.low is not None:
        core = f"≥ {_fmt(e.low, unit)}"
    elif e.high is not None:
        core = f"≤ {_fmt(e.high, unit)}"
    else:
        core = _fmt(e.value or 0.0, unit)
    suffix = {"ratio": "%", "months": " months"}.get(unit, "")
    return f"{core}{suffix}{PER[e.basis]}"


def _unit(metric: str) -> str:
    from kpi_cli.registry import METRICS

    return METRICS[metric].unit


def _convert(metric: str, value: float | None, grain: str, basis: str) -> tuple[float | None, str, str]:
    """(value on the benchmark's basis, how it was converted, why it cannot be): one of the last two is ""."""
    if basis == "point":
        return value, "", ""
    if metric.endswith("_ttm"):
        return value, "trailing twelve months: annual at any grain", ""
    target = BASIS_MONTHS[basis]
    if MONTHS.get(grain) == target:
        return value, "", ""
    adjective = ADJECTIVE.get(grain, grain)
    if metric not in CHURN + RETENTION:
        why = (f"{basis} benchmark; a {adjective} value of this metric does not convert to a {basis} one "
               f"(only churn and retention rates compound): run --period {GRAIN_FOR[basis]}")
        return None, "", why
    if grain not in MONTHS:
        unit = "month" if basis == "monthly" else "year"
        why = (f"{basis} benchmark; a {adjective} rate cannot be compounded honestly (a {unit} is not whole "
               f"{grain}s): run --period month")
        return None, "", why
    k = target / MONTHS[grain]
    if value is None:
        return None, f"{adjective} rates compounded to {basis}", ""
    if not 0 <= value <= 1:
        return None, "", f"{basis} benchmark; a rate of {value:.1%} does not compound"
    compared = 1 - (1 - value) ** k if metric in CHURN else value**k
    how = "compounded" if k > 1 else "as a monthly rate"
    return compared, f"{adjective} {value:.1%} {how}: {compared:.1%}{PER[basis]}", ""


def on_grain(metric: str, bound: float | None, grain: str, basis: str) -> float | None:
    """A benchmark bound brought to the metric's own grain: the inverse of the compounding :func:`match`
    applies (an annual 5% churn band is 0.43% a month), so machine rows put the band on the value's scale.

    Examples
    --------
    >>> round(on_grain("customer_churn_rate", 0.05, "month", "annual"), 6)
    0.004265
    >>> on_grain("nps", 41.0, "week", "point")
    41.0
    """
    if bound is None or basis == "point" or metric.endswith("_ttm"):
        return bound
    target = BASIS_MONTHS[basis]
    if MONTHS.get(grain) == target or metric not in CHURN + RETENTION or grain not in MONTHS:
        return bound
    k = target / MONTHS[grain]
    if not 0 <= bound <= 1:
        return bound
    return 1 - (1 - bound) ** (1 / k) if metric in CHURN else bound ** (1 / k)


def _position(e: Entry, compared: float) -> str:
    if e.low is not None or e.high is not None:
        if e.low is not None and compared < e.low:
            return "below"
        if e.high is not None and compared > e.high:
            return "above"
        return "within"
    assert e.value is not None  # an entry always has a band or a value
    return "below" if compared < e.value else "above" if compared > e.value else "within"


def _segment_text(e: Entry) -> str:
    if e.arpa_usd is None:
        return ""
    lo, hi = e.arpa_usd
    return f"ARPA ${lo:,.0f}+" if math.isinf(hi) else f"ARPA ${lo:,.0f}–{hi:,.0f}"


def _candidates(metric: str, entries: list[Entry], arpa_usd: float | None) -> list[Entry]:
    """The entries that may apply, best first: the run's ARPA band, then the unsegmented ones in order."""
    own = [e for e in entries if e.metric == metric]
    return [e for e in own if e.covers(arpa_usd)] + [e for e in own if e.arpa_usd is None]


def match(metric: str, value: float | None, grain: str, entries: list[Entry],
          arpa_usd: float | None = None) -> tuple[Benchmark | None, str]:
    """The benchmark that applies to ``metric`` at ``grain``, with ``value`` on its basis; else None and why.

    Examples
    --------
    >>> entries = load(None)
    >>> found, _ = match("nps", 35.0, "quarter", entries)
    >>> found.position, found.badge
    ('within', 'within 31–51 · seed average 41 ± 10')
    >>> match("mrr", 1000.0, "month", entries)
    (None, 'no benchmark for this metric')
    """
    own = [e for e in entries if e.metric == metric]
    if not own:
        return None, "no benchmark for this metric"
    candidates = _candidates(metric, entries, arpa_usd)
    if not candidates:
        bands = ", ".join(_segment_text(e) for e in own)
        where = "no ARPA in USD for this run" if arpa_usd is None else f"this run's ARPA is ${arpa_usd:,.2f}"
        return None, f"benchmarks by ARPA band only ({bands}); {where}"
    reasons = []
    for e in candidates:
        compared, how, why = _convert(metric, value, grain, e.basis)
        if why:
            reasons.append(why)
            continue
        unit = _unit(metric)
        band = band_text(e, unit)
        segment = _segment_text(e)
        note = "; ".join(t for t in (how, segment and f"{segment} (this run's ARPA ${arpa_usd:,.2f})") if t)
        if value is None or compared is None:
            return Benchmark(metric, e.basis, e.low, e.high, e.value, e.population, e.year, e.source, e.confidence,
                             None, None, f"benchmark {band} · {e.label}", note), ""
        position = _position(e, compared)
        at = f" at {_fmt(compared, unit)}{'%' if unit == 'ratio' else ''}{PER[e.basis]}" if compared != value else ""
        phrase = f"{position} {band}"
        if (e.low is None) != (e.high is None):  # a threshold: "meets ≥ 3", "below 3"
            phrase = f"meets {band}" if position == "within" else f"{position} {band.lstrip('≥≤ ')}"
        return Benchmark(metric, e.basis, e.low, e.high, e.value, e.population, e.year, e.source, e.confidence,
                         compared, position, f"{phrase}{at} · {e.label}", note), ""
    return None, reasons[0]


def explain_lines(metric: str, grain: str, entries: list[Entry]) -> list[str]:
    """For ``kpi explain ID``: each benchmark of ``metric`` and whether it applies at ``grain``, and why.

    Examples
    --------
    >>> own = load({"dau_mau": {"basis": "monthly", "low": 0.15, "source": "our target"}})
    >>> first, second = explain_lines("dau_mau", "week", own)
    >>> first
    'benchmark: ≥ 15%/mo (monthly) · our target · your own target · own · from kpi.toml'
    >>> second.split(": ")[0]
    '  does not apply at a weekly grain'
    """
    own = [e for e in entries if e.metric == metric]
    if not own:
        also = f"; surveys of annual {metric.upper()} compare with {metric}_ttm" if metric in ("nrr", "grr") else ""
        return [f"benchmark: none for {metric}{also} (add one as [benchmarks.{metric}] in kpi.toml)"]
    unit = _unit(metric)
    adjective = ADJECTIVE.get(grain, grain)
    lines = []
    for e in own:
        origin = "" if e.origin == "benchmarks.toml" else f" · from {e.origin}"
        year = f", {e.year}" if e.year else ""
        parts = [f"{band_text(e, unit)} ({e.basis})", e.label, f"{e.population}{year}", e.confidence, e.source]
        # a kpi.toml entry's label defaults to its source: say it once
        lines.append("benchmark: " + " · ".join(dict.fromkeys(parts)) + origin)
        _, how, why = _convert(metric, None, grain, e.basis)
        if why:
            lines.append(f"  does not apply at a {adjective} grain: {why}")
        else:
            how = how or ("a point figure, compared at any grain" if e.basis == "point"
                          else f"a {e.basis} figure, compared as it is")
            lines.append(f"  applies at a {adjective} grain: {how}")
        if e.arpa_usd is not None:
            lines.append(f"  only when the run's ARPA in USD is in {_segment_text(e)}; otherwise an unsegmented "
                         "entry applies")
    if len(own) > 1:
        lines.append("  (the first that applies wins: the run's ARPA band first, then file order)")
    return lines
