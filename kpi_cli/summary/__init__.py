"""``kpi report``: one screen (and one HTML page) for a period, built from one compute run."""
