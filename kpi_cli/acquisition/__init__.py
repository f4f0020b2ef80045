"""Acquisition and cost (SPEC §3.2): spend, channels, web sessions and the metrics built on them."""
