"""``kpi tree``: a result KPI read against its influencer metrics (SPEC §3.5)."""

from kpi_cli.influence.mechanical import mechanical, shared_base

__all__ = ["mechanical", "shared_base"]
