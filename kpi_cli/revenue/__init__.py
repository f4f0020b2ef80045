"""Revenue metrics (SPEC §3.1): item values, snapshots and the MRR roll-forward."""
