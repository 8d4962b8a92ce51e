"""The formats a column's values may have: each a small pure detector with one signature,
collected in `DETECTORS` (adding a format is adding a function to that list, and its regex to
`SHAPES`, which the benchmark's regex-only baseline also runs).

A detector takes a column's sampled values (non-null, trimmed strings) and returns a `Detection`:
how many values have the format's shape (a regex, run by pyarrow.compute over the whole array),
how many of those pass the format's checks (a real date, an issued place code, a check digit, a
numbering plan; vectorised with numpy, never a Python loop over values) and how many failed each
check, so the evidence can say why a column of 12-digit numbers is not IC numbers. With
`within_text=True` a detector looks for its format inside longer text (an IC number pasted into a
note) instead of matching whole values; `EMBEDDED` lists the formats worth looking for there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Detection:
    shaped: int  # values with the format's shape
    valid: int  # of those, values passing every check
    failed: dict[str, int] = field(default_factory=dict)  # check -> shaped values failing it


Detector = Callable[..., Detection]

# Place-of-birth codes the National Registration Department issues (JPN's lists of state and
# country codes): states and federal territories 01-16 and 21-59; born abroad 60-68 (ASEAN),
# 71-72 (abroad, before the country codes), 74-79 (Asian countries), 82 (state unknown), 83-93
# (regions of the world), 98 (stateless) and 99 (refugee, other). 00, 17-20, 69-70, 73, 80-81 and
# 94-97 are never issued.
MYKAD_PLACE_CODES = frozenset(
    [*range(1, 17), *range(21, 60), *range(60, 69), 71, 72, *range(74, 80), 82,
     *range(83, 94), 98, 99]
)  # fmt: skip
_PLACE_ISSUED = np.zeros(100, dtype=bool)
_PLACE_ISSUED[list(MYKAD_PLACE_CODES)] = True

# Birth years of the bank's customers: no one over 125, and no dates of the last ten years, which
# in a bank's tables are events (transactions, openings) far more often than births.
BIRTH_YEARS = (1900, date.today().year - 10)
_STREET = (
    r"jalan|jln|lorong|lrg|taman|persiaran|lebuh|street|st|road|rd|avenue|ave|lane|ln|"
    r"drive|dr|way|court|ct|boulevard|blvd|suite|apt|unit|box|place|pl"
)
_POSTCODE = r"\b\d{5}(?:-\d{4})?\b"
_NAME_WORD = r"[A-Z][a-z'.-]+|[A-Z][A-Z'.-]+|bin|binti|bt|a/l|a/p|A/L|A/P|BIN|BINTI|@|van|de|al"
# Each format's shape, the regex that prefilters values before the checks (RE2 syntax; matched
# whole, or found inside text).
SHAPES = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}",
    "iban": r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}",
    "phone": r"\+?\d[\d ()-]{6,16}\d",
    "mykad": r"\d{6}-?\d{2}-?\d{4}",
    "payment_card": r"\d(?:[ -]?\d){12,18}",
    "bank_account": r"\d{2,16}(?:-\d{2,8}){0,3}",
    "date": r"\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4}|\d{2}-\d{2}-\d{4}",
    # Two to five words, or one: a mixed-case word (`Ng`, `O'Brien`) or three capitals or more
    # (`TAN`), so that two-letter codes (`MY`, `SG`) are not names' words.
    "person_name": (
        rf"[A-Z][A-Za-z'.-]+(?: (?:{_NAME_WORD})){{1,4}}|[A-Z][a-z'][A-Za-z'.-]*|[A-Z][A-Z'.-]{{2,}}"
    ),
    "address": (
        rf"(?is:[^\n]*\d[^\n]*\b(?:{_STREET})\b.*{_POSTCODE}.*"
        rf"|(?:no\.?\s*)?\d+[a-z]?,?\s+[a-z][^,\n]*[,\n].*{_POSTCODE}(?:\s+[a-z][a-z .]*)?)"
    ),
    "free_text": r"(?s:\S+(?:\s+\S+){4,})",
}
_LETTER_BYTES = np.zeros(256, dtype=np.int64)
_LETTER_BYTES[[*range(ord("A"), ord("Z") + 1), *range(ord("a"), ord("z") + 1)]] = 1
_DAYS_IN_MONTH = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _shaped(values: pa.Array, shape: str, within_text: bool) -> pa.Array:
    """The values with the shape or, within text, the first substring of each that has it."""
    if within_text:
        # The boundaries keep a phone number's digits from being read out of an IC number.
        found = pc.extract_regex(values, rf"(?:^|[^\w+@.-])(?P<found>{shape})(?:$|[^\w@-])")
        return pc.drop_null(pc.struct_field(found, [0]))
    return values.filter(pc.match_substring_regex(values, f"^(?:{shape})$"))


def _digits(values: pa.Array, separators: str) -> pa.Array:
    """The values without the separators their shape allows (literal replaces: no regex)."""
    for separator in separators:
        values = pc.replace_substring(values, separator, "")
    return values


def _per_value(values: pa.Array, byte_class: np.ndarray) -> np.ndarray:
    """How many bytes of each value fall in `byte_class` (a 256-entry mask), in one numpy pass."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[
        values.offset : values.offset + len(values) + 1
    ]
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    running = np.concatenate([[0], np.cumsum(byte_class[data])])
    return running[offsets[1:] - offsets[0]] - running[offsets[:-1] - offsets[0]]


def _fixed_width(digits: pa.Array, width: int) -> np.ndarray:
    """Digit strings as an (n, width) matrix of ints, left-padded with zeros."""
    padded = pc.utf8_lpad(digits, width, "0").cast(pa.binary())
    if len(padded) == 0:
        return np.zeros((0, width), dtype=np.int64)
    # Equal widths: the values' bytes, end to end, reshape into rows (slices keep their offset).
    data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)
    start = np.frombuffer(padded.buffers()[1], dtype=np.int32)[padded.offset]
    block = data[start : start + len(padded) * width]
    return block.reshape(len(padded), width).astype(np.int64) - ord("0")


def _detection(shaped: pa.Array, checks: dict[str, np.ndarray]) -> Detection:
    """Count the shaped values passing every check and those failing each one."""
    ok = np.ones(len(shaped), dtype=bool)
    for passed in checks.values():
        ok &= passed
    failed = {name: int((~passed).sum()) for name, passed in checks.items()}
    return Detection(len(shaped), int(ok.sum()), {k: v for k, v in failed.items() if v})


def _real_date(month: np.ndarray, day: np.ndarray, leap: np.ndarray) -> np.ndarray:
    """Whether each month and day is a calendar date (29 February only in a leap year)."""
    month_ok = (month >= 1) & (month <= 12)
    last = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] - ((month == 2) & ~leap)
    return month_ok & (day >= 1) & (day <= last)


def _number(block: np.ndarray) -> np.ndarray:
    """The number the digit columns of `block` spell."""
    return block @ (10 ** np.arange(block.shape[1] - 1, -1, -1))


def email(values: pa.Array, within_text: bool = False) -> Detection:
    """An e-mail address: local part, @, a dotted domain with a top-level label."""
    shaped = _shaped(values, SHAPES["email"], within_text)
    return Detection(len(shaped), len(shaped))


def iban(values: pa.Array, within_text: bool = False) -> Detection:
    """An IBAN (printed in groups of four or not) whose check digits pass ISO 13616's mod 97."""
    shaped = _shaped(values, SHAPES["iban"], within_text)
    compact = pc.replace_substring(shaped, " ", "")
    rotated = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(compact, 4), pc.utf8_slice_codeunits(compact, 0, 4), ""
    )
    # Left zeros leave the remainder unchanged; letters count A=10 .. Z=35, as two digits.
    block = _fixed_width(rotated, 34) + ord("0")
    letters = block >= ord("A")
    value = np.where(letters, block - ord("A") + 10, block - ord("0"))
    remainder = np.zeros(len(block), dtype=np.int64)
    for column in range(block.shape[1]):
        scale = np.where(letters[:, column], 100, 10)
        remainder = (remainder * scale + value[:, column]) % 97
    return _detection(shaped, {"mod97": remainder == 1})


def phone(values: pa.Array, within_text: bool = False) -> Detection:
    """A phone number: Malaysian mobile or landline as usually written (`+60 12-345 6789`,
    `012-3456789`, `60123456789`, `03-2345 6789`) or any E.164 number (`+44 20 7946 0958`)."""
    shaped = _shaped(values, SHAPES["phone"], within_text)
    # Mobile: 01X + 7 digits (011 + 8); landline: 0[3-9] + 7 or 8; 60 instead of 0 from abroad.
    # Separators may fall anywhere after the prefix, as people type them.
    malaysian = (
        r"^(?:\+?60|0)[ -]?(?:1[02-46-9](?:[ -]?\d){7}|11(?:[ -]?\d){8}|[3-9](?:[ -]?\d){7,8})$"
    )
    foreign = pc.and_(
        pc.match_substring_regex(shaped, r"^\+[1-9](?:[ ()-]*\d){7,14}$"),
        pc.invert(pc.starts_with(shaped, "+60")),
    )
    valid = pc.or_(pc.match_substring_regex(shaped, malaysian), foreign)
    return _detection(shaped, {"numbering_plan": valid.to_numpy(zero_copy_only=False)})


def mykad(values: pa.Array, within_text: bool = False) -> Detection:
    """A Malaysian IC (MyKad) number YYMMDD-PB-###G, with or without dashes, whose YYMMDD is a
    real date and whose place-of-birth code PB is one that is issued."""
    shaped = _shaped(values, SHAPES["mykad"], within_text)
    block = _fixed_width(_digits(shaped, "-"), 12)
    place = block[:, 6] * 10 + block[:, 7]
    # YY may be either century; 29 February is real when YY divides by four (2000 was leap).
    yy = _number(block[:, 0:2])
    real = _real_date(_number(block[:, 2:4]), _number(block[:, 4:6]), yy % 4 == 0)
    checks = {"impossible_date": real, "unissued_place_code": _PLACE_ISSUED[place]}
    return _detection(shaped, checks)


def payment_card(values: pa.Array, within_text: bool = False) -> Detection:
    """A payment card number (13-19 digits, grouped or not) from a card scheme's ranges
    (Visa, Mastercard, Amex, Discover, JCB, UnionPay, Diners) whose Luhn check digit is right."""
    shaped = _shaped(values, SHAPES["payment_card"], within_text)
    digits = _digits(shaped, " -")
    scheme = pc.match_substring_regex(digits, r"^(?:4|5\d|2[2-7]|3[04-8]|6)")
    block = _fixed_width(digits, 19)
    # Luhn from the right: every second digit doubled, 9 taken off a two-digit result.
    doubled = block[:, -2::-2] * 2
    total = block[:, -1::-2].sum(axis=1) + (doubled - 9 * (doubled > 9)).sum(axis=1)
    return _detection(
        shaped, {"card_scheme": scheme.to_numpy(zero_copy_only=False), "luhn": total % 10 == 0}
    )


def bank_account(values: pa.Array, within_text: bool = False) -> Detection:
    """A bank account number: 10-16 digits, plain or in dashed groups. Malaysian banks print no
    check digit, so nothing more can be checked: the shape is weak evidence on its own, and a
    column of them is told from IC numbers by the checks those fail."""
    shaped = _shaped(values, SHAPES["bank_account"], within_text)
    length = pc.utf8_length(_digits(shaped, "-")).to_numpy(zero_copy_only=False)
    return _detection(shaped, {"length": (length >= 10) & (length <= 16)})


def _years_and_real(shaped: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Year of each date (ISO, or day first) and whether its month and day are real."""
    iso = pc.match_substring_regex(shaped, r"^\d{4}").to_numpy(zero_copy_only=False)
    digits = _fixed_width(_digits(shaped, "-/"), 8)
    ymd = np.where(iso[:, None], digits, digits[:, [4, 5, 6, 7, 2, 3, 0, 1]])  # to YYYYMMDD
    year = _number(ymd[:, 0:4])
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    return year, _real_date(_number(ymd[:, 4:6]), _number(ymd[:, 6:8]), leap)


def calendar_date(values: pa.Array, within_text: bool = False) -> Detection:
    """A calendar date without a time: `2024-03-01`, `01/03/2024`, `01-03-2024`."""
    shaped = _shaped(values, SHAPES["date"], within_text)
    _, real = _years_and_real(shaped)
    return _detection(shaped, {"impossible_date": real})


def date_of_birth(values: pa.Array, within_text: bool = False) -> Detection:
    """A calendar date a living person can have been born on."""
    shaped = _shaped(values, SHAPES["date"], within_text)
    year, real = _years_and_real(shaped)
    plausible = (year >= BIRTH_YEARS[0]) & (year <= BIRTH_YEARS[1])
    return _detection(shaped, {"impossible_date": real, "birth_year": plausible})


def person_name(values: pa.Array, within_text: bool = False) -> Detection:
    """A person's name: two to five capitalised words (or all capitals), with the Malay and
    Indian connectives `bin`, `binti`, `a/l`, `a/p`, `@`. A single capitalised word has the
    shape and fails the check `single_word`: alone it is as likely a city, a status or a
    product, so only a column's name makes it a part of a name (fusion._name_parts)."""
    shaped = _shaped(values, SHAPES["person_name"], within_text)
    several = pc.match_substring(shaped, " ").to_numpy(zero_copy_only=False)
    return _detection(shaped, {"single_word": several})


def address(values: pa.Array, within_text: bool = False) -> Detection:
    """A postal address: a five-digit postcode (Malaysian and US postcodes both have five)
    and either a street word (English or Malay) after a number, or a leading house number
    followed by comma- or line-separated parts."""
    shaped = _shaped(values, SHAPES["address"], within_text)
    return Detection(len(shaped), len(shaped))


def free_text(values: pa.Array, within_text: bool = False) -> Detection:
    """Prose: five or more words, mostly letters."""
    shaped = _shaped(values, SHAPES["free_text"], within_text)
    letters = _per_value(shaped, _LETTER_BYTES)
    length = pc.binary_length(shaped).to_numpy(zero_copy_only=False)
    return _detection(shaped, {"letters": letters >= 0.6 * np.maximum(length, 1)})


# Most specific first: the order is the order of the evidence, not a priority.
DETECTORS: tuple[Detector, ...] = (
    email,
    iban,
    mykad,
    payment_card,
    phone,
    bank_account,
    date_of_birth,
    calendar_date,
    person_name,
    address,
    free_text,
)
# Formats a careless operator pastes into free text, looked for inside prose columns.
EMBEDDED: tuple[Detector, ...] = (email, iban, mykad, payment_card, phone)


def format_name(detector: Detector) -> str:
    """The semantic type a detector recognises (`calendar_date` recognises a `date`)."""
    return "date" if detector is calendar_date else detector.__name__
