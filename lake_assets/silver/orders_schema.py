"""The `silver_orders` table's name and columns: what the job and the declaration share,
importable without PySpark or Dagster."""

ORDERS_DATASET = "silver_orders"
# The state's columns and field types (tables/types.py), as the catalog records them.
ORDER_COLUMNS = {
    "order_id": "string",
    "customer_id": "string",
    "status": "string",
    "amount": "double",
    "currency": "string",
    "order_date": "date",
    "seq": "integer",
    "changed_at": "timestamp",
    "deleted": "boolean",
}
