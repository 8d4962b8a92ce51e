"""The spend_by_customer mart's columns and their lineage, Dagster- and Spark-free: the asset
records them, access control reads them (lake_assets/access/attributes.py)."""

from lake_assets.lineage.model import derived_from

MART_DATASET = "spend_by_customer"
SPEND_COLUMNS = {
    "customer_id": "string",
    "segment": "string",
    "transactions": "integer",
    "spend": "double",
}

# How each column derives from its inputs: recorded with every run, and access control's
# restrictions follow it (lake_assets/access/attributes.py).
SPEND_COLUMN_LINEAGE = {
    "customer_id": derived_from("card_transactions.customer_id"),
    "segment": derived_from("customers.segment"),
    "transactions": derived_from("card_transactions.transaction_id", transformation="AGGREGATION"),
    "spend": derived_from("card_transactions.amount", transformation="AGGREGATION"),
}
