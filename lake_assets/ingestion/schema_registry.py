"""The schema registry's logic: how an observed payload schema becomes (or joins) a version.

Pure functions over `SchemaVersion` records; persistence lives in resources/registry_store.py.

Versioning is union by default (ADR-0003): a payload whose shape matches an existing version
joins it; a new shape becomes a new version, ACTIVE when it is compatible with the accepted
history under the source's compatibility mode, BREAKING otherwise. All comparisons happen in
the *canonical* namespace: a field renamed with approval (`txn_date -> transaction_date`) is
the same field as its canonical name, so history stays comparable across renames. Rename
proposals come from rename_detection.py.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from lake_assets.ingestion.curated_columns import column_clashes
from lake_assets.ingestion.profiling import FieldProfile, FileProfile
from lake_assets.ingestion.rename_detection import propose_renames
from lake_assets.ingestion.schema_versions import FieldDiff, SchemaVersion
from lake_assets.ingestion.type_evidence import evidenced_types
from lake_assets.tables.types import is_narrowing, is_widening, widest

ACCEPTED = ("ACTIVE", "DEPRECATED")


class SchemaRegistryError(ValueError):
    """A registry request that cannot be carried out; the message says which source and why."""


# --- compatibility ---------------------------------------------------------------------------
#
# Each mode is a set of change kinds it forbids. A change is judged in the direction the
# mode names (ADR-0003):
#   BACKWARD: a consumer on the new schema reads data written under earlier ones. Added
#     fields read as null from old data and removed fields are ignored; a narrowed or changed
#     type cannot hold the old values.
#   FORWARD: a consumer still on an earlier schema reads new data. An added field is ignored;
#     a removed field comes back null for every new record (the silent drift that makes a
#     report miss 40% of its rows); a changed type is unreadable. Widening is allowed because
#     the catalog serves the widened type to every reader and the promotion is lossless.
#   FULL: both. The default, because it forbids exactly removals, narrowing and changes.
#   *_TRANSITIVE: against every accepted earlier version instead of only the latest.

_FORBIDDEN: dict[str, frozenset[str]] = {
    "BACKWARD": frozenset({"narrowed", "changed"}),
    "FORWARD": frozenset({"removed", "changed"}),
    "FULL": frozenset({"removed", "narrowed", "changed"}),
    "NONE": frozenset(),
}


def _mode_parts(mode: str) -> tuple[frozenset[str], bool]:
    base, _, transitive = mode.partition("_")
    if base not in _FORBIDDEN or transitive not in ("", "TRANSITIVE") or mode == "NONE_TRANSITIVE":
        raise SchemaRegistryError(f"unknown compatibility mode {mode!r}")
    return _FORBIDDEN[base], bool(transitive)


def violations(mode: str, diff: FieldDiff) -> list[str]:
    """Human-readable reasons why `diff` breaks `mode`, empty when it is compatible."""
    forbidden, _ = _mode_parts(mode)
    found = []
    if "removed" in forbidden:
        found += [f"field {name!r} ({kind}) was removed" for name, kind in diff.removed.items()]
    if "narrowed" in forbidden:
        found += [f"field {n!r} narrowed from {a} to {b}" for n, (a, b) in diff.narrowed.items()]
    if "changed" in forbidden:
        found += [f"field {n!r} changed from {a} to {b}" for n, (a, b) in diff.changed.items()]
    return found


def compatibility_violations(
    mode: str, observed: dict[str, str], history: Sequence[SchemaVersion]
) -> list[str]:
    """Check canonical `observed` fields against the accepted history under `mode`."""
    _, transitive = _mode_parts(mode)
    accepted = [v for v in history if v.status in ACCEPTED]
    against = accepted if transitive else accepted[-1:]
    found: list[str] = []
    for version in against:
        for reason in violations(mode, diff_fields(canonical_fields(version), observed)):
            found.append(reason if len(against) == 1 else f"{reason} (since {version.version})")
    return found


# --- diffing ---------------------------------------------------------------------------------


def canonical_fields(version: SchemaVersion) -> dict[str, str]:
    """The version's fields under their canonical names (approved renames applied)."""
    return {version.approved_renames.get(name, name): kind for name, kind in version.fields.items()}


def diff_fields(old: dict[str, str], new: dict[str, str]) -> FieldDiff:
    """Field-level changes from `old` to `new` (no rename detection)."""
    common = old.keys() & new.keys()
    return FieldDiff(
        added={n: new[n] for n in new if n not in old},
        removed={n: old[n] for n in old if n not in new},
        widened={n: (old[n], new[n]) for n in sorted(common) if is_widening(old[n], new[n])},
        narrowed={n: (old[n], new[n]) for n in sorted(common) if is_narrowing(old[n], new[n])},
        changed={
            n: (old[n], new[n])
            for n in sorted(common)
            if old[n] != new[n]
            and not is_widening(old[n], new[n])
            and not is_narrowing(old[n], new[n])
        },
    )


# --- registration ----------------------------------------------------------------------------


def fingerprint(fields: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(sorted(fields.items())).encode()).hexdigest()[:16]


def next_version_id(history: Sequence[SchemaVersion], now: datetime) -> str:
    """`version#<UTC timestamp>`, strictly after the newest existing one."""
    stamp = now.astimezone(UTC).replace(tzinfo=None)
    if history:
        newest = datetime.strptime(history[-1].version, "version#%Y-%m-%dT%H:%M:%S.%fZ")
        stamp = max(stamp, newest + timedelta(microseconds=1))
    return "version#" + stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def latest_accepted(history: Sequence[SchemaVersion]) -> SchemaVersion | None:
    accepted = [v for v in history if v.status in ACCEPTED]
    return accepted[-1] if accepted else None


def blocking_version(history: Sequence[SchemaVersion]) -> SchemaVersion | None:
    """The newest BREAKING version not yet approved, which stops promotion of the source."""
    return next((v for v in reversed(history) if v.is_blocking), None)


def register_observation(
    source_id: str,
    compatibility: str,
    observed: FileProfile,
    history: Sequence[SchemaVersion],
    now: datetime,
) -> tuple[SchemaVersion, list[SchemaVersion]]:
    """The version an observed payload belongs to, and the records to write.

    Returns `(version, changed)`: `changed` holds the new version (if one was created) and
    any earlier version whose status changes (the previous ACTIVE becomes DEPRECATED).
    """
    baseline = latest_accepted(history)
    emptied = emptied_old_keys(observed, baseline)
    fields = {n: k for n, k in evidenced_types(observed, baseline).items() if n not in emptied}
    print_ = fingerprint(fields)
    for existing in history:
        if existing.fingerprint == print_:
            return existing, []

    renames = {}
    if baseline is not None:
        # Approved renames carry forward while the renamed field is still delivered.
        renames = {f: c for f, c in baseline.approved_renames.items() if f in fields}
    canonical_observed = {renames.get(name, name): kind for name, kind in fields.items()}
    diff = diff_fields(canonical_fields(baseline) if baseline else {}, canonical_observed)
    if baseline is not None and diff.removed and diff.added:
        old_profiles = _profiles_by_canonical(baseline)
        diff = replace(
            diff,
            renamed=propose_renames(
                {n: old_profiles[n] for n in diff.removed if n in old_profiles},
                {n: observed.field(n) for n in diff.added},
            ),
        )
    reasons = compatibility_violations(compatibility, canonical_observed, history)
    # In any mode: a mode that allows the removal (BACKWARD, NONE) would otherwise accept
    # `Status` for `status` as a second column of one name, which no promotion can publish;
    # approved as a rename, it is one column (ADR-0186).
    reasons += column_clashes({**canonical_schema(history), **canonical_observed})
    version = SchemaVersion(
        source_id=source_id,
        version=next_version_id(history, now),
        fields=fields,
        field_diff=diff,
        status="BREAKING" if reasons else "ACTIVE",
        compatibility=compatibility,
        created_at=now.isoformat(),
        fingerprint=print_,
        profiles={p.name: p.to_dict() for p in observed.fields if p.name not in emptied},
        violations=reasons,
        approved_renames=renames,
    )
    changed = [version]
    if version.status == "ACTIVE" and baseline is not None and baseline.status == "ACTIVE":
        changed.append(replace(baseline, status="DEPRECATED"))
    return version, changed


def emptied_old_keys(observed: FileProfile, baseline: SchemaVersion | None) -> set[str]:
    """The payload's fields that arrive without a value under a name another of its fields now
    serves: the source renamed the field and still sends the old key, null (`"transaction_date":
    null` beside `txn_date`, or an emptied CSV column). Either an approved rename already maps a
    field of the payload to that name, or the payload adds a field that rename detection takes
    for it (the old field had values). Such a field is judged absent: the rename is proposed and
    blocks as a removal does, and once approved the null key is not a second source of the
    canonical field (ADR-0130). An empty field with nothing like it in the payload keeps its
    place (type_evidence)."""
    if baseline is None:
        return set()
    before = _profiles_by_canonical(baseline)

    def canonical(name: str) -> str:
        return baseline.approved_renames.get(name, name)

    valued = {f.name: f for f in observed.fields if f.has_values}
    empty = {f.name for f in observed.fields if f.row_count and f.name not in valued}
    served = {canonical(name) for name in valued}
    emptied = {name for name in empty if canonical(name) in served}
    had_values = {
        canonical(name): name
        for name in empty - emptied
        if canonical(name) in before and before[canonical(name)].has_values
    }
    added = {name: f for name, f in valued.items() if canonical(name) not in before}
    if had_values and added:
        proposed = propose_renames({c: before[c] for c in had_values}, added)
        emptied |= {had_values[candidate.old] for candidate in proposed}
    return emptied


def _profiles_by_canonical(version: SchemaVersion) -> dict[str, FieldProfile]:
    return {
        version.approved_renames.get(name, name): FieldProfile.from_dict(profile)
        for name, profile in version.profiles.items()
    }


def approve(
    history: Sequence[SchemaVersion],
    version_id: str,
    now: datetime,
    renames: dict[str, str] | None = None,
    removals: Sequence[str] = (),
    type_changes: Sequence[str] = (),
) -> list[SchemaVersion]:
    """Accept a BREAKING version with an explicit resolution of every violation.

    `renames` maps a field of the version to the canonical field it replaces
    (`{"txn_date": "transaction_date"}`); `removals` accepts canonical fields as gone (they
    stay in the curated schema, null from now on); `type_changes` accepts narrowed or changed
    types. Returns the records to write: the approved version and a deprecated predecessor.
    """
    renames = dict(renames or {})
    version = next((v for v in history if v.version == version_id), None)
    if version is None:
        raise SchemaRegistryError(f"{_source(history)} has no version {version_id!r}")
    if version.status != "BREAKING":
        raise SchemaRegistryError(
            f"{version.source_id} {version_id} is {version.status}; only BREAKING versions "
            "need approval"
        )
    diff = version.field_diff
    # A rename maps onto a field this version removed, or onto one an accepted version delivered
    # and this one lacks: `Status` for the `status` a BACKWARD source dropped before (ADR-0186).
    delivered = canonical_fields(version)
    gone = {n: k for n, k in canonical_schema(history).items() if n not in delivered}
    gone |= diff.removed
    for new, old in renames.items():
        if new not in diff.added:
            raise SchemaRegistryError(
                f"{version.source_id} {version_id}: {new!r} is not a field this version added "
                f"(added: {', '.join(diff.added) or 'none'})"
            )
        if old not in gone:
            raise SchemaRegistryError(
                f"{version.source_id} {version_id}: {old!r} is not a field this version removed "
                f"or an earlier one delivered (removed: {', '.join(gone) or 'none'})"
            )
        if gone[old] != diff.added[new] and not is_widening(gone[old], diff.added[new]):
            if new not in type_changes:
                raise SchemaRegistryError(
                    f"{version.source_id} {version_id}: renaming {new!r} to {old!r} also changes "
                    f"its type {gone[old]} -> {diff.added[new]}; accept the type change too"
                )
    unresolved = [
        name for name in diff.removed if name not in renames.values() and name not in removals
    ]
    unresolved += [name for name in (*diff.narrowed, *diff.changed) if name not in type_changes]
    if unresolved:
        raise SchemaRegistryError(
            f"{version.source_id} {version_id} still has unresolved breaking changes in "
            f"{', '.join(sorted(unresolved))}: map each removed field with a rename, accept it "
            f"as removed, or accept the type change; as proposed: {approval_command(version)}"
        )
    approved = replace(
        version,
        status="ACTIVE",
        approved_renames={**version.approved_renames, **renames},
        approved_removals=sorted(removals),
        approved_at=now.isoformat(),
    )
    # A field accepted as removed stays a curated column: a new spelling of it (`Memo` for
    # `memo`) would be a second column of the same name to Spark, Glue and Athena.
    if clashes := column_clashes(canonical_schema([*history, approved])):
        raise SchemaRegistryError(
            f"{version.source_id} {version_id} approved so would publish fields that cannot "
            f"each be a curated column: {'; '.join(clashes)}; map the new spelling onto the "
            "old one with --rename NEW=OLD"
        )
    changed = [approved]
    baseline = latest_accepted([v for v in history if v.version < version_id])
    if baseline is not None and baseline.status == "ACTIVE":
        changed.append(replace(baseline, status="DEPRECATED"))
    return changed


def proposed_resolution(version: SchemaVersion) -> dict[str, Any]:
    """The arguments of `approve` that resolve every break of `version` as the registry proposes:
    each proposed rename, every other removed field accepted as removed, and every narrowed or
    changed type (a rename's too) accepted."""
    diff = version.field_diff
    renames = {c.new: c.old for c in diff.renamed if c.new in diff.added and c.old in diff.removed}
    retyped = [
        new
        for new, old in renames.items()
        if diff.removed[old] != diff.added[new]
        and not is_widening(diff.removed[old], diff.added[new])
    ]
    return {
        "renames": renames,
        "removals": [name for name in diff.removed if name not in renames.values()],
        "type_changes": [*retyped, *diff.narrowed, *diff.changed],
    }


def approval_command(version: SchemaVersion) -> str:
    """The `lake registry approve` command, quoted for a shell, that approves `version` as
    proposed: what a refusal and an alert tell the operator to run (after reviewing it)."""
    resolution = proposed_resolution(version)
    words = ["lake", "registry", "approve", version.source_id, version.version]
    for new, old in resolution["renames"].items():
        words += ["--rename", f"{new}={old}"]
    for name in resolution["removals"]:
        words += ["--accept-removal", name]
    for name in resolution["type_changes"]:
        words += ["--accept-type-change", name]
    return shlex.join(words)


def _source(history: Sequence[SchemaVersion]) -> str:
    return history[0].source_id if history else "the source"


# --- the curated view ------------------------------------------------------------------------


def canonical_schema(history: Sequence[SchemaVersion]) -> dict[str, str]:
    """Union of every accepted version's fields under canonical names, types widened."""
    schema: dict[str, str] = {}
    for version in history:
        if version.status not in ACCEPTED:
            continue
        for name, kind in canonical_fields(version).items():
            schema[name] = widest(schema[name], kind) if name in schema else kind
    return schema


def source_field(version: SchemaVersion, canonical: str | None) -> str | None:
    """The name `version` delivers the canonical field under, or None if it lacks it (or is
    asked for none: a source partitioned by ingest date has no partition field)."""
    for name in version.fields:
        if version.approved_renames.get(name, name) == canonical:
            return name
    return None


def describe_diff(diff: FieldDiff) -> list[str]:
    """One line per change, for the CLI and alert messages."""
    lines = [f"+ {n}: {t}" for n, t in diff.added.items()]
    lines += [f"- {n}: {t}" for n, t in diff.removed.items()]
    lines += [f"^ {n}: {a} -> {b} (widened)" for n, (a, b) in diff.widened.items()]
    lines += [f"v {n}: {a} -> {b} (narrowed)" for n, (a, b) in diff.narrowed.items()]
    lines += [f"! {n}: {a} -> {b} (changed)" for n, (a, b) in diff.changed.items()]
    lines += [f"~ {c.old} -> {c.new}? rename confidence {c.confidence:.2f}" for c in diff.renamed]
    return lines
