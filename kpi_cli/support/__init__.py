"""The support family: tickets → per-period ticket metrics (SPEC §3.4, ticket half)."""
