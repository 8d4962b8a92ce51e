"""The arrival sensor (each payload profiled once) and the `lake` command line."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from dagster import build_sensor_context

from lake_assets.cli.main import main
from lake_assets.ingestion.asset_keys import curated_key_of, registry_key_of
from lake_assets.ingestion.intake import land_payload, pending_objects, profile_objects
from lake_assets.ingestion.sensors import arrival_run_requests, build_arrival_sensor
from lake_assets.ingestion.sweep import SweepCursor
from lake_assets.settings import ConfigError, load_sources
from resources.arrivals import Arrival, ListingArrivalFeed


def write_cards(path, day="2026-03-02", count=5, date_field="transaction_date"):
    path.write_text(
        "".join(
            json.dumps(
                {"transaction_id": f"T{i}", "amount": i * 1.5, date_field: f"{day}T10:00:00Z"}
            )
            + "\n"
            for i in range(count)
        )
    )
    return path


def test_sensor_requests_one_profiling_run_per_source_and_day(local_lake, tmp_path, capsys):
    settings, res = local_lake
    source = settings.source("card_transactions")
    for name in ("a.json", "b.json"):
        land_payload(res["storage"], source, write_cards(tmp_path / name), "2026-03-02")
    land_payload(res["storage"], source, write_cards(tmp_path / "c.json"), "2026-03-03")
    res["storage"].put_bytes("raw/source=unknown/ingest_date=2026-03-02/x.json", b"{}")
    # The CUR's delivery: the platform's own source, found by its asset, not the sensor.
    res["storage"].put_bytes("raw/source=cur/billing_period=2026-03/delivery=d1/data/x", b"x")

    sensor = build_arrival_sensor(sorted(settings.sources), settings.partitions_start)
    resources = {k: res[k] for k in ("arrivals", "registry", "notifier", "storage")}
    context = build_sensor_context(resources=resources)
    result = sensor(context)
    assert sorted(r.partition_key for r in result.run_requests) == ["2026-03-02", "2026-03-03"]
    assert {r.tags["lake/arrivals"] for r in result.run_requests} == {"2", "1"}
    # The arrivals are recorded on raw/<source> by the profiling runs, with their bytes.
    assert result.asset_events == []

    # Nothing new: the next tick with the stored cursor requests nothing.
    again = sensor(
        build_sensor_context(
            cursor=result.cursor,
            resources=resources,
        )
    )
    assert again.run_requests == []

    # The undeclared source's object (and not the CUR's): alerted once, when it arrived;
    # `lake status` lists its folder and fails until a source owns it.
    [alert] = [a for a in res["notifier"].alerts() if a.kind == "raw.undeclared_source"]
    assert alert.detail["folders"] == ["raw/source=unknown/"]
    assert alert.detail["raw_keys"] == ["raw/source=unknown/ingest_date=2026-03-02/x.json"]
    capsys.readouterr()
    assert main(["status"]) == 1
    assert "  raw/source=unknown/: 1 objects" in capsys.readouterr().out
    res["storage"].delete_prefix("raw/source=unknown/")
    assert main(["status"]) == 0
    assert "raw/source=unknown/" not in capsys.readouterr().out


def test_an_arrival_announced_twice_is_profiled_once(local_lake, tmp_path):
    settings, res = local_lake
    source = settings.source("card_transactions")
    info = land_payload(res["storage"], source, write_cards(tmp_path / "a.json"), "2026-03-02")
    twice = [Arrival(info.key, info.etag), Arrival(info.key, info.etag)]
    requests, _, _ = arrival_run_requests(twice, {"card_transactions"}, res["registry"])
    assert len(requests) == 1
    redelivered, _, _ = arrival_run_requests(twice[:1], {"card_transactions"}, res["registry"])
    assert redelivered[0].run_key == requests[0].run_key  # Dagster skips a repeated run key

    summary = profile_objects(
        res["storage"], res["registry"], res["notifier"], source, [info, info]
    )
    assert [o.status for o in summary.outcomes] == ["PROFILED", "ALREADY_PROFILED"]
    assert len(res["registry"].raw_files("card_transactions")) == 1
    # Once profiled, a late duplicate announcement requests no run at all.
    assert arrival_run_requests(twice, {"card_transactions"}, res["registry"])[0] == []


def test_listing_cursor_never_hides_objects_with_equal_timestamps(local_lake, tmp_path):
    _, res = local_lake
    storage = res["storage"]
    feed = ListingArrivalFeed(storage)
    for name in ("a", "b"):
        storage.put_bytes(f"raw/source=s/ingest_date=2026-03-02/{name}.json", b"{}")
    stamp = datetime(2026, 3, 2, tzinfo=UTC).timestamp()
    for info in storage.list("raw/"):
        os.utime(storage.root / info.key, (stamp, stamp))
    first, cursor = feed.poll(None, limit=1)
    second, cursor = feed.poll(cursor, limit=1)
    third, _ = feed.poll(cursor)
    assert [a.key[-6:] for a in first + second] == ["a.json", "b.json"] and third == []


def test_the_sensor_cursor_keeps_the_feeds_and_reads_one_stored_before_the_sweep(local_lake):
    listing = json.dumps({"watermark": "2026-03-02T00:00:00+00:00", "keys": ["raw/a"]})
    assert SweepCursor.parse(listing) == SweepCursor(feed=listing)
    assert SweepCursor.parse(None) == SweepCursor() and SweepCursor.parse("x").feed == "x"
    swept = SweepCursor(listing, datetime(2026, 3, 2, 9, tzinfo=UTC))
    assert SweepCursor.parse(swept.dumps()) == swept
    # A feed that misses nothing (the local listing) is never swept behind.
    _, res = local_lake
    assert res["arrivals"].may_miss is False


def test_lake_ingest_and_profile_commands(local_lake, tmp_path, capsys):
    settings, res = local_lake
    path = write_cards(tmp_path / "batch.json")
    assert (
        main(["ingest", "--source", "card_transactions", "--ingest-date", "2026-03-02", str(path)])
        == 0
    )
    [landed] = list(res["storage"].list("raw/source=card_transactions/ingest_date=2026-03-02/"))
    assert (
        landed.key.endswith("-batch.json")
        and res["storage"].get_bytes(landed.key) == path.read_bytes()
    )
    # Landing is recorded as lineage: the raw object traces back to the file handed over.
    from lake_assets.lineage.graph import trace

    assert trace(res["lineage"].runs(), landed.key).leaves() == {path.resolve().as_uri()}
    assert main(["profile"]) == 0
    assert (
        "card_transactions: 1 profiled, 0 dead-lettered, 1 new versions" in capsys.readouterr().out
    )
    assert pending_objects(res["storage"], res["registry"], "card_transactions") == []


def test_lake_registry_show_and_approve(local_lake, tmp_path, capsys):
    settings, res = local_lake
    source = settings.source("card_transactions")
    land_payload(res["storage"], source, write_cards(tmp_path / "a.json"), "2026-03-02")
    land_payload(
        res["storage"],
        source,
        write_cards(tmp_path / "b.json", date_field="txn_date"),
        "2026-03-03",
    )
    assert main(["profile"]) == 0
    versions = res["registry"].versions("card_transactions")
    assert [v.status for v in versions] == ["ACTIVE", "BREAKING"]
    capsys.readouterr()

    assert main(["registry", "show", "card_transactions"]) == 0
    shown = capsys.readouterr().out
    assert "BREAKING: field 'transaction_date' (timestamp) was removed" in shown
    assert "transaction_date -> txn_date? rename confidence" in shown

    assert (
        main(["registry", "diff", "card_transactions", versions[0].version, versions[1].version])
        == 0
    )
    assert "- transaction_date: timestamp" in capsys.readouterr().out

    assert main(["registry", "approve", "card_transactions", versions[1].version]) == 2
    assert "unresolved breaking changes in transaction_date" in capsys.readouterr().err
    assert (
        main(
            [
                "registry",
                "approve",
                "card_transactions",
                versions[1].version,
                "--rename",
                "txn_date=transaction_date",
            ]
        )
        == 0
    )
    assert [v.status for v in res["registry"].versions("card_transactions")] == [
        "DEPRECATED",
        "ACTIVE",
    ]


def test_cli_errors_name_the_problem(local_lake, capsys):
    assert main(["registry", "show", "payroll"]) == 2
    assert (
        "unknown source 'payroll'; declared sources: card_transactions, crm_contacts, customers, fx_rates, order_events"
        in capsys.readouterr().err
    )


def test_sources_config_errors_name_file_key_and_reason(tmp_path):
    bad = tmp_path / "sources.yaml"
    bad.write_text("sources:\n  cards:\n    format: xml\n    event_time_field: ts\n")
    with pytest.raises(
        ConfigError,
        match=r"sources.yaml: sources.cards.format: must be one of json, csv or custom, got .xml.",
    ):
        load_sources(bad)
    bad.write_text("sources:\n  cards:\n    format: json\n")
    with pytest.raises(ConfigError, match="sources.cards.event_time_field: required"):
        load_sources(bad)
    bad.write_text(
        "sources:\n  cards:\n    format: json\n    event_time_field: ts\n    compatibility: LOOSE\n"
    )
    with pytest.raises(ConfigError, match="sources.cards.compatibility: must be one of BACKWARD"):
        load_sources(bad)


def test_oversized_and_empty_payloads_are_dead_lettered_not_lost(local_lake, tmp_path):
    settings, res = local_lake
    from dataclasses import replace

    small_limit = replace(settings.source("card_transactions"), max_payload_bytes=100)
    big = land_payload(
        res["storage"], small_limit, write_cards(tmp_path / "big.json", count=50), "2026-03-02"
    )
    (tmp_path / "empty.json").write_text("")
    empty = land_payload(res["storage"], small_limit, tmp_path / "empty.json", "2026-03-02")
    summary = profile_objects(
        res["storage"], res["registry"], res["notifier"], small_limit, [big, empty]
    )
    assert [o.status for o in summary.outcomes] == ["DEAD_LETTER", "DEAD_LETTER"]
    reasons = {o.key.rsplit("-", 1)[-1]: o.reason for o in summary.outcomes}
    assert "100" in reasons["big.json"] and "empty" in reasons["empty.json"]
    # The raw originals stay; each dead letter sits beside its reason.
    assert res["storage"].exists(big.key) and res["storage"].exists(empty.key)
    letters = sorted(i.key for i in res["storage"].list("dead-letter/"))
    assert len(letters) == 4
    assert [a.kind for a in res["notifier"].alerts()] == ["payload.dead_lettered"] * 2


def test_definitions_load_with_every_asset_check_and_sensor(local_lake):
    from lake_assets.contracts.model import lake_contracts
    from lake_assets.definitions import build_definitions
    from lake_assets.history.assets import history_key_of
    from lake_assets.layers.definitions import DERIVED_TABLES

    settings, res = local_lake
    defs = build_definitions(settings, res)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {
        f"{zone}/{source}"
        for zone in ("raw", "registry", "curated", "classification")
        for source in settings.sources
    } | {
        "marts/spend_by_customer",
        "history/customers",
        "maintenance/compaction",
        "access/masked_views",
        "cost/cur",
        "cost/drivers",
        "cost/lake_commands",
        "cost/ledger",
        "slo/evaluation",
        "recovery/catalog_export",
    } | {"/".join(table.asset) for table in DERIVED_TABLES} | {
        # The contract in force of each contracted table, where its trials hang (ADR-0172).
        f"contracts/{dataset}"
        for dataset in lake_contracts(settings)
    }
    graph = defs.resolve_asset_graph()
    history = graph.get(history_key_of("customers"))
    assert history.parent_keys == {curated_key_of("customers")}
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert {
        ("registry/card_transactions", "schema_compatible"),
        ("registry/customers", "schema_compatible"),
    } <= checks
    from lake_assets.contracts.gate import check_name
    from lake_assets.contracts.model import load_contracts

    # Every contract rule is a check: a source's on its curated asset, a derived table's on it.
    owner = {t.dataset: "/".join(t.asset) for t in DERIVED_TABLES}
    for dataset, contract in load_contracts(
        settings.contracts_dir, pipelines_dir=settings.pipeline_contracts_dir
    ).items():
        for rule in contract.all_rules:
            assert (owner.get(dataset, f"curated/{dataset}"), check_name(rule)) in checks
    cards = graph.get(curated_key_of("card_transactions"))
    assert registry_key_of("card_transactions") in cards.parent_keys
    assert curated_key_of("customers") in cards.parent_keys  # the referential rule's input
    assert defs.resolve_sensor_def("raw_arrivals") is not None
    assert defs.resolve_job_def("ingestion") is not None


def test_version_time_is_utc(local_lake, tmp_path):
    settings, res = local_lake
    source = settings.source("card_transactions")
    info = land_payload(res["storage"], source, write_cards(tmp_path / "a.json"), "2026-03-02")
    now = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    profile_objects(res["storage"], res["registry"], res["notifier"], source, [info], now=now)
    assert (
        res["registry"].versions("card_transactions")[0].version
        == "version#2026-03-02T23:30:00.000000Z"
    )


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["registry"],
        ["late"],
        ["quarantine"],
        ["events"],
        ["lineage"],
        ["scd"],
        ["compact"],
        ["compaction", "report"],
        ["cost", "report"],
        ["query"],
    ],
)
def test_the_lake_command_starts_in_a_fresh_interpreter(command):
    """Import cycles and broken help texts only show when the entry point starts from scratch."""
    import subprocess
    import sys

    shown = subprocess.run(
        [sys.executable, "-m", "lake_assets.cli", *command, "--help"],
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert "usage: lake" in shown.stdout
