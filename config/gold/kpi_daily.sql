-- gold_kpi_daily, partition d: one row per customer segment for day d, built from the gold
-- facts of d. A customer silver_customer does not know counts under segment 'unknown'.
--   card_spend_myr     the sum of the day's card transactions in MYR
--   card_transactions  how many card transactions
--   active_customers   distinct customers with a card transaction or an order (any status)
--                      on the day
--   orders             orders placed on the day and not deleted, cancelled ones included
--   order_revenue_myr  the MYR amount of those orders that are not cancelled
WITH activity AS (
  SELECT spend_date AS kpi_date, coalesce(segment, 'unknown') AS segment, customer_id
  FROM gold_fact_card_spend
  UNION
  SELECT order_date AS kpi_date, coalesce(segment, 'unknown') AS segment, customer_id
  FROM gold_fact_orders
),
active AS (
  SELECT kpi_date, segment, count(DISTINCT customer_id) AS active_customers
  FROM activity
  GROUP BY kpi_date, segment
),
spend AS (
  SELECT
    spend_date AS kpi_date,
    coalesce(segment, 'unknown') AS segment,
    sum(amount_myr) AS card_spend_myr,
    count(transaction_id) AS card_transactions
  FROM gold_fact_card_spend
  GROUP BY spend_date, coalesce(segment, 'unknown')
),
revenue AS (
  SELECT
    order_date AS kpi_date,
    coalesce(segment, 'unknown') AS segment,
    count(order_id) AS orders,
    sum(CASE WHEN status <> 'cancelled' THEN amount_myr ELSE 0 END) AS order_revenue_myr
  FROM gold_fact_orders
  GROUP BY order_date, coalesce(segment, 'unknown')
)
SELECT
  a.kpi_date,
  a.segment,
  coalesce(s.card_spend_myr, 0) AS card_spend_myr,
  coalesce(s.card_transactions, 0) AS card_transactions,
  a.active_customers,
  coalesce(r.orders, 0) AS orders,
  coalesce(r.order_revenue_myr, 0) AS order_revenue_myr
FROM active AS a
LEFT JOIN spend AS s ON s.kpi_date = a.kpi_date AND s.segment = a.segment
LEFT JOIN revenue AS r ON r.kpi_date = a.kpi_date AND r.segment = a.segment
