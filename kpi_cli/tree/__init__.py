"""``kpi tree``: a result KPI read against its influencer metrics (SPEC §3.5)."""
