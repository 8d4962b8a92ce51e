"""The demo's SLOs: after everything else ran, the `slo` job evaluates every SLO of config/slo/
on what the demo's runs left in the lake's records, as its schedule would every five minutes:
the SLO tables, the alerts, each dataset's `slo` check and the dashboard. The demo's staged
problems burn budgets for real: the breaking schema change refused card_transactions' first
promotions (failed runs), its unreadable amounts (a warning every day: a slow burn), the
treasury band failure in silver_fx_rates (a blocking check), late partitions; the rest stays
healthy.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lake_assets.cli.runs import materialize_partitions
from lake_assets.slo.assets import EVALUATION
from lake_assets.slo.model import STATUS_DATASET
from lake_assets.slo.site import DASHBOARD_KEY
from lake_assets.tables.reader import read_version_arrow


def play_slo(settings, resources, instance) -> int:
    """Evaluate the SLOs once; print each one's state and where the dashboard is."""
    day = datetime.now(UTC).date().isoformat()
    print("\nSLOs: every error budget evaluated on the demo's own records")
    result = materialize_partitions(
        settings, [EVALUATION], day, resources=resources, instance=instance, whole_job=True
    )
    if not result.success:
        print("  the SLO evaluation failed: see the run in the webserver")
        return 1
    published = resources["catalog"].current(STATUS_DATASET, day)
    rows = read_version_arrow(resources["storage"], published).to_pylist()
    width = max(len(row["slo_id"]) for row in rows)
    for row in sorted(rows, key=lambda r: r["slo_id"]):
        print(
            f"  {row['slo_id']:<{width}}  {row['tier']:<11} {row['status']:<9} "
            f"budget left {row['budget_remaining']:7.1%}"
        )
    print(f"  dashboard: {resources['storage'].uri(DASHBOARD_KEY)}")
    return 0
