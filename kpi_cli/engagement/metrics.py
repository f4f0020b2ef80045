"""Engagement metric values from the per-period table (columns and ratios, as the registry says)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement.groups import named
from kpi_cli.engagement.signups import SPECIALS
from kpi_cli.errors import UsageError
from kpi_cli.registry import METRICS
from kpi_cli.revenue.metrics import ratio

if TYPE_CHECKING:
    from kpi_cli.engagement.base import EngagementBase
    from kpi_cli.engagement.events import Roles


# With --window trailing these metrics read the window ending on each period's last day.
TRAILING = {"wau": "trail_7", "mau": "trail_n", "active_users": "trail_n", "wau_mau": "wau_mau_t",
            "dau_wau": "dau_wau_t"}
PER_FEATURE = {"feature_adoption", "feature_retention"}


def evaluate(base: EngagementBase, metric_id: str, roles: Roles, window: str = "calendar",
             options: dict[str, object] | None = None, since: int | None = None) -> pl.DataFrame:
    """Rows ``idx, value, numerator, denominator`` of one engagement metric (``--by`` dims first);
    table metrics start at period index ``since`` when given (P − 1 for a metric that reads it)."""
    if window not in ("calendar", "trailing"):
        msg = f"--window {window!r} is not one of calendar, trailing"
        raise UsageError(msg)
    m = METRICS[metric_id]
    missing = [r for r in m.roles if not roles.configured((r,))]
    if missing:
        role = missing[0].split("|")[0]
        msg = f"{metric_id} needs [events] {missing[0].replace('|', ' or ')} in the config"
        raise UsageError(msg, hint=f'add to kpi.toml: [events] {role} = ["Report Created", …]')
    if m.special:
        if base.groups and m.special in PER_FEATURE:
            msg = f"{metric_id} is reported per feature: use --by feature alone"
            raise UsageError(msg)
        rows = SPECIALS[m.special](base, roles, metric_id, options or {})
        return named(rows, base.keys, base.groups)
    keys = [*base.keys, "idx"]
    table = base.table.filter(pl.col("idx") >= (base.grid.first if since is None else since)).with_columns(
        pl.when(pl.col("days") > 0).then(pl.col("dau_sum") / pl.col("days")).alias("dau"))
    if "session_seconds" in table.columns:
        table = table.with_columns((pl.col("session_seconds") / 60).alias("session_minutes"),
                                   pl.col("median_session_seconds").alias("median_session_duration"))
    trailing = window == "trailing"
    if trailing and metric_id == "dau_mau":  # mean over P's days of DAU(d) / MAU_n(d)
        rows = _value(table, "dau_mau_t", keys)
    elif m.ratio:
        rows = table.select(*keys, *ratio(pl.col(m.ratio[0]), pl.col(m.ratio[1])))
    elif not trailing and metric_id in table.columns:  # wau/mau off their own grain (engagement/windows.py)
        rows = _value(table, metric_id, keys)
    else:
        assert m.value is not None
        rows = _value(table, TRAILING.get(metric_id, m.value) if trailing else m.value, keys)
    return named(rows, base.keys, base.groups)


def _value(table: pl.DataFrame, column: str, keys: list[str]) -> pl.DataFrame:
    """A plain value column (no numerator or denominator)."""
    return table.select(*keys, pl.col(column).cast(pl.Float64).alias("value"),
                        pl.lit(None, dtype=pl.Float64).alias("numerator"),
                        pl.lit(None, dtype=pl.Float64).alias("denominator"))
