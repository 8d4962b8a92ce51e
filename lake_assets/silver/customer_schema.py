"""The columns of `silver_crm_contacts` and `silver_customer`: what the jobs (customer.py) and
the declarations (customer_table.py) share, importable without PySpark or Dagster."""

# silver_crm_contacts: a contact's latest version; _ingested_at breaks ties of updated_at.
STATE_COLUMNS = {
    "contact_id": "string",
    "customer_ref": "string",
    "name__first": "string",
    "name__last": "string",
    "emails": "json",
    "phone": "string",
    "address__city": "string",
    "address__postcode": "string",
    "address__country": "string",
    "lifecycle_stage": "string",
    "merged_into": "string",
    "updated_at": "timestamp",
    "_ingested_at": "timestamp",
}
# Each system's value of an attribute (conformance.CARRIED_BY says which system has which).
MASTER_COLUMNS = {
    "customer_id": "string",
    "full_name": "string",
    "email": "string",
    "phone": "string",
    "segment": "string",
    "date_of_birth": "date",
    "risk_score": "integer",
    "national_id": "string",
}
CUSTOMER_COLUMNS = {
    "customer_sk": "string",
    **MASTER_COLUMNS,
    "city": "string",
    "country": "string",
    "lifecycle_stage": "string",
    "crm_contact_ids": "json",
    "as_of_date": "date",
}
