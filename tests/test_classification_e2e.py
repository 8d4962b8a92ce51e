"""The seed's staleness example end to end (issue 12): a `notes` column of free text where
operators start pasting IC numbers into a few percent of rows becomes `pii`, with an alert naming
dataset, column, partition and the share observed; only the new partition is read, and the
sensor asks for nothing once it is classified. One small lake, the real classifier."""

from __future__ import annotations

import json

from lake_harness import Lake, failure_message, sources_file

from lake_assets.classification.assets import classification_key_of
from lake_assets.classification.cli import explain
from lake_assets.classification.sensors import classification_requests
from lake_assets.classification.service import DRIFT_ALERT
from lake_assets.cli.runs import recorded_partition
from lake_assets.ingestion.asset_keys import curated_key_of

NOTES = "support_notes"
DAY1, DAY2 = "2026-03-02", "2026-03-03"
SOURCE = f"""
  {NOTES}:
    format: json
    event_time_field: logged_at
    owner: customer-service
    description: Agents' notes on customer calls, JSON lines.
"""
SAYINGS = (
    "Customer asked about the annual fee waiver",
    "Called to dispute a duplicate charge at the petrol station",
    "Requested a new card, old one is damaged",
    "Asked why the transfer is pending since Monday",
    "Wants to raise the credit limit before travelling",
    "Complained about the app logging out",
)


def _notes(day: str, rows: int, ic_every: int | None = None) -> str:
    lines = []
    for i in range(rows):
        note = f"{SAYINGS[i % len(SAYINGS)]} (call {i})"
        if ic_every and i % ic_every == 0:
            note += f", IC no 900{i % 9 + 1:01d}12-14-{5100 + i:04d} given"
        record = {"ticket_id": f"T{day}-{i:03d}", "notes": note, "logged_at": f"{day}T09:00:00Z"}
        lines.append(json.dumps(record) + "\n")
    return "".join(lines)


def test_pasted_ic_numbers_make_notes_pii_with_an_alert(tmp_path, spark):
    sources = sources_file(tmp_path / "sources.yaml", SOURCE)
    lake = Lake(tmp_path / "lake", sources=sources)
    key = classification_key_of(NOTES)

    lake.deliver(NOTES, DAY1, "notes-1.json", _notes(DAY1, 120))
    assert lake.promote(NOTES, DAY1).success
    assert [
        r.run_key is not None
        for r in classification_requests([NOTES], lake.catalog, lake.classification)
    ] == [True]
    first = lake.materialize([key], DAY1)
    assert first.success, failure_message(first)
    notes = lake.classification.columns(NOTES)["notes"].current
    assert (notes.semantic_type, notes.sensitivity) == ("free_text", "internal")
    assert classification_requests([NOTES], lake.catalog, lake.classification) == []

    # Day 2: operators paste IC numbers into 4% of the notes.
    lake.deliver(NOTES, DAY2, "notes-2.json", _notes(DAY2, 125, ic_every=25))
    published = lake.promote(NOTES, DAY2)
    assert published.success
    # The publish's column schema carries each column's classification (day 1's) as tags.
    schema = materialized(published, curated_key_of(NOTES))[DAY2]["dagster/column_schema"]
    tags = {c.name: c.tags for c in schema.columns}
    assert tags["notes"]["classification/semantic_type"] == "free_text"
    assert tags["notes"]["classification/decided_by"] == "classifier"
    [request] = classification_requests([NOTES], lake.catalog, lake.classification)
    assert request.tags["dagster/asset_partition_range_start"] == DAY2  # only the new one
    second = lake.materialize([key], DAY2)
    assert second.success, failure_message(second)

    record = lake.classification.columns(NOTES)["notes"]
    assert (record.current.semantic_type, record.current.sensitivity) == ("mykad", "pii")
    assert record.current.partitions == (DAY2, DAY2)
    [alert] = [a for a in lake.notifier.alerts() if a.kind == DRIFT_ALERT]
    assert (alert.detail["dataset"], alert.detail["column"], alert.detail["partition"]) == (
        NOTES,
        "notes",
        DAY2,
    )
    assert alert.detail["share"] == 0.04 and "4.0%" in alert.subject
    shown = materialized(second, key)[DAY2]
    assert shown["drifted"]["notes"].startswith("embedded.mykad 0 -> 0.04")
    assert "ticket_id" not in shown["columns_classified"]  # unchanged: not classified
    assert "1. mykad" in explain(NOTES, "notes", record)


def materialized(result, asset_key) -> dict[str, dict]:
    """The metadata values of each partition `result` recorded of `asset_key`."""
    return dict(
        found for event in result.all_events if (found := recorded_partition(event, asset_key))
    )
