"""What the webserver shows on the lake's assets, read through its GraphQL after a lake was
driven as an operator would: each partition's own figures, the curated table's columns and
location, raw arrivals per ingest date, owners, the mart's checks and freshness, schedule
descriptions, and a calendar that starts where config/lake.yaml says the lake's data starts."""

from __future__ import annotations

from lake_harness import Lake, failure_message, write_card_contract
from webserver import Webserver, persistent_instance

from lake_assets.classification.assets import classification_key_of
from lake_assets.ingestion.asset_keys import curated_key_of, raw_key_of
from lake_assets.marts.assets import SPEND_BY_CUSTOMER
from lake_assets.settings import load_lake_file

METADATA = """metadataEntries { label __typename
    ... on IntMetadataEntry { intValue }
    ... on TextMetadataEntry { text }
    ... on JsonMetadataEntry { jsonString }
    ... on PathMetadataEntry { path }
    ... on TableSchemaMetadataEntry { schema { columns {
        name type constraints { nullable } tags { key value } } } }
}"""

ASSET = (
    """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
    assetMaterializations(limit: 10) { partition """
    + METADATA
    + " } } } }"
)

NODES = """{ assetNodes {
    assetKey { path }
    owners { __typename ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
    partitionKeys
    internalFreshnessPolicy { __typename ... on TimeWindowFreshnessPolicy { failWindowSeconds } }
    assetChecksOrError { ... on AssetChecks { checks { name description } } }
} }"""

SCHEDULES = """{ repositoriesOrError { ... on RepositoryConnection { nodes {
    schedules { name description } } } } }"""


def _by_partition(web: Webserver, key) -> dict[str, dict]:
    data = web.query(ASSET, {"key": {"path": key.path}})["assetOrError"]
    return {
        m["partition"]: {e["label"]: e for e in m["metadataEntries"]}
        for m in data["assetMaterializations"]
    }


def test_the_webserver_shows_each_partition_its_columns_arrivals_owners_and_calendar(
    tmp_path, spark, monkeypatch
):
    # The calendar of config/lake.yaml, not the tests' own (conftest.py).
    monkeypatch.delenv("LAKE_PARTITIONS_START")
    start = load_lake_file().partitions_start.isoformat()
    contracts = write_card_contract(tmp_path / "contracts")
    home = tmp_path / "dagster"
    lake = Lake(tmp_path / "lake", contracts=contracts, instance=persistent_instance(home))
    lake.deliver_cards("2026-03-02", range(0, 3))
    lake.deliver_cards("2026-03-03", range(3, 5))
    for day in ("2026-03-02", "2026-03-03"):
        assert lake.profile("card_transactions", day).success
    promoted = lake.promote("card_transactions", "2026-03-02", "2026-03-03")
    assert promoted.success, failure_message(promoted)
    # Classified, then a later day published: its column schema carries the classifications.
    classified = lake.materialize(
        [classification_key_of("card_transactions")], "2026-03-02", "2026-03-03"
    )
    assert classified.success, failure_message(classified)
    lake.deliver_cards("2026-03-04", range(5, 7))
    assert lake.profile("card_transactions", "2026-03-04").success
    assert lake.promote("card_transactions", "2026-03-04").success

    with Webserver(home, lake.env) as web:
        curated = _by_partition(web, curated_key_of("card_transactions"))
        raw = _by_partition(web, raw_key_of("card_transactions"))
        classification = _by_partition(web, classification_key_of("card_transactions"))
        nodes = {"/".join(n["assetKey"]["path"]): n for n in web.query(NODES)["assetNodes"]}
        schedules = [
            s
            for repository in web.query(SCHEDULES)["repositoriesOrError"]["nodes"]
            for s in repository["schedules"]
        ]

    # One range run, and each partition's materialization carries its own rows and location.
    assert {p: m["rows_published"]["intValue"] for p, m in curated.items()} == {
        "2026-03-02": 3,
        "2026-03-03": 2,
        "2026-03-04": 2,
    }
    assert curated["2026-03-03"]["dagster/partition_row_count"]["intValue"] == 2
    locations = {p: m["location"]["path"] for p, m in curated.items()}
    assert all(f"event_date={p}" in location for p, location in locations.items()), locations
    assert curated["2026-03-02"]["dagster/uri"]["text"] == locations["2026-03-02"]

    # The columns, their types, and the contract's nullability.
    columns = {
        c["name"]: c for c in curated["2026-03-03"]["dagster/column_schema"]["schema"]["columns"]
    }
    assert columns["amount"]["type"] == "double"
    assert columns["transaction_id"]["constraints"]["nullable"] is False
    assert columns["amount"]["constraints"]["nullable"] is True

    # Each column's classification: as tags of the curated table published after it, and as
    # the classification asset's own column schema, per partition it classified.
    tags = {
        c["name"]: {t["key"]: t["value"] for t in c["tags"]}
        for c in curated["2026-03-04"]["dagster/column_schema"]["schema"]["columns"]
    }
    assert tags["transaction_id"]["classification/decided_by"] == "classifier"
    assert set(tags["amount"]) >= {"classification/semantic_type", "classification/sensitivity"}
    assert sorted(classification) == ["2026-03-02", "2026-03-03"]
    assert "transaction_id" in classification["2026-03-02"]["columns_classified"]["jsonString"]

    # Files that landed show on raw/<source>, per ingest date, with files and bytes.
    assert sorted(raw) == ["2026-03-02", "2026-03-03", "2026-03-04"]
    assert raw["2026-03-02"]["files"]["intValue"] == 1
    assert raw["2026-03-02"]["bytes"]["intValue"] > 0

    # Every asset has an owner; the platform owns what no source owns.
    assert all(node["owners"] for node in nodes.values()), [
        key for key, node in nodes.items() if not node["owners"]
    ]
    mart = nodes["/".join(SPEND_BY_CUSTOMER.path)]
    assert mart["owners"] == [{"__typename": "TeamAssetOwner", "team": "data-platform"}]

    # The mart has checks and a freshness policy; every schedule says what it does.
    assert {c["name"] for c in mart["assetChecksOrError"]["checks"]} == {
        "transactions_reconcile",
        "customer_id_not_null",
    }
    assert mart["internalFreshnessPolicy"]["failWindowSeconds"] == 30 * 3600
    assert schedules and all(s["description"] for s in schedules), schedules

    # The calendar starts where config/lake.yaml says the lake's data starts.
    assert nodes["curated/card_transactions"]["partitionKeys"][0] == start
