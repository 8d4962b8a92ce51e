-- gold_fact_orders, partition d: the current state of every order placed on day d
-- (silver_orders[d], whose partitions are order dates), one row per order_id, deleted orders
-- left out (silver keeps their tombstones), in MYR at the order date's rate
-- (silver_fx_rates[d]), joined to the customer's surrogate key and segment as of d.
-- An order in a currency without a rate for its day fails the build, naming both.
WITH priced AS (
  SELECT
    o.order_id,
    o.order_date,
    o.customer_id,
    o.status,
    o.amount,
    o.currency,
    CASE
      WHEN o.currency = 'MYR' THEN CAST(1 AS DOUBLE)
      WHEN fx.rate IS NOT NULL THEN fx.rate
      ELSE CAST(raise_error(concat('no FX rate for ', o.currency, ' on ',
                                   CAST(o.order_date AS STRING))) AS DOUBLE)
    END AS fx_rate,
    o.seq,
    o.changed_at
  FROM silver_orders AS o
  LEFT JOIN silver_fx_rates AS fx
    ON fx.base_currency = o.currency AND fx.rate_date = o.order_date
  WHERE NOT o.deleted
)
SELECT
  p.order_id,
  p.order_date,
  c.customer_sk,
  p.customer_id,
  c.segment,
  p.status,
  p.amount,
  p.currency,
  p.fx_rate,
  p.amount * p.fx_rate AS amount_myr,
  p.seq AS last_change_seq,
  p.changed_at AS last_changed_at
FROM priced AS p
LEFT JOIN silver_customer AS c ON c.customer_id = p.customer_id
