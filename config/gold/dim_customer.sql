-- gold_dim_customer, partition d: the conformed customers as silver_customer[d] holds them,
-- one row per customer_sk. The current view only: what was true when, and what the lake
-- believed when, is the bi-temporal history history/customers (valid_from/valid_to,
-- recorded_at/superseded_at), which gold links to and does not rebuild.
SELECT
  customer_sk,
  customer_id,
  full_name,
  email,
  phone,
  segment,
  date_of_birth,
  risk_score,
  city,
  country,
  lifecycle_stage,
  as_of_date
FROM silver_customer
