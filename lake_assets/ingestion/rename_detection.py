"""Rename proposals: which field of a new schema version is an old field under another name,
with a confidence and the evidence behind it. Pure functions over field profiles."""

from __future__ import annotations

import difflib
from dataclasses import replace

from lake_assets.ingestion.profiling import FieldProfile
from lake_assets.ingestion.schema_versions import RenameCandidate
from lake_assets.ingestion.value_sketches import jaccard_estimate
from lake_assets.tables.types import is_narrowing, is_widening

RENAME_THRESHOLD = 0.6


# --- rename detection ------------------------------------------------------------------------
#
# No registry we know proposes renames. A field that disappears while another appears in the
# same version is compared on the evidence a human would use: same type, same null ratio,
# similar cardinality, same value format, shared values, and a name that abbreviates the old
# one. Value overlap is weighted modestly because a renamed date field carries new dates.

RENAME_WEIGHTS = {
    "type": 0.20,
    "null_ratio": 0.10,
    "cardinality": 0.15,
    "format": 0.25,
    "value_overlap": 0.15,
    "name": 0.15,
}


# Abbreviations that are not subsequences of the word they stand for ("x" for "trans").
KNOWN_ABBREVIATIONS = {
    "txn": "transaction",
    "xfer": "transfer",
    "ccy": "currency",
    "qty": "quantity",
    "no": "number",
}


def _is_abbreviation(short: str, long: str) -> bool:
    """'txn_date' abbreviates 'transaction_date': each token of `short` is a known
    abbreviation of, or a subsequence starting with the same letter as, the matching token."""
    short_tokens, long_tokens = short.lower().split("_"), long.lower().split("_")
    if len(short_tokens) != len(long_tokens) or short == long:
        return False

    def abbreviates(a: str, b: str) -> bool:
        if KNOWN_ABBREVIATIONS.get(a) == b:
            return True
        letters = iter(b)
        return bool(a) and a[0] == b[0] and all(ch in letters for ch in a)

    return all(abbreviates(s, t) for s, t in zip(short_tokens, long_tokens, strict=True))


def name_similarity(old: str, new: str) -> float:
    if _is_abbreviation(new, old) or _is_abbreviation(old, new):
        return 0.9
    return difflib.SequenceMatcher(None, old.lower(), new.lower()).ratio()


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def score_rename(old: FieldProfile, new: FieldProfile) -> RenameCandidate | None:
    """How likely `new` is `old` under another name; None when their types cannot match."""
    if old.type == new.type:
        type_score = 1.0
    elif is_widening(old.type, new.type) or is_narrowing(old.type, new.type):
        type_score = 0.7
    else:
        return None
    old_distinct = _ratio(old.distinct_estimate, old.row_count - old.null_count)
    new_distinct = _ratio(new.distinct_estimate, new.row_count - new.null_count)
    evidence = {
        "type": type_score,
        "null_ratio": 1
        - abs(_ratio(old.null_count, old.row_count) - _ratio(new.null_count, new.row_count)),
        "cardinality": 1 - abs(old_distinct - new_distinct),
        "format": 1.0 if old.format_signature == new.format_signature else 0.0,
        "value_overlap": jaccard_estimate(old.value_sketch, new.value_sketch),
        "name": name_similarity(old.name, new.name),
    }
    confidence = sum(RENAME_WEIGHTS[k] * v for k, v in evidence.items())
    return RenameCandidate(
        old=old.name,
        new=new.name,
        confidence=round(confidence, 3),
        evidence={k: round(v, 3) for k, v in evidence.items()},
    )


def propose_renames(
    removed: dict[str, FieldProfile], added: dict[str, FieldProfile]
) -> tuple[RenameCandidate, ...]:
    """One-to-one rename proposals above RENAME_THRESHOLD, strongest first.

    `removed` is keyed by canonical name, so a proposal reads `canonical -> new name`.
    """
    scored = []
    for canonical, old in removed.items():
        for new in added.values():
            candidate = score_rename(old, new)
            if candidate and candidate.confidence >= RENAME_THRESHOLD:
                scored.append(replace(candidate, old=canonical))
    scored.sort(key=lambda c: (-c.confidence, c.old, c.new))
    taken_old: set[str] = set()
    taken_new: set[str] = set()
    chosen = []
    for candidate in scored:
        if candidate.old not in taken_old and candidate.new not in taken_new:
            chosen.append(candidate)
            taken_old.add(candidate.old)
            taken_new.add(candidate.new)
    return tuple(chosen)
