"""Where a history stands (`lake scd status`, a line in `lake status`), and an apply with nothing
to apply: no Spark job, no version, no materialization hiding the last real apply (the webserver
still shows its row counts)."""

from __future__ import annotations

from lake_harness import Lake, failure_message
from test_history_e2e import MON, TUE, apply, land
from webserver import Webserver, persistent_instance

from lake_assets.cli.main import main
from lake_assets.history.apply import WHOLE_TABLE, history_dataset
from lake_assets.history.assets import history_key_of

HISTORY_FOLDER = "curated/customers_history/"


def _versions_written(lake) -> set[str]:
    return {info.key.split("/version=")[0] for info in lake.storage.list(HISTORY_FOLDER)}


def _lake(monkeypatch, capsys, lake, *argv: str) -> str:
    for name, value in lake.env.items():
        monkeypatch.setenv(name, value)
    assert main(list(argv)) in (0, 1)  # `lake status` exits 1 while rows are not yet promoted
    return capsys.readouterr().out


def test_status_lists_applied_and_pending_snapshots_and_a_noop_apply_writes_nothing(
    lake, monkeypatch, capsys
):
    land(lake, MON, {"C00001": "retail", "C00002": "sme"})
    land(lake, TUE, {"C00001": "premier", "C00002": "sme"})
    first = apply(lake, MON)
    assert first.success, failure_message(first)

    status = _lake(monkeypatch, capsys, lake, "scd", "status", "customers").splitlines()
    current = lake.catalog.current(history_dataset("customers"), WHOLE_TABLE)
    assert status[0] == (
        f"customers_history: 1 snapshots applied ({MON} .. {MON}), 1 pending: {TUE}"
    )
    assert status[1] == (
        f"  last apply: version {current.run_id}, committed {current.published_at}: {MON}; "
        "2 rows recorded, 0 superseded, 2 in total"
    )
    assert status[2].startswith(f"  applied {MON}: by run {first.run_id}")
    assert status[3] == f"  pending {TUE}: new"
    summary = _lake(monkeypatch, capsys, lake, "status")
    assert f"history\n  customers_history: 1 snapshots applied ({MON} .. {MON}), 1 pending" in (
        summary
    )

    # Applying Monday again: nothing to apply, no Spark job, no version, no materialization
    # (the webserver's latest stays the real apply), an observation saying why.
    written = _versions_written(lake)
    lake.resources["spark_runner"] = NoSpark()
    again = apply(lake, MON)
    assert again.success, failure_message(again)
    assert again.get_asset_materialization_events() == []
    assert again.get_asset_check_evaluations() == []
    [seen] = again.get_asset_observation_events()
    assert "nothing to apply" in seen.event_specific_data.asset_observation.metadata["summary"].text
    assert lake.catalog.current(history_dataset("customers"), WHOLE_TABLE) == current
    assert _versions_written(lake) == written


class NoSpark:
    def bound(self, *args):
        def run(job: str, plan: dict) -> dict:
            raise AssertionError(f"an apply with nothing to apply ran the Spark job {job}")

        return run


def test_a_noop_apply_leaves_the_last_real_apply_in_the_webserver(tmp_path, spark):
    home = tmp_path / "dagster"
    lake = Lake(tmp_path / "lake", instance=persistent_instance(home))
    land(lake, MON, {"C00001": "retail", "C00002": "sme"})
    real = apply(lake, MON)
    assert real.success, failure_message(real)
    noop = apply(lake, MON)
    assert noop.success, failure_message(noop)

    with Webserver(home, lake.env) as web:
        data = web.query(
            """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
                assetMaterializations(limit: 1) { runId partition
                    metadataEntries { label ... on IntMetadataEntry { intValue } } }
                assetObservations(limit: 1) { runId partition
                    metadataEntries { label ... on TextMetadataEntry { text } } } } } }""",
            {"key": {"path": history_key_of("customers").path}},
        )
    asset = data["assetOrError"]
    [latest] = asset["assetMaterializations"]
    assert latest["runId"] == real.run_id and latest["partition"] == MON
    counts = {e["label"]: e.get("intValue") for e in latest["metadataEntries"]}
    assert counts["rows"] == 2 and counts["recorded"] == 2 and counts["superseded"] == 0
    [observed] = asset["assetObservations"]
    assert observed["runId"] == noop.run_id
    assert "nothing to apply" in observed["metadataEntries"][0]["text"]
