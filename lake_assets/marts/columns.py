"""The spend_by_customer mart's columns and their lineage, Dagster- and Spark-free: the asset
records them, access control reads them (lake_assets/access/attributes.py)."""

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
    "customer_id": [
        {"input": "card_transactions.customer_id", "transformation": "IDENTITY", "masking": False}
    ],
    "segment": [{"input": "customers.segment", "transformation": "IDENTITY", "masking": False}],
    "transactions": [
        {
            "input": "card_transactions.transaction_id",
            "transformation": "AGGREGATION",
            "masking": False,
        }
    ],
    "spend": [
        {"input": "card_transactions.amount", "transformation": "AGGREGATION", "masking": False}
    ],
}
