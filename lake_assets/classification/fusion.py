"""Fuse what a column's values show with its name, the columns beside it and the dataset into
a ranked list of candidate semantic types, each with a confidence in [0, 1] and its evidence.

Values outweigh names: a format's share, times how conclusive the format is (a passed check
digit or a real date and issued place code say more than a bare run of digits), makes the base
confidence; a name that agrees adds a little, and a name alone makes only a weak candidate. When
the values say one thing and the name another, the column's `conflict` says so. Co-occurring
columns add evidence: a phone country code beside a column (which makes national numbers
written without a trunk prefix valid phones), or a date of birth equal to an IC number's YYMMDD
in the same rows. A 12-digit column that has the IC shape but fails its checks
keeps the failed checks' shares in its evidence, which is how an account number is told apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lake_assets.classification.model import Candidate
from lake_assets.classification.names import is_phone_neighbour, name_hints, tokens
from lake_assets.classification.policy import ClassificationPolicy
from lake_assets.classification.signals import ColumnProfile

# How conclusive a full match of each format is on its own.
CONCLUSIVE = {
    "email": 0.98,
    "iban": 0.98,
    "payment_card": 0.97,
    "mykad": 0.97,
    "phone": 0.9,
    "date_of_birth": 0.82,
    "date": 0.8,
    "address": 0.85,
    "person_name": 0.8,
    "free_text": 0.8,
    "bank_account": 0.7,
}
NAME_AGREES = 0.1  # what a name adds to a type the values support
NAME_ONLY = 0.3  # the confidence of a type only the name suggests
SUPPORTED = 0.5  # a format share from which the values support a type
CROSS_CHECK = 0.15  # what a cross-column confirmation adds, times its share
# What words shaped like names may be, as the column's name says (fusion._name_parts).
NAMED_WORDS = ("person_name", "place")
# A dataset about people makes a person's data likelier than elsewhere: a nudge, not proof.
PERSON_DATASETS = frozenset(("customer", "customers", "kyc", "party", "member", "pelanggan"))
ABOUT_PEOPLE = 0.02


@dataclass(frozen=True)
class TableContext:
    """What fusion knows beyond the column itself."""

    dataset: str
    columns: tuple[str, ...]
    # Row-wise cross-column signals the classifier measured: column -> signal -> value.
    cross: dict[str, dict[str, float | str]] = field(default_factory=dict)

    @property
    def about_people(self) -> bool:
        return bool(PERSON_DATASETS.intersection(tokens(self.dataset)))


def rank(
    profile: ColumnProfile, context: TableContext, policy: ClassificationPolicy
) -> tuple[tuple[Candidate, ...], str | None]:
    """Candidates for one column, best first, and the conflict between values and name."""
    scores: dict[str, float] = {}
    evidence: dict[str, dict[str, float | str]] = {}

    def add(semantic_type: str, score: float, **signals: float | str) -> None:
        scores[semantic_type] = max(scores.get(semantic_type, 0.0), score)
        evidence.setdefault(semantic_type, {}).update(signals)

    for name, share in profile.format_shares.items():
        if share > 0:
            add(name, CONCLUSIVE[name] * share, **_format_evidence(profile, name))
    hints = name_hints(profile.column)
    _name_parts(profile, hints, add)
    _from_type_and_statistics(profile, add, scores)
    _account_not_ic(profile, evidence)
    _cross_columns(profile, context, add, scores)

    for hint in hints:
        if scores.get(hint, 0.0) > 0 and _supported(profile, hint, scores):
            add(hint, min(1.0, scores[hint] + NAME_AGREES), name=profile.column)
        elif hint not in scores:
            add(hint, NAME_ONLY, name=profile.column)
    _embedded(profile, policy, add, scores)
    if context.about_people:
        for semantic_type in scores:
            if policy.is_pii(semantic_type) and scores[semantic_type] >= SUPPORTED:
                add(
                    semantic_type,
                    min(1.0, scores[semantic_type] + ABOUT_PEOPLE),
                    dataset=context.dataset,
                )

    # Between equal scores the stricter sensitivity ranks first: a tie never opens a column.
    ranked = sorted(scores, key=lambda t: (-scores[t], not policy.is_pii(t), t))
    candidates = tuple(
        Candidate(t, round(min(1.0, scores[t]), 4), dict(sorted(evidence[t].items())))
        for t in ranked
    )
    return candidates, _conflict(profile, hints, candidates)


def _format_evidence(profile: ColumnProfile, name: str) -> dict[str, float]:
    signals = {f"format.{name}": profile.format_shares[name]}
    shape = profile.shape_shares.get(name, 0.0)
    if shape != profile.format_shares[name]:
        signals[f"shape.{name}"] = shape
    for check, share in profile.check_failures.items():
        if check.startswith(f"{name}."):
            signals[f"failed.{check}"] = share
    return signals


def _embedded(profile: ColumnProfile, policy: ClassificationPolicy, add, scores) -> None:
    """A PII format inside prose makes the column PII even at a few percent of rows: masking
    the column is the only way to hide the pasted numbers. The prose stays a candidate, ranked
    just below the PII it holds."""
    prose = scores.get("free_text", 0.0)
    prose_share = profile.format_shares.get("free_text", 0.0)
    for name, share in profile.embedded_shares.items():
        if policy.is_pii(name) and share >= policy.embedded_pii_share:
            score = min(1.0, max(prose, CONCLUSIVE["free_text"]) + 0.05 + min(0.05, share))
            add(name, score, **{f"embedded.{name}": share, "format.free_text": prose_share})
            if "free_text" in scores:
                scores["free_text"] = min(scores["free_text"], score - 0.05)


def _name_parts(profile: ColumnProfile, hints: list[str], add) -> None:
    """Capitalised words under a column whose name says whose they are: a person's
    (`first_name`, `surname`, `name__last`) or a place's (`city`, `bandar`, `country`). One
    word has a name's shape but not its format, and two words ("Kuala Lumpur") have both: the
    values alone cannot tell a first name from a town, and the column's name is the context
    that settles it (seed 000, project 11). Added before the statistics, so that a column of
    a few hundred first names is not taken for a key; a few values repeated under a person's
    name (`scheme_name`: Gold, Platinum) stay a code, a few towns are still places. A place's
    name then agrees with what its values support and outranks the person-name format they
    also show."""
    shape = profile.shape_shares.get("person_name", 0.0)
    if shape < SUPPORTED:
        return
    for semantic_type in NAMED_WORDS:
        # A town repeats (an address's city); a handful of repeated "names" is a tier's code.
        if semantic_type in hints and not (semantic_type == "person_name" and _few_values(profile)):
            add(
                semantic_type,
                CONCLUSIVE["person_name"] * shape,
                **{"shape.person_name": shape, "name": profile.column},
            )


def _from_type_and_statistics(profile: ColumnProfile, add, scores) -> None:
    """Types no value format shows: the column's Arrow type, its cardinality."""
    kind = profile.arrow_type
    signals = {"arrow_type": kind, "cardinality_ratio": profile.cardinality_ratio}
    if kind.startswith("timestamp"):
        add("timestamp", 0.95, **signals)
    elif kind == "bool":
        add("flag", 0.95, **signals)
    elif kind in ("double", "float", "halffloat") or kind.startswith("decimal"):
        add("amount", 0.75, **signals)
        add("number", 0.6, **signals)
    strongest = max(scores.values(), default=0.0)
    if _few_values(profile) and strongest < SUPPORTED and not kind.startswith("timestamp"):
        add("code", 0.85, **signals, distinct=profile.distinct)
    elif (
        strongest < SUPPORTED
        and profile.cardinality_ratio >= 0.9
        and kind in ("string", "int64")
        and not profile.char_classes.get("space")
    ):  # a key: (nearly) unique, one token
        add("identifier", 0.65, **signals, entropy=profile.normalised_entropy)


def _few_values(profile: ColumnProfile) -> bool:
    """A handful of values, each repeated: a code's column, whatever the values look like."""
    return 0 < profile.distinct <= 100 and profile.cardinality_ratio <= 0.2


def _account_not_ic(profile: ColumnProfile, evidence: dict) -> None:
    """Numbers shaped like IC numbers that fail the IC checks: say so beside the account."""
    if "bank_account" in evidence and profile.shape_shares.get("mykad", 0.0) >= SUPPORTED:
        evidence["bank_account"]["shape.mykad"] = profile.shape_shares["mykad"]
        evidence["bank_account"]["format.mykad"] = profile.format_shares.get("mykad", 0.0)
        for check in ("impossible_date", "unissued_place_code"):
            share = profile.check_failures.get(f"mykad.{check}")
            if share:
                evidence["bank_account"][f"failed.mykad.{check}"] = share


def _cross_columns(profile: ColumnProfile, context: TableContext, add, scores) -> None:
    cross = context.cross.get(profile.column, {})
    for signal, value in cross.items():
        if signal.startswith("dob_matches.") and "mykad" in scores:
            add("mykad", scores["mykad"] + CROSS_CHECK * float(value), **{signal: value})
        if signal.startswith("phone_with."):  # national numbers, the country code beside them
            add("phone", CONCLUSIVE["phone"] * float(value), **{signal: value})
        if signal.startswith("matches_ic.") and "date_of_birth" in scores:
            add("date_of_birth", scores["date_of_birth"] + CROSS_CHECK * float(value),
                **{signal: value})  # fmt: skip
    neighbours = [c for c in context.columns if c != profile.column and is_phone_neighbour(c)]
    if neighbours and profile.format_shares.get("phone", 0.0) >= SUPPORTED:
        # Confirms, never creates: digits beside a country code are not phones by that alone.
        add("phone", min(1.0, scores["phone"] + NAME_AGREES), beside=neighbours[0])


def _supported(profile: ColumnProfile, semantic_type: str, scores: dict[str, float]) -> bool:
    """Whether the values back the type enough for a name to add to it."""
    share = profile.format_shares.get(semantic_type)
    return scores[semantic_type] >= SUPPORTED if share is None else share >= SUPPORTED


def _conflict(profile: ColumnProfile, hints: list[str], candidates) -> str | None:
    """Values showing one type while the name suggests another the values do not back."""
    if not hints or not candidates:
        return None
    best = candidates[0]
    if best.semantic_type in hints or best.confidence < SUPPORTED:
        return None
    named = hints[0]
    shown = profile.format_shares.get(named, 0.0)
    if shown >= SUPPORTED:
        return None
    return (
        f"values look like {best.semantic_type} ({best.confidence:.2f}); "
        f"the name '{profile.column}' suggests {named} (values in that format: {shown:.2f})"
    )
