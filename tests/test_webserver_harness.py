"""The webserver harness itself: a run recorded by the lake shows in the webserver's GraphQL."""

from __future__ import annotations

from lake_harness import Lake, failure_message
from webserver import Webserver, persistent_instance

from lake_assets.ingestion.asset_keys import registry_key_of

DAY = "2026-03-01"


def test_a_profiled_partition_shows_in_the_webservers_graphql(tmp_path, spark):
    home = tmp_path / "dagster"
    lake = Lake(tmp_path / "lake", instance=persistent_instance(home))
    lake.deliver_cards(DAY, range(3))
    profiled = lake.profile("card_transactions", DAY)
    assert profiled.success, failure_message(profiled)

    with Webserver(home, lake.env) as web:
        data = web.query(
            """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
                assetMaterializations(limit: 5) { partition runId } } } }""",
            {"key": {"path": registry_key_of("card_transactions").path}},
        )
    materializations = data["assetOrError"]["assetMaterializations"]
    assert [m["partition"] for m in materializations] == [DAY]
    assert materializations[0]["runId"] == profiled.run_id
