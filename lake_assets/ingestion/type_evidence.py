"""What a payload says about its fields' types: only values are evidence.

A field with no non-null value (a header-only CSV, a key that is null in every record) is
typed "string" by the profiler for want of anything else. Taken at its word, that string
"changes" a date or narrows nothing into something and halts the source as BREAKING. Such a
field keeps the type the accepted schema already gives it; a field nobody has typed yet is
UNTYPED, which the first values refine without a breaking change. (Unless another field of the
payload now serves its name: then it is an old key left behind by a rename, and the registry
judges it absent: schema_registry.emptied_old_keys.)
"""

from __future__ import annotations

from lake_assets.ingestion.profiling import FileProfile
from lake_assets.ingestion.schema_versions import SchemaVersion
from lake_assets.tables.types import UNTYPED


def evidenced_types(observed: FileProfile, baseline: SchemaVersion | None) -> dict[str, str]:
    """The observed field types, each field without values taking the baseline's type, or
    UNTYPED when the baseline has none for it."""
    types = observed.field_types()
    known = baseline.fields if baseline is not None else {}
    for field in observed.fields:
        if not field.has_values:
            types[field.name] = known.get(field.name, UNTYPED)
    return types
