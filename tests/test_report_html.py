"""The HTML report page (kpi_cli.summary.html): structure, escaping, determinism and size, read with html.parser.

Reports are built by hand from the model's dataclasses; every expected value below is worked out
from the inputs here, not copied from the page.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser

import pytest

from kpi_cli.influence.model import Decomposition, Scatter, Term, TreeResult
from kpi_cli.summary.html import page
from kpi_cli.summary.model import Benchmark, Point, Report, ReportRow


def months(n: int, end: date = date(2024, 3, 1)) -> list[date]:
    """The first days of the ``n`` months ending at ``end``, oldest first."""
    index = end.year * 12 + end.month - 1
    return [date((index - k) // 12, (index - k) % 12 + 1, 1) for k in range(n - 1, -1, -1)]


def make_row(metric: str = "mrr", label: str = "MRR", section: str = "revenue", unit: str = "currency",
             values: list[float | None] | None = None, last_complete: bool = True, **extra: object) -> ReportRow:
    """A report row whose history holds ``values`` (oldest first), its value the last one."""
    values = [1000.0 + 50 * k for k in range(12)] if values is None else values
    days = months(len(values))
    last = len(values) - 1
    history = tuple(Point(d, v, last_complete or k < last) for k, (d, v) in enumerate(zip(days, values, strict=True)))
    change_unit = {"ratio": "pp", "score": "points"}.get(unit, "pct")
    fields: dict[str, object] = {
        "metric": metric, "label": label, "section": section, "unit": unit, "change_unit": change_unit,
        "period": days[-1], "value": values[-1], "previous": values[-2] if len(values) > 1 else None,
        "change": None, "year_ago": None, "yoy_change": None, "complete": last_complete, "history": history}
    fields.update(extra)
    return ReportRow(**fields)  # type: ignore[arg-type]


def make_report(*rows: ReportRow, grain: str = "month", title: str = "KPI report") -> Report:
    """A report for March 2024 in USD."""
    return Report(date(2024, 3, 1), grain, "USD", tuple(rows), title=title)


class Tree(HTMLParser):
    """Every start tag with its attributes and ancestors; the text of each <title> with its parent's tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict[str, str]]] = []
        self.tags: list[tuple[str, dict[str, str], tuple[tuple[str, dict[str, str]], ...]]] = []
        self.titles: list[tuple[str, dict[str, str], str]] = []  # (tag of the parent, its attrs, text)
        self.text: list[str] = []
        self._title: list[str] | None = None

    VOID = frozenset({"meta", "br", "img", "link", "input", "hr"})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a, tuple(self.stack)))
        if tag == "title" and self.stack and self.stack[-1][0] != "head":
            self._title = []
        if tag not in self.VOID:
            self.stack.append((tag, a))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}, tuple(self.stack)))

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title is not None:
            parent = self.stack[-2]
            self.titles.append((parent[0], parent[1], "".join(self._title)))
            self._title = None
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._title is not None:
            self._title.append(data)


def parse(html: str) -> Tree:
    tree = Tree()
    tree.feed(html)
    tree.close()
    return tree


def charts(tree: Tree, css: str = "trend") -> dict[str, list[tuple[str, dict[str, str]]]]:
    """Each chart's id → the elements inside it."""
    out: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for tag, a, ancestors in tree.tags:
        if tag == "svg" and a.get("class") == css:
            out[a.get("data-metric") or a.get("data-influencer", "")] = []
        for t, aa in ancestors:
            if t == "svg" and aa.get("class") == css:
                out[aa.get("data-metric") or aa.get("data-influencer", "")].append((tag, a))
    return out


def test_one_trend_svg_per_metric_and_no_script_or_remote_reference() -> None:
    rows = [make_row("mrr", "MRR"), make_row("customer_churn_rate", "Customer churn", unit="ratio",
                                             values=[0.02, 0.03, 0.025]),
            make_row("nps", "NPS", "satisfaction", "score", [30.0, 35.0, 41.0], n=120.0, moe=6.25)]
    tree = parse(page(make_report(*rows)))
    found = [a.get("data-metric") for tag, a, _ in tree.tags if tag == "svg" and a.get("class") == "trend"]
    assert found == ["mrr", "customer_churn_rate", "nps"]
    assert not [t for t, _, _ in tree.tags if t == "script"]
    for tag, a, _ in tree.tags:
        for key in ("src", "href", "xlink:href"):
            assert not re.match(r"\s*https?:", a.get(key, ""), re.I), (tag, a)
    assert not [t for t, _, _ in tree.tags if t in ("link", "img", "iframe", "object")]
    text = "".join(tree.text)
    assert "±6.2 (n=120)" in text or "±6.3 (n=120)" in text  # 6.25 printed with one decimal


def test_every_point_has_a_title_with_its_exact_value() -> None:
    churn = [0.021534, None, 0.0305, 0.03]
    mrr = [70314.354, 71000.0, 72500.5]
    tree = parse(page(make_report(make_row(values=mrr), make_row("churn", "Churn", unit="ratio", values=churn))))
    circles = charts(tree)
    assert [t for t, _ in circles["mrr"]].count("circle") == 3
    assert [t for t, _ in circles["churn"]].count("circle") == 3  # the None period is a gap, not a point
    titles = [text for parent, _, text in tree.titles if parent == "circle"]
    assert titles == ["2024-01: $70,314.35", "2024-02: $71,000.00", "2024-03: $72,500.50",
                      "2023-12: 2.1534%", "2024-02: 3.05%", "2024-03: 3%"]


def test_none_values_break_the_line() -> None:
    tree = parse(page(make_report(make_row(values=[1.0, 2.0, None, 4.0, 5.0, 6.0], unit="count"))))
    lines = [a for t, a in charts(tree)["mrr"] if t == "polyline"]
    assert len(lines) == 2
    assert [len(a["points"].split()) for a in lines] == [2, 3]


@pytest.mark.parametrize("last_complete", [True, False])
def test_dashed_segment_only_into_an_incomplete_last_period(last_complete: bool) -> None:
    tree = parse(page(make_report(make_row(last_complete=last_complete))))
    lines = [a for t, a in charts(tree)["mrr"] if t == "polyline"]
    dashed = [a for a in lines if "incomplete" in a["class"].split()]
    solid = [a for a in lines if "incomplete" not in a["class"].split()]
    assert len(solid) == 1
    if last_complete:
        assert dashed == []
        assert len(solid[0]["points"].split()) == 12
    else:
        assert len(dashed) == 1
        assert len(solid[0]["points"].split()) == 11
        # the dashed step starts where the solid line ends
        assert dashed[0]["points"].split()[0] == solid[0]["points"].split()[-1]
        assert len(dashed[0]["points"].split()) == 2
        assert "incomplete period" in "".join(tree.text)


def benchmark(compared: float | None, low: float | None = 0.01, high: float | None = 0.02) -> Benchmark:
    return Benchmark("customer_churn_rate", "monthly", low, high, None, "B2B SaaS <$10M ARR", "2024",
                     "https://example.com/churn", "seed", compared, "within", "within 1.0–2.0% · seed heuristic")


def churn_row(b: Benchmark | None) -> ReportRow:
    return make_row("customer_churn_rate", "Customer churn", "revenue", "ratio", [0.012, 0.018, 0.015], benchmark=b)


def test_benchmark_band_on_the_metric_own_scale() -> None:
    tree = parse(page(make_report(churn_row(benchmark(0.015)))))
    rects = [a for t, a in charts(tree)["customer_churn_rate"] if t == "rect" and a.get("class") == "band"]
    assert len(rects) == 1
    # The y range spans 1.0%..2.0% (band) ∪ 1.2%..1.8% (data) = the band itself: it fills the plot height.
    assert float(rects[0]["height"]) == pytest.approx(78.0, abs=0.11)
    assert "within 1.0–2.0% · seed heuristic" in "".join(tree.text)
    badge = [a for t, a, _ in tree.tags if a.get("class") == "badge"]
    assert "https://example.com/churn" in badge[0]["title"]  # the source as text, never a link


def test_benchmark_band_height_is_proportional() -> None:
    # band 0.014..0.016 inside data 0.010..0.020: the band is 0.002 / 0.010 of the plot height.
    row = make_row("customer_churn_rate", "Churn", unit="ratio", values=[0.010, 0.020, 0.015],
                   benchmark=benchmark(0.015, 0.014, 0.016))
    rect = next(a for t, a in charts(parse(page(make_report(row))))["customer_churn_rate"] if t == "rect")
    assert float(rect["height"]) == pytest.approx(78.0 * 0.2, abs=0.11)


def test_compounded_benchmark_shows_the_badge_only() -> None:
    annual = replace(benchmark(1 - (1 - 0.015) ** 12, 0.10, 0.20), basis="annual",
                     badge="within 10–20%/yr · seed heuristic")
    tree = parse(page(make_report(churn_row(annual))))
    assert not [t for t, _ in charts(tree)["customer_churn_rate"] if t == "rect"]
    assert "within 10–20%/yr · seed heuristic" in "".join(tree.text)


def test_null_value_shows_a_dash_and_its_reason() -> None:
    row = make_row("cac", "CAC", "acquisition", values=[100.0, 120.0, None], reason="no spend rows for 2024-03")
    text = "".join(parse(page(make_report(row))).text)
    assert "—" in text
    assert "no spend rows for 2024-03" in text


def test_changes_use_fmt_change_units() -> None:
    row = make_row("customer_churn_rate", "Churn", unit="ratio", values=[0.02, 0.03], change=0.01,
                   year_ago=0.05, yoy_change=-0.02)
    mrr = make_row(values=[1000.0, 1100.0], change=0.1)
    text = "".join(parse(page(make_report(row, mrr))).text)
    assert "▲ +1.0 pp" in text
    assert "▼ −2.0 pp" in text
    assert "▲ +10.0%" in text


def test_text_is_escaped() -> None:
    row = make_row("x<y", 'Revenue <script>alert("x")</script> & co', reason="")
    html = page(make_report(row, title="Acme <i>Inc</i>"))
    tree = parse(html)
    assert not [t for t, _, _ in tree.tags if t in ("script", "i")]
    assert 'Revenue <script>alert("x")</script> & co' in "".join(tree.text)
    assert "Acme <i>Inc</i>" in "".join(tree.text)
    assert [a.get("data-metric") for t, a, _ in tree.tags if t == "svg"] == ["x<y"]


def test_byte_identical_on_two_calls() -> None:
    rows = [make_row(f"m{k}", f"Metric {k}", values=[k * 1.5 + j * 0.37 for j in range(24)]) for k in range(5)]
    assert page(make_report(*rows)) == page(make_report(*rows))


def test_size_budget_for_40_metrics_with_24_points() -> None:
    sections = ["revenue", "acquisition", "engagement", "satisfaction"]
    units = ["currency", "ratio", "count", "score"]
    rows = []
    for k in range(40):
        unit = units[k % 4]
        values = [(1_234_567.891 if unit == "currency" else 0.123456) * (1 + 0.031 * j + 0.007 * k) for j in range(24)]
        rows.append(make_row(f"metric_{k}", f"A fairly long metric label {k}", sections[k % 4], unit, values,
                             last_complete=False, change=0.0123, year_ago=values[0], yoy_change=0.2345,
                             benchmark=benchmark(values[-1], values[0], values[12])))
    html = page(make_report(*rows))
    size = len(html.encode("utf-8"))
    assert size < 250_000, size
    assert html.count('<svg class="trend"') == 40


def test_week_header_and_sections_in_order() -> None:
    rows = [make_row("nps", "NPS", "satisfaction", "score"), make_row("mrr", "MRR", "revenue"),
            make_row("signups", "Signups", "acquisition", "count")]
    report = Report(date(2024, 3, 4), "week", "EUR", tuple(rows))
    tree = parse(page(report))
    text = "".join(tree.text)
    assert "Week of 2024-03-04" in text
    headings = [a.get("data-section") for t, a, _ in tree.tags if t == "section"]
    assert headings == ["revenue", "acquisition", "satisfaction"]


def tree_result() -> TreeResult:
    points = tuple((d, 0.01 * k - 0.05, -0.002 * k + 0.01) for k, d in enumerate(months(12)))
    return TreeResult(
        kpi="customer_churn_rate", level="period", periods=12, stats=(), changes=(),
        verdicts={"logins_per_user": ("moved opposite", "lag 1: ρ = −0.81 (−0.95 to −0.45)"),
                  "dau_mau": ("no detectable relationship", "at n = 11 only |ρ| ≥ 0.80 would show")},
        decomposition=Decomposition("customer_churn_rate", date(2024, 3, 1), 0.02, 0.03, "pp",
                                    (Term("churned_customers", "churned customers", 0.012),
                                     Term("customers", "customers at start", -0.002)),
                                    "customer_churn_rate = churned_customers / customers at start"),
        scatters=(Scatter("logins_per_user", 1, points, -0.81, (-0.95, -0.45), "pct", "pp"),))


def test_tree_section() -> None:
    report = make_report(churn_row(None), make_row("logins_per_user", "Logins per user", "engagement", "count"))
    html = page(report, tree_result())
    tree = parse(html)
    text = "".join(tree.text)
    assert "What moved with Customer churn" in text
    assert "moved opposite" in text
    assert "no detectable relationship" in text
    assert "an experiment" in text  # the footer
    assert "+1.20 pp" in text  # terms with two decimals: a rate's change is often under 0.1 pp
    assert "−0.20 pp" in text
    assert "+1.00 pp" in text  # the terms' total: 1.2 − 0.2
    scatter = charts(tree, "scatter")
    assert list(scatter) == ["logins_per_user"]
    assert [t for t, _ in scatter["logins_per_user"]].count("circle") == 12
    assert "95% CI −0.95 to −0.45" in text
    assert "leading by 1 month" in text
    assert "n = 12" in text  # no stats row for the lag: the pairs drawn
    # Neutral colours: no green or red anywhere in the page.
    assert not re.search(r"\b(green|red)\b|#0f0|#f00", html, re.I)
    assert page(report, tree_result()) == html


def test_open_benchmark_band_reaches_the_top() -> None:
    # NRR ≥ 100%: no high, the band runs from 100% to the top of the plot (y = 10, the plot's top).
    row = make_row("nrr", "NRR", unit="ratio", values=[0.98, 1.02, 1.04], benchmark=benchmark(1.04, 1.0, None))
    tree = parse(page(make_report(row)))
    rect = next(a for t, a in charts(tree)["nrr"] if t == "rect")
    assert float(rect["y"]) == pytest.approx(10.0)
    # 100% sits at (1.04 − 1.00) / (1.04 − 0.98) = 2/3 of the plot height (78) below the top.
    assert float(rect["height"]) == pytest.approx(78.0 * 2 / 3, abs=0.11)
    tips = [text for parent, _, text in tree.titles if parent == "rect"]
    assert tips[0].startswith("benchmark ≥ 100.0%")


def test_point_benchmark_draws_a_reference_line() -> None:
    b = Benchmark("nps", "point", None, None, 41.0, "B2B SaaS", "2024", "survey of 500", "seed", 45.0, "above",
                  "above 41 · seed")
    row = make_row("nps", "NPS", "satisfaction", "score", [30.0, 40.0, 45.0], benchmark=b)
    elements = charts(parse(page(make_report(row))))["nps"]
    lines = [a for t, a in elements if t == "line" and a.get("class") == "reference"]
    assert len(lines) == 1
    # 41 in a 30..45 range: (45 − 41) / 15 of 78 below the top at 10.
    assert float(lines[0]["y1"]) == pytest.approx(10 + 78 * 4 / 15, abs=0.06)


@pytest.mark.parametrize("values", [[], [5.0], [None, None]])
def test_short_histories_still_give_one_chart(values: list[float | None]) -> None:
    row = make_row(values=values or [None], unit="count")
    row = replace(row, history=row.history if values else ())
    tree = parse(page(make_report(row)))
    elements = charts(tree)["mrr"]
    assert [t for t, _ in elements].count("polyline") == 0
    assert [t for t, _ in elements].count("circle") == (1 if values == [5.0] else 0)


def test_year_grain_shows_one_change() -> None:
    row = make_row(values=[100.0, 150.0], change=0.5, year_ago=100.0, yoy_change=0.5)
    text = "".join(parse(page(make_report(row, grain="year"))).text)
    assert text.count("+50.0%") == 1
    assert "vs previous year" in text


def test_styles_for_dark_mode_and_print() -> None:
    html = page(make_report(make_row()))
    style = html[html.index("<style>"):html.index("</style>")]
    assert "@media (prefers-color-scheme:dark)" in style
    printing = style[style.index("@media print"):]
    assert "box-shadow:none" in printing
    assert "break-inside:avoid" in printing
    assert "--text:#000" in printing
    assert "--card:#fff" in printing


def test_zero_line_only_when_the_series_crosses_zero() -> None:
    crossing = make_row("net_mrr_churn_rate", "Net MRR churn", unit="ratio", values=[-0.03, 0.01])
    positive = make_row("customer_churn_rate", "Churn", unit="ratio", values=[0.01, 0.03])
    found = charts(parse(page(make_report(crossing, positive))))
    zero = [a for t, a in found["net_mrr_churn_rate"] if t == "line" and a.get("class") == "zero"]
    assert len(zero) == 1
    # 0 in −3%..1%: 1/4 of the plot height (78) below its top at 10.
    assert float(zero[0]["y1"]) == pytest.approx(10 + 78 / 4, abs=0.06)
    assert not [a for t, a in found["customer_churn_rate"] if a.get("class") == "zero"]
