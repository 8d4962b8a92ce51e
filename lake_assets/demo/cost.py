"""The demo's bill: what the demo's own runs consumed, billed as AWS would bill them, and the
ledger that attributes it.

The demo's Spark jobs ran locally, so no AWS bill exists for them. The demo makes the one AWS
would send had they run on an EMR Serverless application (cost/own_bill.py: their vCPU- and
GB-hours at list price, the application's idle capacity, storage, requests), delivers it as a
CUR 2.0 export into the lake's export prefix as Data Exports would, and runs the month through
the `cost` job: the CUR source, then the ledger, with the tagging check. The drivers are built
first, in a run of their own, because the bill is made from them.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lake_assets.cli.runs import materialize_partitions, report_run
from lake_assets.cost.cli import print_report
from lake_assets.cost.cur_assets import CUR_ASSET
from lake_assets.cost.cur_delivery import delivery_objects
from lake_assets.cost.drivers_assets import COST_DRIVERS
from lake_assets.cost.ledger_assets import LEDGER_ASSET
from lake_assets.cost.model import DRIVERS_DATASET
from lake_assets.cost.own_bill import bill_for_drivers
from lake_assets.tables.locations import CUR_EXPORT_PREFIX
from lake_assets.tables.reader import read_version_arrow

# The demo's runs take seconds on kilobytes: at list price their bill is a fraction of a cent,
# and one idle pre-initialised worker would dwarf them. The demo's application keeps a hundredth
# of one warm, and the bill is priced at this many times list price so its cents say something;
# the shares are the same at any price.
PRICE_FACTOR = 10_000
IDLE_PER_HOUR = (0.01, 0.04)  # vCPU, GB


def play_cost(settings, resources, instance) -> int:
    """The current month's drivers, its bill delivered, its CUR and ledger; a report printed."""
    month = datetime.now(UTC).strftime("%Y-%m")
    print(f"\ncost attribution of {month}: the drivers the demo's runs recorded")
    if report_run(
        materialize_partitions(
            settings, [COST_DRIVERS], month, resources=resources, instance=instance
        )
    ):
        return 1
    drivers = read_version_arrow(
        resources["storage"], resources["catalog"].current(DRIVERS_DATASET, month)
    )
    bill = bill_for_drivers(month, drivers, idle_per_hour=IDLE_PER_HOUR, price_factor=PRICE_FACTOR)
    now = datetime.now(UTC)
    delivered_at = now.isoformat(timespec="seconds")
    for key, body in delivery_objects(
        bill, month, f"demo-{now:%Y%m%dT%H%M%S}", delivered_at
    ).items():
        resources["storage"].put_bytes(CUR_EXPORT_PREFIX + key, body)
    print(
        f"  billed as AWS would, at {PRICE_FACTOR:,}x list price: {bill.num_rows} CUR line "
        f"items delivered to {CUR_EXPORT_PREFIX}"
    )
    if report_run(
        materialize_partitions(
            settings, [CUR_ASSET, LEDGER_ASSET], month, resources=resources, instance=instance
        )
    ):
        return 1
    print_report(resources, month, "team")
    return 0
