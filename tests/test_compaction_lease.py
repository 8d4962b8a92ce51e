"""A compaction run that outlives its DynamoDB lease (a long migration, ADR-0027): the lease is
renewed partition by partition, and a run that lost it publishes nothing, so the run that took
it over may clean up its folder as a dead run's without a reader losing a row (ADR-0200).
Without Spark: the rewrite job is a stand-in that writes the files and reports their rows."""

from __future__ import annotations

import json

import pytest

from lake_assets.compaction.planning import TargetSchema
from lake_assets.compaction.policy import CompactionPolicy
from lake_assets.compaction.service import CompactionPass, SchemaMigrationIncomplete
from lake_assets.lineage.emitter import recorder_for
from lake_assets.tables.locations import compacted_location
from lake_assets.tables.reader import published_files
from resources.aws.dynamo_compaction import DynamoCompactionHistory
from resources.catalog import PublishedPartition, SQLiteCatalog
from resources.compaction_history import CompactionBusy, LeaseLost
from resources.lineage_store import SQLiteLineageStore
from resources.storage import LocalStorage

DATASET = "card_transactions"
DAY = "2025-01-03"
REGION = "eu-west-1"
TABLE = "compaction-history"


def test_a_renewed_lease_runs_a_full_term_and_one_taken_over_is_not_renewed(aws_endpoint):
    lapsing = DynamoCompactionHistory.create_table(
        TABLE, endpoint_url=aws_endpoint, region=REGION, lease_seconds=0
    )
    hourly = DynamoCompactionHistory(TABLE, endpoint_url=aws_endpoint, region=REGION)
    with lapsing.lease(DATASET, "c-1"):
        hourly.renew(DATASET, "c-1")  # a lapsed lease nobody took is still its holder's
        with pytest.raises(CompactionBusy, match="c-1"):
            with lapsing.lease(DATASET, "c-2"):
                pass
        lapsing.renew(DATASET, "c-1")  # a term of 0 s: lapsed at once
        with lapsing.lease(DATASET, "c-2"):
            with pytest.raises(LeaseLost, match=r"run c-1 no longer holds .*\(run c-2 until"):
                hourly.renew(DATASET, "c-1")


def test_a_migration_past_its_lease_publishes_nothing_of_the_folder_the_next_pass_removed(
    tmp_path, aws_endpoint
):
    """The migration's lease lapses during a rewrite; the nightly pass takes it and removes
    the migration's folder as a dead run's. The migration's renewal before its switch fails:
    it publishes nothing, the partition keeps its version, and its rows are still read."""
    storage = LocalStorage(tmp_path / "lake")
    catalog = SQLiteCatalog(tmp_path / "catalog.db")
    history = DynamoCompactionHistory.create_table(
        TABLE, endpoint_url=aws_endpoint, region=REGION, lease_seconds=0
    )
    version = PublishedPartition(
        dataset=DATASET,
        partition=DAY,
        location=f"curated/{DATASET}/run=run-1/_zone=published/event_date={DAY}/",
        run_id="run-1",
        published_at="2025-01-10T02:00:00+00:00",
        row_count=6,
        schema_version="v1",
        columns={"amount": "integer"},
    )
    files = [f"part-{i}.parquet" for i in range(3)]
    for name in files:
        storage.put_bytes(version.location + name, b"x" * 100)
    manifest = {
        **version.__dict__,
        "files": files,
        "inputs": ["raw/card_transactions/2025-01-03.json"],
        "rows_quarantined": 0,
        "quarantine_location": None,
    }
    storage.put_bytes(version.location + "_manifest.json", json.dumps(manifest).encode())
    catalog.publish(version)

    def run(run_id: str, run_spark) -> CompactionPass:
        return CompactionPass(
            run_spark=run_spark,
            storage=storage,
            catalog=catalog,
            history=history,
            recorder=recorder_for(
                SQLiteLineageStore(tmp_path / "lineage.db"), tmp_path, storage.uri("")
            ),
            policy=CompactionPolicy(),
            run_id=run_id,
            earliest="2025-01-01",
            progress=lambda message: None,
        )

    nightly = run("nightly", lambda job, plan: pytest.fail("cleaning up needs no Spark"))

    def rewrite_while_the_nightly_pass_cleans_up(job, plan):
        target = plan["target_uri"].removeprefix(storage.uri("") + "/")
        storage.put_bytes(target + "part-0.parquet", b"y" * 250)
        # The lease (0 s) has lapsed: the nightly pass takes it and cleans up as it always does.
        with history.lease(DATASET, "nightly"):
            [cleaned] = nightly.clean_up_dead_runs(DATASET)
        assert (cleaned.run_id, cleaned.outcome) == ("promote-2", "abandoned")
        return {"files": {"part-0.parquet": 6}}

    migration = run("promote-2", rewrite_while_the_nightly_pass_cleans_up)
    with pytest.raises(SchemaMigrationIncomplete, match="promote-2 no longer holds"):
        migration.migrate(DATASET, TargetSchema("v2", {"amount": "double"}))

    current = catalog.current(DATASET, DAY)
    assert (current.run_id, current.columns) == ("run-1", {"amount": "integer"})
    assert sorted(published_files(storage, current)) == [version.location + n for n in files]
    assert list(storage.list(compacted_location(DATASET, "promote-2", DAY))) == []
    [aborted] = [r for r in history.records(DATASET) if r.run_id == "promote-2"]
    assert aborted.outcome == "aborted" and "lease" in aborted.reason
