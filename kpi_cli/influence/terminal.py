"""``kpi tree`` as tables a person reads: the exact decomposition, then one row per influencer.

Colours stay neutral: a correlation is neither good nor bad news.
"""

from __future__ import annotations

from kpi_cli.influence.model import TreeResult
from kpi_cli.registry import METRICS
from kpi_cli.render import Column, Grid, period_label
from kpi_cli.summary.fmt import fmt_change, fmt_level, sparkline
from kpi_cli.summary.terminal import SPARK  # the same 12 periods as the report's sparklines


def decomposition_grid(result: TreeResult, currency: str, grain: str = "month") -> tuple[Grid, str] | None:
    """The terms the KPI's latest change splits into, and the headline of that change."""
    d = result.decomposition
    if d is None:
        return None
    unit = METRICS[d.kpi].unit
    total = sum(t.contribution for t in d.terms)

    def shown(v: float | None) -> str:
        return fmt_level(v, unit, currency)

    title = (f"{METRICS[d.kpi].label} {period_label(d.period, grain)}: {shown(d.previous)} → {shown(d.value)} "
             f"({fmt_change(total, d.change_unit, 2)})")
    columns = [Column("term", [t.label for t in d.terms] + ["total"], wrap=True, right=False),
               Column("contribution", [fmt_change(t.contribution, d.change_unit, 2) for t in d.terms]
                      + [fmt_change(total, d.change_unit, 2)])]
    return Grid(columns, 1, caption=f"exact: {d.formula}"), title


def influencer_grid(result: TreeResult) -> Grid:
    """One row per influencer: its latest change, its changes as a sparkline, the best lag's ρ, n, the
    |ρ| needed, and the verdict with its evidence."""
    names = list(result.verdicts)
    last_change, trend = [], []
    for infl in names:
        mine = [c for c in result.changes if c.metric == infl]
        done = [c for c in mine if c.complete]
        last_change.append(fmt_change(done[-1].change, done[-1].change_unit) if done else "—")
        trend.append(sparkline([c.change for c in mine][-SPARK:]) if mine else "")
    verdicts = [result.verdicts[i][0] or "—" for i in names]
    details = [result.verdicts[i][1] for i in names]
    columns = [Column("influencer", [METRICS[i].label if i in METRICS else i for i in names], wrap=True,
                      right=False)]
    if result.level == "period":
        columns += [Column("last Δ", last_change), Column(f"last {SPARK} Δ", trend, right=False)]
    columns += [Column("verdict", verdicts, wrap=True, right=False),
                Column("evidence", details, wrap=True, right=False)]
    title = f"What moved with {METRICS[result.kpi].label if result.kpi in METRICS else result.kpi}"
    if result.level == "period":
        method = result.stats[0].method if result.stats else "spearman"
        how = (f"{method.capitalize()} ρ of period changes, lags 0–3 (influencer leading), "
               f"{result.periods} complete periods; r_needed: Bonferroni over {len(names)} × 4 tests.")
    elif result.stats and result.stats[0].method == "auc":
        how = ("Accounts paying at the start of each period; predictor from the period before; AUC with "
               "DeLong's interval.")
    else:
        how = ("Respondents' scores against their account's influencer over the 90 days before the response; "
               "Spearman ρ with its Fisher interval.")
    return Grid(columns, 1, title=title, caption=f"{how} {result.footer}")


def grids(result: TreeResult, currency: str, grain: str = "month") -> list[Grid | str]:
    """Every table ``kpi tree`` prints, in order (a string is a headline line)."""
    out: list[Grid | str] = []
    found = decomposition_grid(result, currency, grain)
    if found is not None:
        out += [found[1], found[0]]
    out.append(influencer_grid(result))
    return out


def change_cells(result: TreeResult, currency: str) -> list[tuple[str, object, str, str, bool]]:
    """The change table's rows as text: each value in its metric's unit, each change in its change unit
    (``+2.0 pp``, not ``0.02``)."""
    return [(c.metric, c.period, fmt_level(c.value, METRICS[c.metric].unit, currency),
             fmt_change(c.change, c.change_unit), c.complete) for c in result.changes]
