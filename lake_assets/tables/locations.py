"""Where everything lives in the lake: one prefix per zone, and in the table zone one folder
per run (promotion, history apply, mart) or compaction pass. No reader resolves a run's folder
until the catalog pointer of a partition is switched to it (publish.py). A query job (the
history's as-of) writes its rows to a folder of its own there too, removed once they are read.

Zones: raw/ (landed bytes, kept), dead-letter/ (objects no reader can parse), curated/ (every
published table: source datasets, histories, marts), quarantine/ (rejected rows, their own
access policy). Every part built from user input is checked by keys.py first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from lake_assets.tables.keys import check_date, check_object_name, check_source_id

# Every table is partitioned by event date, a directory level of its published folders; cost
# attribution's tables by month ("YYYY-MM").
PARTITION = "event_date"
MONTH = "month"


def raw_prefix(source_id: str, ingest_date: date | str | None = None) -> str:
    prefix = f"raw/source={check_source_id(source_id)}/"
    return prefix if ingest_date is None else f"{prefix}ingest_date={check_date(ingest_date)}/"


def raw_key(source_id: str, ingest_date: date | str, object_name: str) -> str:
    """The key of a landed object; each part is checked, so the key is inside the raw zone."""
    return f"{raw_prefix(source_id, ingest_date)}{check_object_name(object_name)}"


# The CUR as a source of the lake: deliveries land under raw/source=cur/. A raw source the
# platform lands itself, owned by its capability (cost/cur_assets.py) rather than declared in
# pipelines/: the arrival sensor leaves it alone and `lake status` does not call it undeclared.
CUR_SOURCE = "cur"
PLATFORM_RAW_SOURCES = frozenset({CUR_SOURCE})

# The lake's CUR 2.0 export (terraform/cost.tf) and where AWS Data Exports writes it in the
# lake's bucket: `<S3 prefix>/<export name>/`, then data/ and metadata/ per billing period. The
# cost/cur asset lands each new delivery from here into the raw zone.
CUR_EXPORT = "lake-cur"
CUR_EXPORT_PREFIX = f"exports/{CUR_EXPORT}/"


def cur_delivery_prefix(month: str, delivery_id: str | None = None) -> str:
    """Where the CUR's deliveries of a billing month land in the raw zone, one folder per
    delivery (AWS Data Exports' execution id), holding the export's files under their own
    relative keys (data/..., metadata/...). Not an ingest-date folder: the arrival sensor
    ignores the `cur` source, whose asset selects the month's latest complete delivery."""
    prefix = f"{raw_prefix(CUR_SOURCE)}billing_period={check_object_name(month)}/"
    return prefix if delivery_id is None else f"{prefix}delivery={check_object_name(delivery_id)}/"


def dead_letter_key(source_id: str, ingest_date: str, object_name: str) -> str:
    return f"dead-letter/source={source_id}/ingest_date={ingest_date}/{object_name}"


def run_output_prefix(dataset: str, run_id: str) -> str:
    """Each run writes its own folder; no reader resolves it until the catalog pointer of a
    partition is switched to a subfolder of it."""
    return f"curated/{dataset}/run={run_id}/"


def query_output_prefix(dataset: str, query_id: str) -> str:
    """Where a query job over `dataset` (the history's as-of) writes its rows for the
    orchestrator to read back (runtime/rows.py); removed once read, never published."""
    return f"curated/{dataset}/query={query_id}/"


def published_root(dataset: str, run_id: str) -> str:
    """The folder under which a run writes its partitions as `event_date=<d>/` subfolders (a
    job writing several partitions at once writes here, partitioned by event_date)."""
    return f"{run_output_prefix(dataset, run_id)}_zone=published/"


def published_location(dataset: str, run_id: str, partition: str) -> str:
    return f"{published_root(dataset, run_id)}{PARTITION}={partition}/"


def published_month_location(dataset: str, run_id: str, month: str) -> str:
    """A monthly table's partition (cost attribution's billing months, "YYYY-MM")."""
    return f"{published_root(dataset, run_id)}{MONTH}={month}/"


def written_quarantine_location(dataset: str, run_id: str, partition: str) -> str:
    """Where the job leaves rejected rows, before the orchestrator moves them to quarantine/."""
    return f"{run_output_prefix(dataset, run_id)}_zone=quarantined/{PARTITION}={partition}/"


def quarantine_location(dataset: str, run_id: str, partition: str) -> str:
    return f"quarantine/{dataset}/{PARTITION}={partition}/run={run_id}/"


def compaction_prefix(dataset: str, run_id: str) -> str:
    return f"curated/{dataset}/compaction={run_id}/"


def compacted_location(dataset: str, run_id: str, partition: str) -> str:
    """A compaction run writes each partition to a folder of its own; like a promotion run's
    folder, no reader resolves it until the partition's catalog pointer is switched to it."""
    return f"{compaction_prefix(dataset, run_id)}{PARTITION}={partition}/"


# --- from a key back to its dataset and partition ---------------------------------------------
# What reads a key it did not build (an audit of the bucket's object reads, access/trail.py)
# asks where it is. The layouts are the builders' own output with placeholders, so a layout
# changed above is recognised the same way here; the most specific come first. A raw key is the
# raw zone's own (ingestion/raw_zone.py parses it with its grammar).


@dataclass(frozen=True)
class Located:
    """The lake's place of a key: its zone (its first folder), its dataset (a source for
    dead-letter/), and its partition (an event date, a billing month, a dead letter's ingest
    date; None where the folder names none: a history version, a query's output, a run's
    other files)."""

    zone: str
    dataset: str
    partition: str | None


_DATASET, _RUN, _PARTITION = "\x00dataset\x00", "\x00run\x00", "\x00partition\x00"
_PLACES = {
    _DATASET: r"(?P<dataset>[^/=]+)",
    _RUN: r"[^/]+",
    _PARTITION: r"(?P<partition>[^/]+)",
}


def _layout(built: str) -> re.Pattern:
    pattern = re.escape(built)
    for placeholder, group in _PLACES.items():
        pattern = pattern.replace(re.escape(placeholder), group)
    return re.compile(pattern)


_LAYOUTS = tuple(
    _layout(built)
    for built in (
        published_location(_DATASET, _RUN, _PARTITION),
        published_month_location(_DATASET, _RUN, _PARTITION),
        written_quarantine_location(_DATASET, _RUN, _PARTITION),
        compacted_location(_DATASET, _RUN, _PARTITION),
        quarantine_location(_DATASET, _RUN, _PARTITION),
        dead_letter_key(_DATASET, _PARTITION, ""),
        # Anything else in a dataset's folder of the zones of tables: a run's or a compaction's
        # other files, a history version, a query's output, the late arrivals in quarantine/.
        f"curated/{_DATASET}/",
        f"quarantine/{_DATASET}/",
    )
)


def located(key: str) -> Located | None:
    """Where `key` lies in the curated, quarantine or dead-letter zone; None for a key of no
    dataset there (another zone, the platform's own folders)."""
    for layout in _LAYOUTS:
        match = layout.match(key)
        if match:
            groups = match.groupdict()
            return Located(key.split("/", 1)[0], groups["dataset"], groups.get("partition"))
    return None
