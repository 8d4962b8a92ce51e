"""The curated zone's column names: a source field's column, and the columns the lake adds to
its rows or works with beside them on the way from raw. Pure, so that profiling refuses on
arrival a payload whose fields could not each be a column (ADR-0186), by the rules promotion
names the columns with.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from lake_assets.tables.locations import PARTITION

# Added to every curated row so a record can be traced to the payload and day it came from.
# Event time is the source's own field; processing time is `_ingested_at`, when the payload
# landed. Both stay in curated data, so lateness can be measured and backfills reasoned about.
LINEAGE_COLUMNS = {"_source_file": "string", "_ingest_date": "date", "_ingested_at": "timestamp"}
# Beside a record's fields while promotion reads and types it (raw_records, promotion, hooks).
CORRUPT = "_corrupt_record"  # a malformed record's text, Spark's corrupt-record column
FILE_PATH = "_file_path"  # the file a record came from, as its reader reports it
REASONS = "_reject_reasons"  # why a row is quarantined
RAW_RECORD = "_raw_record"  # a quarantined row's fields as delivered
ZONE = "_zone"  # curated or quarantined
HOOKED = "_hooked_record"  # a record after the pipeline's record_transform
# Beside them while the contract's rules judge the rows (contracts/rules.py).
VIOLATIONS = "_contract_violations"  # the rules a row violates
REF_KEY, REF_FOUND, REF_SPAN, REF_DAYS = "_ri_key", "_ri_found", "_ri_span", "_ri_days"
# A violating row's rule, and its place in the sample, beside the columns its rules read: named
# apart from what a source may call a field, which would make Spark's reference ambiguous.
SAMPLE_RULE, SAMPLE_RANK = "_violated_rule", "_violation_rank"
LAKE_COLUMNS = frozenset(
    {
        *LINEAGE_COLUMNS,
        PARTITION,
        CORRUPT,
        FILE_PATH,
        REASONS,
        RAW_RECORD,
        ZONE,
        HOOKED,
        VIOLATIONS,
        REF_KEY,
        REF_FOUND,
        REF_SPAN,
        REF_DAYS,
        SAMPLE_RULE,
        SAMPLE_RANK,
    }
)

# Field names come from payloads (JSON keys, CSV headers) and may hold anything: backticks,
# spaces, quotes. A curated column is a plain identifier, the same in Spark, SQL, Athena and Glue.
_NOT_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")


def column_name(canonical: str) -> str:
    """Curated column for a canonical field: nested paths are flattened with "__", because
    dots in column names trip up every SQL engine that reads the curated zone, and any other
    character that is not a letter, digit or underscore becomes "_"."""
    return _NOT_IDENTIFIER.sub("_", canonical.replace(".", "__"))


def column_clashes(fields: Iterable[str]) -> list[str]:
    """Why `fields` (dotted profile names) cannot each be a curated column of its own, one
    reason per column or object; none when they can. Spark, Glue and Athena ignore a name's
    case, so `id` and `ID` are one column, as are `a b` and `a_b`, and the objects of `x.Y.z`
    and `x.y.w` one object to Spark's parser; a field named as a column the lake adds
    (`_source_file`, `event_date`) would be overwritten by it or make Spark's reference to it
    ambiguous (ADR-0186)."""
    by_column: dict[str, set[str]] = defaultdict(set)
    by_path: dict[str, set[str]] = defaultdict(set)  # an object's or a field's, in any case
    objects: set[str] = set()
    for name in fields:
        by_column[column_name(name).lower()].add(name)
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            path = ".".join(parts[:depth])
            by_path[path.lower()].add(path)
            objects |= {path} if depth < len(parts) else set()
    reasons = []
    for column, names in sorted(by_column.items()):
        quoted = ("field " if len(names) == 1 else "fields ") + _both(names)
        if column in LAKE_COLUMNS:
            reasons.append(f"{quoted}: {column!r} is a column name the lake uses itself")
        elif len(names) > 1:
            reasons.append(f"{quoted}: one column ({column}) to Spark, Glue and Athena")
    for _, spellings in sorted(by_path.items()):
        if len(spellings) > 1 and spellings & objects:  # two fields alone: a column's clash
            reasons.append(f"keys {_both(spellings)}: one key to Spark, Glue and Athena")
    return reasons


def _both(names: set[str]) -> str:
    return " and ".join(map(repr, sorted(names)))
