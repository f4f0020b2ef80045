-- Independent reference for the SPEC §3.1 MRR movements, written from the spec alone.
-- Dense approach: one row per customer x month-end snapshot, then window functions.
--
-- Parameters (DuckDB prepared-statement style):
--   $path        subscriptions Parquet file (or glob)
--   $from_month  first reported month, DATE (first day of the month)
--   $to_month    last reported month,  DATE (first day of the month)
-- The session must run with `SET TimeZone = 'UTC'` (months are UTC calendar months).
--
-- Snapshot of month M = state at its last instant: with E = first instant of the next month,
-- a row counts iff start_at < E AND (end_at IS NULL OR end_at >= E)   (end_at is exclusive).
-- Output: long rows (metric, period, value), period = first day of the month.

WITH items AS (
    SELECT
        CAST(customer_id AS VARCHAR) AS customer_id,
        CAST(start_at AS TIMESTAMP) AS start_at,
        coalesce(CAST(end_at AS TIMESTAMP), TIMESTAMP 'infinity') AS end_at,
        CASE
            WHEN lower(trim(coalesce(status, ''))) IN ('trialing', 'paused', 'unpaid', 'incomplete') THEN 0.0
            ELSE amount * coalesce(quantity, 1)
                 * CASE lower(coalesce(nullif(trim(interval), ''), 'month'))
                       WHEN 'month' THEN 1.0
                       WHEN 'year' THEN 1.0 / 12
                       WHEN 'quarter' THEN 1.0 / 3
                       WHEN 'week' THEN 52.0 / 12
                       WHEN 'day' THEN 365.0 / 12
                   END
                 / coalesce(interval_count, 1)
        END AS monthly_value
    FROM read_parquet($path)
),
bounds AS (
    SELECT least(date_trunc('month', min(start_at)), CAST($from_month AS DATE)) AS first_month FROM items
),
-- every month from the one before the data starts (nobody pays there) through $to_month:
-- earlier snapshots are needed to tell new from reactivated customers.
months AS (
    SELECT
        CAST(m AS DATE) AS period,
        m + INTERVAL 1 MONTH AS snap_end
    FROM (
        SELECT unnest(generate_series(
            CAST(first_month AS TIMESTAMP) - INTERVAL 1 MONTH,
            CAST(CAST($to_month AS DATE) AS TIMESTAMP),
            INTERVAL 1 MONTH
        )) AS m
        FROM bounds
    )
),
customers AS (
    SELECT DISTINCT customer_id FROM items
),
sparse AS (
    SELECT i.customer_id, m.period, sum(i.monthly_value) AS mrr
    FROM items AS i
    JOIN months AS m ON i.start_at < m.snap_end AND i.end_at >= m.snap_end
    GROUP BY i.customer_id, m.period
),
grid AS (
    SELECT c.customer_id, m.period, coalesce(s.mrr, 0.0) AS b
    FROM customers AS c
    CROSS JOIN months AS m
    LEFT JOIN sparse AS s ON s.customer_id = c.customer_id AND s.period = m.period
),
flows AS (
    SELECT
        customer_id,
        period,
        b,
        coalesce(lag(b) OVER (PARTITION BY customer_id ORDER BY period), 0.0) AS a,
        coalesce(max(CASE WHEN round(b, 6) > 0 THEN 1 ELSE 0 END) OVER (
            PARTITION BY customer_id ORDER BY period ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ), 0) AS paid_before
    FROM grid
),
per_month AS (
    SELECT
        period,
        sum(b) AS mrr,
        sum(CASE WHEN round(a, 6) = 0 AND round(b, 6) > 0 AND paid_before = 0 THEN b ELSE 0 END) AS new_mrr,
        sum(CASE WHEN round(a, 6) > 0 AND round(b - a, 6) > 0 THEN b - a ELSE 0 END) AS expansion_mrr,
        sum(CASE WHEN round(a, 6) > 0 AND round(b, 6) > 0 AND round(a - b, 6) > 0 THEN a - b ELSE 0 END)
            AS contraction_mrr,
        sum(CASE WHEN round(a, 6) > 0 AND round(b, 6) = 0 THEN a ELSE 0 END) AS churned_mrr,
        sum(CASE WHEN round(a, 6) = 0 AND round(b, 6) > 0 AND paid_before = 1 THEN b ELSE 0 END)
            AS reactivation_mrr,
        sum(a) AS start_mrr
    FROM flows
    WHERE period BETWEEN CAST($from_month AS DATE) AND CAST($to_month AS DATE)
    GROUP BY period
)
SELECT metric, period, value
FROM per_month
UNPIVOT (
    value FOR metric IN (
        mrr, new_mrr, expansion_mrr, contraction_mrr, churned_mrr, reactivation_mrr, start_mrr
    )
)
ORDER BY metric, period
