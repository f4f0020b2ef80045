"""The surveys family (SPEC §3.4, survey half): NPS with its margin, CSAT, CES, detractor recovery
and NPS per account, weighted by MRR and its revenue coverage.

``catalogue`` is data only; ``rules`` holds the source's row rules; ``base`` reads the responses
once per run; ``scores`` and ``accounts`` compute the metrics; ``family`` plugs them into the
metric graph.
"""
