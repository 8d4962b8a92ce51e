"""The lake's field type lattice: what a profiled value can be and which changes are widenings.

Types are deliberately few. A registry compares schemas across files written by systems we do
not control, so the lattice only distinguishes what changes how a consumer must read a value.
"""

from __future__ import annotations

from typing import Literal

FieldType = Literal["null", "boolean", "integer", "double", "date", "timestamp", "string", "json"]
FIELD_TYPES: tuple[FieldType, ...] = (
    "null",
    "boolean",
    "integer",
    "double",
    "date",
    "timestamp",
    "string",
    "json",
)

# Lossless promotions a reader of the wider type applies to data of the narrower type.
_WIDENS_TO: dict[str, frozenset[str]] = {
    "integer": frozenset({"double"}),
    "date": frozenset({"timestamp"}),
}


# "null" is a field no payload has given a value yet (a header-only file, a key null in every
# record): no evidence of a type, so the first values set one without a breaking change. Its
# column holds only nulls, which every type represents (ADR-0031).
UNTYPED = "null"


def is_widening(old: str, new: str) -> bool:
    """True when every value of `old` is representable, losslessly, as `new`."""
    if old == UNTYPED:
        return new != UNTYPED
    return new in _WIDENS_TO.get(old, frozenset())


def is_narrowing(old: str, new: str) -> bool:
    return is_widening(new, old)


def widest(a: str, b: str) -> str:
    """The type that holds values of both, or "string" when neither promotes to the other."""
    if a == b or is_widening(b, a):
        return a
    if is_widening(a, b):
        return b
    return "string"
