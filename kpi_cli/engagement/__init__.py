"""Engagement metrics from product events (SPEC §3.3)."""
