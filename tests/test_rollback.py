"""Time travel for recovery (ADR-0134): a partition's kept versions listed, a bad publish rolled
back through `lake table`, on the local lake and on the aws profile (S3 and Glue on moto)."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lake_assets.cli.main import main
from lake_assets.lineage.emitter import recorder_for
from lake_assets.lineage.graph import trace
from lake_assets.lineage.model import LineageRun, partition_address, partition_outputs
from lake_assets.tables.locations import published_location
from lake_assets.tables.manifest import read_manifest
from lake_assets.tables.publish import TABLE_FILE, publish_table

DATASET, DAY = "card_transactions", "2026-03-02"
ADDRESS = partition_address(DATASET, DAY)


@pytest.fixture(params=["local", "aws"])
def lake(request, tmp_path, monkeypatch):
    """Settings and resources of a lake of either profile; `lake` commands open the same."""
    if request.param == "local":
        return request.getfixturevalue("local_lake")
    from aws_lake import open_aws_lake

    environ: dict[str, str] = {}
    settings, resources, _ = open_aws_lake(
        request.getfixturevalue("aws_endpoint"), tmp_path, environ_out=environ
    )
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return settings, resources


def _publish(settings, resources, run_id: str, amounts: list[float], raw: list[str]) -> None:
    """A version of the partition with its lineage, as a promotion of `raw` would leave it."""
    storage = resources["storage"]
    recorder = recorder_for(resources["lineage"], settings.state_dir, storage.uri(""))
    location = published_location(DATASET, run_id, DAY)
    run = LineageRun(
        run_id, f"curated/{DATASET}", DAY, tuple(raw), (ADDRESS,), "2026-03-03T00:00:00+00:00"
    )
    with recorder.track(run) as outputs:
        table = pa.table({"amount": amounts})
        publish_table(resources["catalog"], storage, DATASET, DAY, location, table, run_id,
                      {"built_by": run_id})  # fmt: skip
        outputs.extend(partition_outputs(DATASET, DAY, location, [TABLE_FILE]))


def _amounts(resources) -> list[float]:
    current = resources["catalog"].current(DATASET, DAY)
    data = resources["storage"].get_bytes(current.location + TABLE_FILE)
    return pq.read_table(io.BytesIO(data)).column("amount").to_pylist()


def test_a_bad_publish_is_rolled_back_to_a_kept_version_and_back_again(lake, capsys):
    settings, resources = lake
    _publish(settings, resources, "good", [1.0, 2.0], ["raw/day.json"])
    _publish(settings, resources, "bad", [-1.0], ["raw/day.json", "raw/bad.json"])

    assert main(["table", "versions", DATASET, DAY, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(v["run_id"], v["superseded_at"] is None) for v in listed] == [
        ("bad", True),
        ("good", False),
    ]

    assert main(["table", "versions", DATASET, DAY]) == 0
    [current, kept] = capsys.readouterr().out.strip().split("\n    ")[:2]
    assert current.startswith("bad  published") and current.endswith("1 rows  1 files  current")
    assert kept.startswith(resources["storage"].uri("curated/")) and "good  published" in kept
    assert main(["table", "versions", DATASET, "2026-03-09"]) == 2
    assert "card_transactions[2026-03-09] is not published" in capsys.readouterr().err
    # As of a time: the version readers saw then, by its publish and supersede times.
    good_at, bad_at = listed[1]["published_at"], listed[0]["published_at"]
    for instant, run in ((good_at, "good"), (bad_at, "bad"), ("2099-01-01", "bad")):
        assert main(["table", "versions", DATASET, DAY, "--as-of", instant, "--json"]) == 0
        assert [v["run_id"] for v in json.loads(capsys.readouterr().out)] == [run], instant
    assert main(["table", "versions", DATASET, DAY, "--as-of", "2026-01-01"]) == 2
    assert "keeps no version current at 2026-01-01T00:00:00+00:00" in capsys.readouterr().err
    assert main(["table", "rollback", DATASET, DAY, "--to", "missing"]) == 2
    assert "keeps no version of run 'missing'; it keeps good" in capsys.readouterr().err
    assert main(["table", "rollback", DATASET, DAY, "--to", "bad"]) == 2
    assert "is at run bad already" in capsys.readouterr().err
    assert main(["table", "rollback", DATASET, DAY, "--to", "good"]) == 0
    rolled = resources["catalog"].current(DATASET, DAY)
    assert rolled.run_id.startswith("rollback-") and rolled.row_count == 2
    # Its manifest carries the good version's own details (what `lake status` counts).
    manifest = read_manifest(resources["storage"], rolled)
    assert manifest["built_by"] == "good" and manifest["rolled_back_to"] == "good"
    assert _amounts(resources) == [1.0, 2.0]
    # Its lineage leads back to the good version's raw file, not the bad one's.
    assert trace(resources["lineage"].runs(), ADDRESS).leaves() == {"raw/day.json"}
    # What reads the partition hears of it: its data-ready event is the newest.
    assert resources["events"].latest(DATASET, DAY).run_id == rolled.run_id

    # The bad version is kept in turn: the rollback itself can be undone.
    capsys.readouterr()
    assert main(["table", "versions", DATASET, DAY, "--json"]) == 0
    runs = [v["run_id"] for v in json.loads(capsys.readouterr().out)]
    assert runs == [rolled.run_id, "bad", "good"]
    assert main(["table", "rollback", DATASET, DAY, "--to", "bad"]) == 0
    assert _amounts(resources) == [-1.0]


def test_a_kept_version_of_other_columns_is_not_rolled_back_to(local_lake, capsys):
    settings, resources = local_lake
    _publish(settings, resources, "narrow", [1.0], ["raw/day.json"])
    storage, location = resources["storage"], published_location(DATASET, "wide", DAY)
    table = pa.table({"amount": [1.0], "fee": [0.5]})
    publish_table(resources["catalog"], storage, DATASET, DAY, location, table, "wide")
    assert main(["table", "rollback", DATASET, DAY, "--to", "narrow"]) == 2
    error = capsys.readouterr().err
    assert "other columns than the current one (amount double against amount double, fee" in error
    assert resources["catalog"].current(DATASET, DAY).run_id == "wide"
