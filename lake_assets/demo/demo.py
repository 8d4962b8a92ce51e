"""`lake demo`: six days of a small bank's deliveries through the real pipeline.

The sources pushed to the lake deliver each day: card transactions and customer snapshots
(demo_data), the orders change stream and, on business days, vendor FX rates (medallion_data).

Each day lands its payloads, profiles them (the registry asset, as the sensor would trigger)
and promotes the day plus the day before (a one-day lookback, so late records are picked up).
The CRM's contacts are pulled, not delivered: each day changes the demo's CRM database
(crm.sqlite beside the lake) and pulls `crm_contacts` from it (lake_assets/pull/); the file the
pull lands is profiled and promoted with the day's deliveries. On the day the card processor
renames `transaction_date`, the registry flags the version as BREAKING and promotion refuses; the demo then approves the proposed rename, as an operator
would with `lake registry approve`, and backfills the blocked days in one run. The customer
snapshots then build the bi-temporal history in one run, and a re-sent past snapshot shows a
correction: what was true that day, as known before and after it. Then the mart is built for
each day, so the demo leaves nothing for the sensors to do. Then the month's bill for the runs
above is delivered and attributed (demo/cost.py), and last every SLO is evaluated on what the
demo left in the lake's records, publishing the dashboard (demo/slo.py).

The demo plays the days ending yesterday, whatever day it is played, and records in its lake that
the lake's data starts on its first day (settings.record_partitions_start): the webserver's views
of recent partitions show the demo's days, and no empty partitions precede them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from lake_assets.classification.assets import classification_key_of
from lake_assets.cli.runs import dagster_instance, materialize_partitions, report_run
from lake_assets.contracts.model import lake_contracts, load_contracts
from lake_assets.demo.cost import play_cost
from lake_assets.demo.crm_database import pull_crm_day
from lake_assets.demo.demo_data import customers_snapshot, generate, write_csv
from lake_assets.demo.layers import play_layers
from lake_assets.demo.medallion_data import demo_start, generate_medallion
from lake_assets.demo.slo import play_slo
from lake_assets.events.sensors import default_target_selection
from lake_assets.graph import referential_rechecks
from lake_assets.history.apply import history_as_of
from lake_assets.history.assets import history_key_of
from lake_assets.history.cli import applied_summaries
from lake_assets.ingestion.asset_keys import curated_key_of, dataset_of, registry_key_of
from lake_assets.ingestion.checks import record_schema_verdict
from lake_assets.ingestion.cli import lake_summary, reconcile_sources
from lake_assets.ingestion.intake import land_payload
from lake_assets.ingestion.schema_registry import (
    approval_command,
    approve,
    describe_diff,
    proposed_resolution,
)
from lake_assets.marts.assets import SPEND_BY_CUSTOMER
from lake_assets.settings import Settings, record_partitions_start
from lake_assets.slo.site import DASHBOARD_KEY
from resources import build_resources


def promotion_order(settings: Settings) -> list[str]:
    """Sources whose curated data others reference (dimensions) before those referencing them."""
    contracts = load_contracts(
        settings.contracts_dir, pipelines_dir=settings.pipeline_contracts_dir
    )
    referenced = {
        rule.check.references.dataset
        for contract in contracts.values()
        for rule in contract.rules_of("referential_integrity")
    }
    return sorted(settings.sources, key=lambda sid: (sid not in referenced, sid))


def _apply_history(settings, resources, instance, first: str, last: str) -> int:
    applied = materialize_partitions(
        settings, [history_key_of("customers")], first, last, resources=resources, instance=instance
    )
    for summary in applied_summaries(applied):
        print(f"  {summary}")
    return report_run(applied)


def _correct_a_snapshot(
    settings, resources, instance, start: date, last: date, day_index: int
) -> int:
    """The customer master re-sends a past day with one customer's segment fixed: the re-sent
    file replaces the first in curated, and the history amends that version only."""
    storage = resources["storage"]
    day = start + timedelta(days=day_index)
    customer, fixed = "C00002", {"segment": "private"}
    believed_before = datetime.now(UTC)
    # Within the lookback (no fold-in needed), and no later than the demo's last day: a later
    # ingest date may be a day the calendar does not have yet.
    landed_on = min(day + timedelta(days=3), last).isoformat()
    print(f"\n--- {landed_on}: the customer master re-sends {day} with {customer} {fixed}")
    path = settings.lake_root / "_incoming" / landed_on / f"customers_{day:%Y%m%d}_corrected.csv"
    path.parent.mkdir(parents=True, exist_ok=True)  # a day the demo did not generate
    write_csv(path, customers_snapshot(day, day_index, amended={customer: fixed}))
    land_payload(storage, settings.source("customers"), path, landed_on)
    # The re-sent day is profiled and promoted; then what the dependency sensor's referential
    # rechecks on customers target (ADR-0132) is promoted again for that day, checked against
    # the corrected snapshot: `make dev` finds them done.
    rechecked = [
        key
        for rule in referential_rechecks(lake_contracts(settings), settings)
        if rule.inputs == ("customers",)
        for key in default_target_selection(rule)
        if resources["registry"].versions(dataset_of(key))  # nothing delivered: nothing to check
    ]
    for key, partition in (
        (registry_key_of("customers"), landed_on),
        (curated_key_of("customers"), day.isoformat()),
        *((key, day.isoformat()) for key in rechecked),
    ):
        run = materialize_partitions(
            settings, [key], partition, resources=resources, instance=instance
        )
        if report_run(run):
            return 1
    if _apply_history(settings, resources, instance, day.isoformat(), day.isoformat()):
        return 1
    run, source = resources["spark_runner"].bound(), settings.source("customers")
    for label, known_at in (("before the correction", believed_before), ("now", None)):
        [row] = history_as_of(
            run,
            resources["catalog"],
            storage,
            source,
            day,
            known_at or datetime.now(UTC),
            {"customer_id": customer},
        )
        print(f"  {customer} on {day}, as known {label}: segment {row['segment']}")
    return 0


def run_demo(
    settings: Settings,
    days: int = 6,
    today: date | None = None,
    bill: bool = True,
    slos: bool = True,
) -> int:
    """Play the `days` days before `today` (UTC) into the settings' lake, which must be empty,
    from earlier when the first falls on a weekend or the window has no day to stage the FX
    failure on (medallion_data.demo_start);
    with `bill`, end with the month's bill for the demo's runs (demo/cost.py), with `slos` the
    SLOs of it all (demo/slo.py)."""
    today = today or datetime.now(UTC).date()
    start = demo_start(today, days)
    days = (today - start).days
    # The lake's calendar starts on the demo's first day (whose records are none of them late).
    record_partitions_start(settings.lake_root, start)
    settings = replace(settings, partitions_start=start.isoformat())
    resources = build_resources(settings)
    storage, registry = resources["storage"], resources["registry"]
    instance = dagster_instance()
    incoming = settings.lake_root / "_incoming"
    deliveries = generate(incoming, start=start, days=days) + generate_medallion(
        incoming, start, days
    )
    blocked: dict[str, list[str]] = {}
    order = promotion_order(settings)
    for offset in range(days):
        day = (start + timedelta(days=offset)).isoformat()
        print(f"\n--- {day}")
        # Each day's deliveries land late that evening, as an end-of-day batch would.
        landing = datetime.fromisoformat(day).replace(hour=23, tzinfo=UTC)
        for number, delivery in enumerate(d for d in deliveries if d.ingest_date == day):
            landed = landing + timedelta(minutes=7 * number)
            land_payload(storage, settings.source(delivery.source_id), delivery.path, day, landed)
        # The CRM's contacts are pulled, not delivered: the day's changes, pulled after them.
        for line in pull_crm_day(settings, resources, start, offset, landing.replace(minute=30)):
            print(line)
        for sid in order:
            profiled = materialize_partitions(
                settings, [registry_key_of(sid)], day, resources=resources, instance=instance
            )
            report_run(profiled)
            if not registry.versions(sid):
                print(f"{sid}: nothing delivered yet")  # FX on a weekend the window starts with
                continue
            first = max(
                start.isoformat(), (date.fromisoformat(day) - timedelta(days=1)).isoformat()
            )
            promoted = materialize_partitions(
                settings, [curated_key_of(sid)], first, day, resources=resources, instance=instance
            )
            if promoted.success:
                print(f"{sid}: profiled and promoted {first}..{day}")
            else:
                blocked.setdefault(sid, []).append(day)
                print(f"{sid}: promotion of {first}..{day} refused")
                report_run(promoted)

    for sid, days_blocked in blocked.items():
        breaking = [v for v in registry.versions(sid) if v.status == "BREAKING"]
        for version in breaking:
            print(f"\n{sid} {version.version} is BREAKING:")
            for line in describe_diff(version.field_diff):
                print(f"    {line}")
            print(f"  approving as an operator would: {approval_command(version)}")
            for changed in approve(
                registry.versions(sid),
                version.version,
                datetime.now(UTC),
                **proposed_resolution(version),
            ):
                registry.update_version(changed)
        record_schema_verdict(instance, sid, registry.versions(sid))
        first = (date.fromisoformat(days_blocked[0]) - timedelta(days=1)).isoformat()
        print(f"  backfilling {sid} {first}..{days_blocked[-1]} as one run")
        if report_run(
            materialize_partitions(
                settings,
                [curated_key_of(sid)],
                first,
                days_blocked[-1],
                resources=resources,
                instance=instance,
            )
        ):
            return 1

    last_day = today - timedelta(days=1)
    last = last_day.isoformat()
    print(f"\napplying customers snapshots {start}..{last} to history/customers as one run")
    if _apply_history(settings, resources, instance, start.isoformat(), last):
        return 1
    if days > 3 and _correct_a_snapshot(
        settings, resources, instance, start, last_day, day_index=2
    ):
        return 1
    # The mart last, after the correction: what the dependency sensor would run, so a webserver
    # started on the demo's lake has nothing left to request.
    print(f"\nbuilding {SPEND_BY_CUSTOMER.to_user_string()} for {start}..{last}, a run per day")
    for offset in range(days):
        day = (start + timedelta(days=offset)).isoformat()
        built = materialize_partitions(
            settings, [SPEND_BY_CUSTOMER], day, resources=resources, instance=instance
        )
        if report_run(built):
            return 1

    if play_layers(settings, resources, instance, start, last_day):
        return 1

    # Classification of what was published, as the staleness sensor would request it: one
    # range run per source, so the webserver starts with nothing left to classify.
    for source_id in settings.sources:
        if not resources["catalog"].partitions(source_id):
            continue  # a source with nothing delivered yet has nothing to classify
        classified = materialize_partitions(
            settings,
            [classification_key_of(source_id)],
            start.isoformat(),
            last,
            resources=resources,
            instance=instance,
        )
        if report_run(classified):
            return 1

    # Then the bill of everything above: its drivers, CUR and ledger.
    if bill and play_cost(settings, resources, instance):
        return 1
    # Last, the SLOs of it all: budgets, burn rates, alerts, the dashboard.
    if slos and play_slo(settings, resources, instance):
        return 1

    accounts = reconcile_sources(settings, resources)
    print("\n" + lake_summary(settings, resources, accounts))
    print(
        f"\nWhere to look:\n  lake folder:   {settings.lake_root}\n"
        f"  alerts:        {settings.state_dir / 'alerts.jsonl'}\n"
        "  registry:      .venv/bin/lake registry show card_transactions\n"
        f"  history:       .venv/bin/lake scd as-of customers --valid-at {last} --key C00001\n"
        "  access:        .venv/bin/lake query --as marketing_analyst "
        '"SELECT customer_id, email, date_of_birth, segment FROM customers LIMIT 3"\n'
        "                 .venv/bin/lake access explain --as fraud_analyst customers national_id\n"
        "                 (tokens read as null until LAKE_TOKEN_KEY holds the lake's token key)\n"
        f"  cost:          .venv/bin/lake cost report --month {today:%Y-%m} --by dataset\n"
        f"                 .venv/bin/lake cost tags --month {today:%Y-%m}\n"
        "  SLOs:          .venv/bin/lake slo status; .venv/bin/lake slo explain "
        "silver_fx_rates.quality\n"
        f"                 {resources['storage'].uri(DASHBOARD_KEY)}\n"
        "  webserver:     make dev, then http://127.0.0.1:3000 (runs, asset checks, partitions)"
    )
    return 0 if all(account.balanced for account in accounts.values()) else 1
