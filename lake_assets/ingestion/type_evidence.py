"""What a payload says about its fields' types: only values are evidence.

A field with no non-null value (a header-only CSV, a key that is null in every record) was
typed "string" by the profiler for want of anything else. Taken at its word, that string
"changes" a date or narrows nothing into something and halts the source as BREAKING. Such a
field keeps the type the accepted schema already gives it; only a field nobody has typed yet
becomes a string.
"""

from __future__ import annotations

from lake_assets.ingestion.profiling import FileProfile
from lake_assets.ingestion.schema_versions import SchemaVersion


def evidenced_types(observed: FileProfile, baseline: SchemaVersion | None) -> dict[str, str]:
    """The observed field types, each field without values taking the baseline's type."""
    types = observed.field_types()
    if baseline is None:
        return types
    for field in observed.fields:
        if field.null_count >= field.row_count and field.name in baseline.fields:
            types[field.name] = baseline.fields[field.name]
    return types
