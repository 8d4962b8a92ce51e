-- gold_fact_card_spend, partition d: every card transaction of day d (card_transactions[d]),
-- one row per transaction_id, in MYR at day d's rate (silver_fx_rates[d]: 1 base = rate MYR;
-- MYR itself is rate 1 and has no row), joined to the customer's surrogate key and segment as
-- of d (silver_customer[d]; null for a customer silver does not know, the row is kept).
-- A transaction in a currency without a rate for its day fails the build, naming both.
WITH priced AS (
  SELECT
    t.transaction_id,
    t.transaction_date,
    t.event_date,
    t.customer_id,
    t.merchant__name,
    t.merchant__category,
    t.merchant__country,
    t.card_present,
    t.amount,
    t.currency,
    CASE
      WHEN t.currency = 'MYR' THEN CAST(1 AS DOUBLE)
      WHEN fx.rate IS NOT NULL THEN fx.rate
      ELSE CAST(raise_error(concat('no FX rate for ', t.currency, ' on ',
                                   CAST(t.event_date AS STRING))) AS DOUBLE)
    END AS fx_rate,
    coalesce(fx.carried_forward, FALSE) AS fx_rate_carried_forward
  FROM card_transactions AS t
  LEFT JOIN silver_fx_rates AS fx
    ON fx.base_currency = t.currency AND fx.rate_date = t.event_date
)
SELECT
  p.transaction_id,
  p.transaction_date,
  p.event_date AS spend_date,
  c.customer_sk,
  p.customer_id,
  c.segment,
  p.merchant__name AS merchant_name,
  p.merchant__category AS merchant_category,
  p.merchant__country AS merchant_country,
  p.card_present,
  p.amount,
  p.currency,
  p.fx_rate,
  p.fx_rate_carried_forward,
  p.amount * p.fx_rate AS amount_myr
FROM priced AS p
LEFT JOIN silver_customer AS c ON c.customer_id = p.customer_id
