"""The registry's logic: versioning, the seven compatibility modes, rename detection, approval."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from lake_assets.ingestion.profiling import FieldProfile, FileProfile
from lake_assets.ingestion.promotion_plan import plan_promotion
from lake_assets.ingestion.rename_detection import name_similarity
from lake_assets.ingestion.schema_registry import (
    SchemaRegistryError,
    approve,
    blocking_version,
    canonical_schema,
    next_version_id,
    register_observation,
    source_field,
)
from lake_assets.ingestion.value_sketches import value_hash

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SIGNATURES = {
    "timestamp": "9999-99-99A99:99:99A",
    "date": "9999-99-99",
    "integer": "999",
    "double": "999.99",
    "string": "AAA-9999",
    "boolean": "aaaa",
}


def field_profile(
    name: str, kind: str, values: range | None = None, nulls: int = 0
) -> FieldProfile:
    values = values if values is not None else range(100)
    sketch = tuple(sorted(value_hash(f"{name}-{v}") for v in values)[:128])
    return FieldProfile(
        name=name,
        type=kind,
        row_count=len(values) + nulls,
        null_count=nulls,
        distinct_estimate=len(values),
        format_signature=SIGNATURES[kind],
        format_share=1.0,
        value_sketch=sketch,
        dates=(),
    )


def observed(empty: tuple[str, ...] = (), **fields: str) -> FileProfile:
    """A payload of 100 records with `fields`, and those named in `empty` null in every one."""
    profiles = [field_profile(n, k) for n, k in fields.items() if n not in empty]
    profiles += [field_profile(n, "string", range(0), nulls=100) for n in empty]
    return FileProfile(
        format="json",
        row_count=100,
        malformed_rows=0,
        fields=tuple(sorted(profiles, key=lambda p: p.name)),
    )


class Registry:
    """A history that grows as observations are registered, like the store would."""

    def __init__(self, mode: str = "FULL"):
        self.mode, self.history, self.clock = mode, [], NOW

    def observe(self, profile: FileProfile, mode: str | None = None):
        self.clock += timedelta(minutes=1)
        version, changed = register_observation(
            "cards", mode or self.mode, profile, self.history, self.clock
        )
        self._write(changed)
        return version

    def approve(self, version_id: str, **resolution):
        self._write(approve(self.history, version_id, self.clock, **resolution))

    def _write(self, changed):
        by_id = {v.version: v for v in self.history}
        by_id.update({v.version: v for v in changed})
        self.history = sorted(by_id.values(), key=lambda v: v.version)


def test_first_payload_creates_an_active_version_with_every_field_added():
    registry = Registry()
    version = registry.observe(observed(id="string", amount="double"))
    assert version.status == "ACTIVE"
    assert version.field_diff.added == {"amount": "double", "id": "string"}
    assert version.version.startswith("version#2026-03-02T09:01:00")


def test_payload_with_a_known_shape_joins_its_version():
    registry = Registry()
    first = registry.observe(observed(id="string", amount="double"))
    again = registry.observe(observed(amount="double", id="string"))
    assert again.version == first.version
    assert len(registry.history) == 1


# One change at a time against v1 = {id: string, amount: integer, when: date}.
CHANGES = {
    "added": dict(id="string", amount="integer", when="date", channel="string"),
    "removed": dict(id="string", amount="integer"),
    "widened": dict(id="string", amount="double", when="date"),
    "narrowed": dict(id="string", amount="integer", when="date"),  # from v1' with amount double
    "changed": dict(id="string", amount="string", when="date"),
}
ALLOWED = {
    "BACKWARD": {"added", "removed", "widened"},
    "FORWARD": {"added", "widened", "narrowed"},
    "FULL": {"added", "widened"},
    "NONE": {"added", "removed", "widened", "narrowed", "changed"},
}


@pytest.mark.parametrize("transitive", ["", "_TRANSITIVE"])
@pytest.mark.parametrize("base_mode", ["BACKWARD", "FORWARD", "FULL", "NONE"])
@pytest.mark.parametrize("change", list(CHANGES))
def test_compatibility_matrix(base_mode, transitive, change):
    mode = base_mode + transitive if base_mode != "NONE" else "NONE"
    registry = Registry(mode)
    start = dict(id="string", amount="double" if change == "narrowed" else "integer", when="date")
    registry.observe(observed(**start))
    version = registry.observe(observed(**CHANGES[change]))
    expected = "ACTIVE" if change in ALLOWED[base_mode] else "BREAKING"
    assert version.status == expected, version.violations
    assert bool(version.violations) == (expected == "BREAKING")


# A history written under NONE, then checked under a stricter mode: only transitive modes look
# past the latest version. v1 {a:int, b:int} -> v2 {a:int} (b dropped) -> v3 adds b or c.
TRANSITIVE_CASES = {
    "BACKWARD": ("ACTIVE", {"a": "integer", "b": "string"}),
    "BACKWARD_TRANSITIVE": ("BREAKING", {"a": "integer", "b": "string"}),
    "FORWARD": ("ACTIVE", {"a": "integer", "c": "string"}),
    "FORWARD_TRANSITIVE": ("BREAKING", {"a": "integer", "c": "string"}),
    "FULL": ("ACTIVE", {"a": "integer", "c": "string"}),
    "FULL_TRANSITIVE": ("BREAKING", {"a": "integer", "c": "string"}),
    "NONE": ("ACTIVE", {"a": "integer", "b": "string"}),
}


@pytest.mark.parametrize("mode", list(TRANSITIVE_CASES))
def test_transitive_modes_check_every_earlier_version(mode):
    expected, third = TRANSITIVE_CASES[mode]
    registry = Registry("NONE")
    registry.observe(observed(a="integer", b="integer"))
    registry.observe(observed(a="integer"))
    version = registry.observe(observed(**third), mode=mode)
    assert version.status == expected, version.violations
    if expected == "BREAKING":
        assert any("since version#" in reason for reason in version.violations)


def test_unknown_mode_is_refused():
    with pytest.raises(SchemaRegistryError, match="SIDEWAYS"):
        Registry("SIDEWAYS").observe(observed(a="string"))


def test_new_active_version_deprecates_the_previous_one():
    registry = Registry()
    registry.observe(observed(a="string"))
    registry.observe(observed(a="string", b="integer"))
    assert [v.status for v in registry.history] == ["DEPRECATED", "ACTIVE"]


CARDS_V1 = dict(transaction_id="string", amount="double", transaction_date="timestamp")
CARDS_RENAMED = dict(
    transaction_id="string",
    amount="double",
    txn_date="timestamp",
    channel="string",
    device_id="string",
)


def test_rename_is_detected_and_proposed_with_confidence():
    registry = Registry()
    registry.observe(observed(**CARDS_V1))
    version = registry.observe(observed(**CARDS_RENAMED))
    assert version.status == "BREAKING"
    assert version.field_diff.removed == {"transaction_date": "timestamp"}
    assert set(version.field_diff.added) == {"txn_date", "channel", "device_id"}
    [candidate] = version.field_diff.renamed
    assert (candidate.old, candidate.new) == ("transaction_date", "txn_date")
    assert candidate.confidence >= 0.75
    assert candidate.evidence["type"] == 1.0 and candidate.evidence["name"] == 0.9
    assert blocking_version(registry.history).version == version.version


def test_a_rename_whose_old_key_still_arrives_null_is_proposed_and_blocks():
    """The seed's drift in its quieter form: the source sends `txn_date` and keeps
    `"transaction_date": null`. Typed from its history, the null key hid the removal: the
    version was ACTIVE and curated filled transaction_date with nulls. Judged absent, the
    rename is proposed and blocks until approved (ADR-0130)."""
    registry = Registry()
    registry.observe(observed(**CARDS_V1))
    transitional = observed(empty=("transaction_date",), **CARDS_RENAMED)
    breaking = registry.observe(transitional)
    assert breaking.status == "BREAKING" and "transaction_date" not in breaking.fields
    assert breaking.field_diff.removed == {"transaction_date": "timestamp"}
    [candidate] = breaking.field_diff.renamed
    assert (candidate.old, candidate.new) == ("transaction_date", "txn_date")
    registry.approve(breaking.version, renames={"txn_date": "transaction_date"})
    # Once approved, payloads with or without the null key join the version: the null key is
    # never a second source of transaction_date.
    assert registry.observe(transitional).version == breaking.version
    assert registry.observe(observed(**CARDS_RENAMED)).version == breaking.version
    # A field merely empty in a payload that adds nothing like it keeps its place.
    quiet = registry.observe(observed(empty=("channel",), **CARDS_RENAMED))
    assert quiet.version == breaking.version and registry.history[-1].status == "ACTIVE"
    after_quiet = registry.observe(observed(empty=("amount",), **CARDS_RENAMED, risk="boolean"))
    assert after_quiet.status == "ACTIVE" and after_quiet.fields["amount"] == "double"


def test_value_overlap_raises_rename_confidence():
    base = field_profile("account_ref", "string", range(0, 100))
    same_values = FieldProfile(**{**base.__dict__, "name": "acct_reference"})
    other_values = FieldProfile(
        **{
            **field_profile("acct_reference", "string", range(500, 600)).__dict__,
            "name": "acct_reference",
        }
    )
    from lake_assets.ingestion.rename_detection import score_rename

    assert score_rename(base, same_values).confidence > score_rename(base, other_values).confidence
    assert score_rename(base, same_values).evidence["value_overlap"] == pytest.approx(1.0)


def test_incompatible_types_are_never_rename_candidates():
    from lake_assets.ingestion.rename_detection import score_rename

    assert score_rename(field_profile("amount", "double"), field_profile("amt", "boolean")) is None


def test_abbreviations_score_as_similar_names():
    assert name_similarity("transaction_date", "txn_date") == 0.9
    assert name_similarity("customer_id", "cust_id") == 0.9
    assert name_similarity("transaction_date", "channel") < 0.5


def test_approving_a_rename_maps_the_new_name_to_the_canonical_field():
    registry = Registry()
    registry.observe(observed(**CARDS_V1))
    breaking = registry.observe(observed(**CARDS_RENAMED))
    registry.approve(breaking.version, renames={"txn_date": "transaction_date"})
    approved = registry.history[-1]
    assert approved.status == "ACTIVE" and approved.approved_at is not None
    assert registry.history[0].status == "DEPRECATED"
    assert blocking_version(registry.history) is None
    schema = canonical_schema(registry.history)
    assert "txn_date" not in schema and schema["transaction_date"] == "timestamp"
    assert {"channel", "device_id"} <= schema.keys()
    assert source_field(approved, "transaction_date") == "txn_date"
    # The next day's payload has the same shape: it joins the approved version.
    assert registry.observe(observed(**CARDS_RENAMED)).version == approved.version
    # A later additive change stays compatible and keeps the rename.
    later = registry.observe(observed(**CARDS_RENAMED, risk_flag="boolean"))
    assert later.status == "ACTIVE"
    assert later.approved_renames == {"txn_date": "transaction_date"}


def test_approval_must_resolve_every_breaking_change():
    registry = Registry()
    registry.observe(observed(**CARDS_V1, merchant="string"))
    breaking = registry.observe(observed(**CARDS_RENAMED))
    with pytest.raises(SchemaRegistryError, match="unresolved breaking changes in merchant"):
        registry.approve(breaking.version, renames={"txn_date": "transaction_date"})
    with pytest.raises(SchemaRegistryError, match="'channel' is not a field this version removed"):
        registry.approve(breaking.version, renames={"txn_date": "channel"})
    registry.approve(
        breaking.version, renames={"txn_date": "transaction_date"}, removals=["merchant"]
    )
    assert registry.history[-1].approved_removals == ["merchant"]
    assert "merchant" in canonical_schema(registry.history)


def test_a_new_spelling_accepted_beside_the_removed_one_is_refused_for_a_rename():
    """`Memo` replacing `memo`, approved as an addition and a removal, would keep both as curated
    columns, which Spark, Glue and Athena take for one (ADR-0186): the approval is refused
    and says to map one onto the other; the rename is approved."""
    registry = Registry()
    registry.observe(observed(id="string", memo="string"))
    breaking = registry.observe(observed(id="string", Memo="string"))
    with pytest.raises(SchemaRegistryError) as refused:
        registry.approve(breaking.version, removals=["memo"])
    assert str(refused.value) == (
        f"cards {breaking.version} approved so would publish fields that cannot each be a "
        "curated column: fields 'Memo' and 'memo': one column (memo) to Spark, Glue and Athena; "
        "map the new spelling onto the old one with --rename NEW=OLD"
    )
    assert blocking_version(registry.history) == breaking
    registry.approve(breaking.version, renames={"Memo": "memo"})
    assert canonical_schema(registry.history) == {"id": "string", "memo": "string"}


@pytest.mark.parametrize("mode", ["BACKWARD", "NONE"])
def test_a_new_spelling_is_breaking_even_where_the_mode_allows_the_removal(mode):
    """BACKWARD and NONE accept a removed field; `Status` for `status` would then be a second
    column of one name, which no promotion can publish: the version blocks until approved as a
    rename (ADR-0186)."""
    registry = Registry(mode)
    registry.observe(observed(id="string", status="string"))
    assert registry.observe(observed(id="string", extra="string")).status == "ACTIVE"
    spelled = registry.observe(observed(id="string", Status="string"))
    assert spelled.status == "BREAKING"
    assert spelled.violations[-1] == (
        "fields 'Status' and 'status': one column (status) to Spark, Glue and Athena"
    )
    registry.approve(spelled.version, renames={"Status": "status"}, removals=["extra"])
    assert canonical_schema(registry.history) == {
        "extra": "string",
        "id": "string",
        "status": "string",
    }


def test_a_registry_approved_before_the_refusal_is_refused_by_the_plan_naming_the_fields():
    """A registry whose versions were accepted before profiling and approval refused such
    fields: promotion fails with the lake's reason, not Spark's COLUMN_ALREADY_EXISTS."""
    registry = Registry()
    registry.observe(observed(id="string", memo="string", transaction_date="timestamp"))
    breaking = registry.observe(observed(id="string", Memo="string", transaction_date="timestamp"))
    registry._write([replace(breaking, status="ACTIVE", approved_removals=["memo"])])
    with pytest.raises(LookupError) as refused:
        plan_promotion(
            "cards", "transaction_date", "json", ["2026-03-02"], registry.history, [], str
        )
    assert str(refused.value) == (
        "cards: its accepted schema versions hold fields that cannot each be a curated column: "
        "fields 'Memo' and 'memo': one column (memo) to Spark, Glue and Athena"
    )


def test_only_breaking_versions_need_approval():
    registry = Registry()
    version = registry.observe(observed(a="string"))
    with pytest.raises(SchemaRegistryError, match="only BREAKING versions need approval"):
        registry.approve(version.version)


def test_widening_keeps_the_wider_type_in_the_curated_schema():
    registry = Registry()
    registry.observe(observed(amount="integer"))
    assert registry.observe(observed(amount="double")).status == "ACTIVE"
    assert canonical_schema(registry.history) == {"amount": "double"}


def test_version_ids_are_strictly_increasing_even_within_a_microsecond():
    registry = Registry()
    registry.observe(observed(a="string"))
    same_instant = next_version_id(registry.history, NOW)
    assert same_instant > registry.history[-1].version
