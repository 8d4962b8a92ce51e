"""The gold tables, declared once: what each is built from, its grain, its SQL and its schema.

Every gold table is one SQL file in config/gold/ run over temp views named after its inputs
(each input's partition d), so a reviewer reads a table's definition there and nowhere else.
The columns below are the schema the catalog records, the job checks the SQL's output against
(build.py) and the output contract enforces (derived.py); lineage.py derives each column's
lineage from the same SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lake_assets.access.safe import MIN_GROUP_FLOOR
from lake_assets.layers.model import LayerInput
from lake_assets.settings import REPO_ROOT

GOLD_SQL_DIR = REPO_ROOT / "config" / "gold"


@dataclass(frozen=True)
class GoldColumn:
    type: str  # a field type of the lake's lattice (tables/types.py)
    nullable: bool = True


@dataclass(frozen=True)
class MinGroup:
    """Every output row aggregates at least `size` individuals, counted by the output column
    `column` (e.g. count(DISTINCT customer_id)): a blocking rule of the output contract holds a
    partition with a smaller group, and the table's count, sum and avg columns are then a safe
    transformation of their inputs (lake_assets/access/safe.py)."""

    column: str
    size: int


@dataclass(frozen=True)
class GoldTable:
    name: str  # the asset is gold/<name>, the catalog dataset gold_<name>
    inputs: tuple[LayerInput, ...]  # each read at partition d, as a view named by its dataset
    grain: tuple[str, ...]  # the columns that identify a row
    columns: dict[str, GoldColumn]
    description: str
    min_group: MinGroup | None = None
    sql_dir: Path = GOLD_SQL_DIR
    # Columns a LEFT JOIN fills from a reference (the customer's surrogate key from
    # silver_customer): null where the reference lacks the key, an orphan the row keeps. Each
    # gets a warn rule `<column>_found` of the output contract, so every build counts them.
    joined_keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for key in self.joined_keys:
            if key not in self.columns or not self.columns[key].nullable:
                raise ValueError(
                    f"{self.dataset}: joined key {key!r} must be a declared nullable column "
                    "(null is how an orphan of the join shows)"
                )
        if self.min_group and self.min_group.size < MIN_GROUP_FLOOR:
            raise ValueError(
                f"{self.dataset}: a minimum group of {self.min_group.size} is below the floor "
                f"of {MIN_GROUP_FLOOR} (lake_assets/access/safe.py)"
            )

    @property
    def dataset(self) -> str:
        return f"gold_{self.name}"

    def sql(self) -> str:
        return (self.sql_dir / f"{self.name}.sql").read_text(encoding="utf-8")


SILVER_CUSTOMER = LayerInput("silver_customer", ("silver", "customer"))
SILVER_FX_RATES = LayerInput("silver_fx_rates", ("silver", "fx_rates"))
SILVER_ORDERS = LayerInput("silver_orders", ("silver", "orders"))
CARD_TRANSACTIONS = LayerInput("card_transactions", ("curated", "card_transactions"))
FACT_CARD_SPEND_INPUT = LayerInput("gold_fact_card_spend", ("gold", "fact_card_spend"))
FACT_ORDERS_INPUT = LayerInput("gold_fact_orders", ("gold", "fact_orders"))


def _columns(**declared: str) -> dict[str, GoldColumn]:
    """`name="type"` nullable, `name="type!"` not null."""
    return {
        name: GoldColumn(kind.rstrip("!"), nullable=not kind.endswith("!"))
        for name, kind in declared.items()
    }


DIM_CUSTOMER = GoldTable(
    name="dim_customer",
    inputs=(SILVER_CUSTOMER,),
    grain=("customer_sk",),
    columns=_columns(
        customer_sk="string!",
        customer_id="string!",
        full_name="string",
        email="string",
        phone="string",
        segment="string",
        date_of_birth="date",
        risk_score="integer",
        city="string",
        country="string",
        lifecycle_stage="string",
        as_of_date="date!",
    ),
    description="The conformed customers as of day d (current view). Their bi-temporal history "
    "(valid_from/valid_to, recorded_at/superseded_at) is history/customers; gold does not "
    "rebuild it.",
)
FACT_CARD_SPEND = GoldTable(
    name="fact_card_spend",
    inputs=(CARD_TRANSACTIONS, SILVER_FX_RATES, SILVER_CUSTOMER),
    grain=("transaction_id",),
    columns=_columns(
        transaction_id="string!",
        transaction_date="timestamp!",
        spend_date="date!",
        customer_sk="string",
        customer_id="string!",
        segment="string",
        merchant_name="string",
        merchant_category="string",
        merchant_country="string",
        card_present="boolean",
        amount="double!",
        currency="string!",
        fx_rate="double!",
        fx_rate_carried_forward="boolean!",
        amount_myr="double!",
    ),
    description="Each card transaction of day d in MYR at day d's rate, with the customer's "
    "surrogate key and segment.",
    joined_keys=("customer_sk",),
)
FACT_ORDERS = GoldTable(
    name="fact_orders",
    inputs=(SILVER_ORDERS, SILVER_FX_RATES, SILVER_CUSTOMER),
    grain=("order_id",),
    columns=_columns(
        order_id="string!",
        order_date="date!",
        customer_sk="string",
        customer_id="string",
        segment="string",
        status="string",
        amount="double",
        currency="string",
        fx_rate="double!",
        amount_myr="double",
        last_change_seq="integer!",
        last_changed_at="timestamp!",
    ),
    description="The current, non-deleted orders placed on day d, in MYR at day d's rate.",
    joined_keys=("customer_sk",),
)
KPI_DAILY = GoldTable(
    name="kpi_daily",
    inputs=(FACT_CARD_SPEND_INPUT, FACT_ORDERS_INPUT),
    grain=("kpi_date", "segment"),
    columns=_columns(
        kpi_date="date!",
        segment="string!",
        card_spend_myr="double!",
        card_transactions="integer!",
        active_customers="integer!",
        orders="integer!",
        order_revenue_myr="double!",
    ),
    description="Card spend by segment, active customers and order revenue of day d "
    "(definitions in config/gold/kpi_daily.sql).",
)
GOLD_TABLES = {t.name: t for t in (DIM_CUSTOMER, FACT_CARD_SPEND, FACT_ORDERS, KPI_DAILY)}
