"""Classify a dataset's columns from a sample of its newly published partitions: profile each
column (signals.py), measure the cross-column signals on the same rows, fuse (fusion.py), and
label each column with its best candidate's type and sensitivity, or flag it for review when the
best candidate is below the policy's threshold. Plain data in and out: no Dagster, no Spark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from lake_assets.classification.formats import phone
from lake_assets.classification.fusion import TableContext, rank
from lake_assets.classification.model import ColumnClassification
from lake_assets.classification.names import is_phone_neighbour
from lake_assets.classification.policy import ClassificationPolicy
from lake_assets.classification.signals import ColumnProfile, profile_column
from lake_assets.classification.signals import sample_table as _sample

# Bump when detectors, weights or fusion change: the catalog records which version decided.
CLASSIFIER_VERSION = "2"
SUPPORTED = 0.5  # a format share from which a column takes part in cross-column checks


def sample_table(
    source: pa.Table | Iterable[pa.RecordBatch], policy: ClassificationPolicy, seed: int = 0
) -> pa.Table:
    """The policy's deterministic sample of `source` (see signals.sample_table)."""
    return _sample(source, policy.sample_size, seed)


def profile_table(sample: pa.Table) -> dict[str, ColumnProfile]:
    """Each column's profile, by column name: the baseline drift compares new partitions to."""
    return {name: profile_column(name, sample.column(name)) for name in sample.column_names}


def classify_table(
    dataset: str,
    sample: pa.Table,
    partitions: tuple[str, str],
    policy: ClassificationPolicy,
    profiles: Mapping[str, ColumnProfile] | None = None,
    columns: Iterable[str] | None = None,
) -> list[ColumnClassification]:
    """Classify `columns` of `sample` (all by default; a new schema version passes only its new
    columns, the others still serve as context), drawn from `partitions` (first, last)."""
    profiles = dict(profiles) if profiles is not None else profile_table(sample)
    context = TableContext(dataset, tuple(sample.column_names), _cross_signals(sample, profiles))
    wanted = list(columns) if columns is not None else sample.column_names
    return [
        _label(dataset, profiles[name], context, partitions, policy)
        for name in wanted
        if name in profiles
    ]


def _label(
    dataset: str,
    profile: ColumnProfile,
    context: TableContext,
    partitions: tuple[str, str],
    policy: ClassificationPolicy,
) -> ColumnClassification:
    candidates, conflict = rank(profile, context, policy)
    best = candidates[0] if candidates else None
    labelled = best is not None and best.confidence >= policy.review_threshold
    # PII in too few rows to make the column PII (embedded_pii_share), pasted inside the values
    # (ADR-0145) or typed as a few whole values (ADR-0174's drift), still exposes those people:
    # an operator decides, and until then the column has no sensitivity, which access control
    # denies.
    pasted = _few_pii_rows(profile.embedded_shares, "inside the values", policy) + _few_pii_rows(
        profile.format_shares, "as the whole value", policy
    )
    if labelled and pasted and not policy.is_pii(best.semantic_type):
        labelled = False
        reason = (
            ", ".join(pasted)
            + f" (below embedded_pii_share {policy.embedded_pii_share:.2%}): decide whether "
            f"{profile.column} holds PII"
        )
    elif labelled:
        reason = None
    elif best is None:
        reason = "no values in the sample" if not profile.distinct else "no signal suggests a type"
    else:
        reason = (
            f"best candidate {best.semantic_type} ({best.confidence:.2f}) is below the review "
            f"threshold {policy.review_threshold:.2f}"
        )
    return ColumnClassification(
        dataset=dataset,
        column=profile.column,
        candidates=candidates,
        semantic_type=best.semantic_type if labelled else None,
        sensitivity=policy.sensitivity_of(best.semantic_type) if labelled else None,
        confidence=best.confidence if best else 0.0,
        classifier_version=CLASSIFIER_VERSION,
        partitions=tuple(partitions),
        reason=reason,
        conflict=conflict,
    )


def _few_pii_rows(shares: Mapping[str, float], where: str, policy: ClassificationPolicy) -> list:
    """Each PII type found `where` in some rows but below embedded_pii_share, said so."""
    return [
        f"{name} {where} of {share:.2%} of rows"
        for name, share in sorted(shares.items())
        if policy.is_pii(name) and 0 < share < policy.embedded_pii_share
    ]


def _cross_signals(
    sample: pa.Table, profiles: Mapping[str, ColumnProfile]
) -> dict[str, dict[str, float | str]]:
    """Row-wise signals between columns: the share of rows where a date column equals an IC
    column's YYMMDD confirms both (the IC's birth date, the column's being one); the share of
    numbers that are phone numbers once the country code beside them is put in front."""
    cross: dict[str, dict[str, float | str]] = {}
    codes = [n for n in sample.column_names if is_phone_neighbour(n)]
    for name, profile in profiles.items():
        local = profile.shape_shares.get("phone", 0) >= SUPPORTED
        if codes and local and profile.format_shares.get("phone", 0) < SUPPORTED:
            code = pc.replace_substring(_text(sample.column(codes[0])), "+", "")
            joined = pc.binary_join_element_wise("+", code, " ", _text(sample.column(name)), "")
            found = phone(pc.drop_null(joined).combine_chunks())
            rows = sample.num_rows - sample.column(name).null_count
            cross.setdefault(name, {})[f"phone_with.{codes[0]}"] = round(found.valid / rows, 4)
    ics = [n for n, p in profiles.items() if p.format_shares.get("mykad", 0) >= SUPPORTED]
    dates = [n for n, p in profiles.items() if _is_date(p)]
    for ic in ics:
        born = pc.utf8_slice_codeunits(
            pc.replace_substring(_text(sample.column(ic)), "-", ""), 0, 6
        )
        for dob in dates:
            same = pc.equal(born, _yymmdd(sample.column(dob)))
            rows = len(same) - same.null_count
            share = round(pc.sum(same).as_py() / rows, 4) if rows else 0.0
            cross.setdefault(ic, {})[f"dob_matches.{dob}"] = share
            cross.setdefault(dob, {})[f"matches_ic.{ic}"] = share
    return cross


def _is_date(profile: ColumnProfile) -> bool:
    return profile.arrow_type.startswith("date") or (
        profile.format_shares.get("date", 0.0) >= SUPPORTED
    )


def _text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column if pa.types.is_string(column.type) else column.cast(pa.string())


def _yymmdd(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A date column as YYMMDD, whether typed or written ISO or day first."""
    if pa.types.is_date(column.type) or pa.types.is_timestamp(column.type):
        return pc.strftime(column, "%y%m%d")
    digits = pc.replace_substring_regex(_text(column), r"\D", "")
    iso = pc.match_substring_regex(_text(column), r"^\d{4}")
    day_first = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(digits, 6, 8),
        pc.utf8_slice_codeunits(digits, 2, 4),
        pc.utf8_slice_codeunits(digits, 0, 2),
        "",
    )
    return pc.if_else(iso, pc.utf8_slice_codeunits(digits, 2, 8), day_first)
