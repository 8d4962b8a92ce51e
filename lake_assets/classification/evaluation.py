"""A labelled dataset to measure the classifier on, and the measure.

`generate(rows, seed)` builds, deterministically, a table of a Malaysian bank's kind of data
under misleading or meaningless column names (IC numbers under `ref_no`, account numbers shaped
like IC numbers with impossible dates under `cust_ref`, e-mail addresses under `contact`, phones
in mixed spellings under `field_a`, national numbers beside their country code under `field_b`,
free text with the odd pasted IC number), with the true semantic type of each column. Faker
(seeded) writes the prose, names, e-mails, IBANs and card numbers into a pool per column, drawn
from with numpy, since Faker writes only a few thousand values a second; the Malaysian formats
Faker does not know (IC numbers, phones, addresses) are built here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
from faker import Faker

from lake_assets.classification.formats import MYKAD_PLACE_CODES
from lake_assets.classification.policy import ClassificationPolicy

CARD_TYPES = ("visa16", "mastercard", "amex", "jcb16", "discover")
POOL = 20_000  # distinct Faker values per column at most, by default
PASTED_IC_SHARE = 0.03  # rows of `notes` where an operator pasted an IC number

# Column -> its true semantic type (what the evaluation scores against).
LABELS = {
    "ref_no": "mykad",
    "cust_ref": "bank_account",
    "contact": "email",
    "field_a": "phone",
    "field_b": "phone",  # national numbers without the trunk 0, beside their country code
    "phone_country_code": "code",
    "beneficiary": "iban",
    "instrument": "payment_card",
    "d1": "date_of_birth",
    "holder": "person_name",
    "nama_pertama": "person_name",  # first names alone: one word each, the column's name says so
    "surname": "person_name",
    "bandar": "place",  # towns of one or two capitalised words: name-shaped, no one's name
    "alamat": "address",
    "notes": "mykad",  # free text, but an IC number pasted into a few percent of rows
    "remarks": "free_text",
    "status": "code",
    "currency": "code",
    "val": "amount",
    "txn_ts": "timestamp",
    "txn_date": "date",
    "customer_id": "identifier",
}

MALAY_FIRST = ("Ahmad", "Muhammad", "Nur", "Siti", "Aisyah", "Hafiz", "Farah", "Azman", "Zainab")
MALAY_FATHER = ("Ismail", "Hassan", "Abdullah", "Osman", "Yusof", "Ibrahim", "Rahman", "Salleh")
CHINESE = ("Tan Wei Ming", "Lim Mei Ling", "Wong Kar Wai", "Lee Chong Wei", "Ng Siew Lan")
INDIAN = (("Suresh", "Rajan"), ("Kavitha", "Subramaniam"), ("Arjun", "Krishnan"))
STREETS = ("Ampang", "Tun Razak", "Bukit Bintang", "Sultan Ismail", "Klang Lama", "Gasing")
TOWNS = (("50450", "Kuala Lumpur"), ("46000", "Petaling Jaya"), ("10200", "George Town"),
         ("80000", "Johor Bahru"), ("88000", "Kota Kinabalu"), ("93000", "Kuching"))  # fmt: skip


def generate(rows: int, seed: int = 12, pool: int = POOL) -> tuple[pa.Table, dict[str, str]]:
    """`rows` labelled rows, the same for the same seed, and each column's true type. Faker's
    columns draw from `pool` values each (Faker writes a few thousand values a second)."""
    rng = np.random.default_rng(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    pool = min(rows, pool)

    def drawn(make) -> list[str]:
        values = [make() for _ in range(pool)]
        return [values[i] for i in rng.integers(0, pool, rows)]

    born = _birth_dates(rng, rows)
    columns = {
        "ref_no": _ic_numbers(rng, born),
        "cust_ref": _accounts_like_ic(rng, rows),
        "contact": drawn(fake.email),
        "field_a": _phones(rng, rows),
        "field_b": _national_numbers(rng, rows),
        "phone_country_code": rng.choice(["60", "65", "62"], rows, p=[0.9, 0.06, 0.04]).tolist(),
        "beneficiary": drawn(fake.iban),
        "instrument": drawn(lambda: fake.credit_card_number(str(rng.choice(CARD_TYPES)))),
        "d1": [d.strftime("%d/%m/%Y") for d in born],
        "holder": drawn(lambda: _person(fake, rng)),
        "nama_pertama": drawn(lambda: _first_name(fake, rng)),
        "surname": drawn(lambda: _cased(fake.last_name(), rng)),
        "bandar": drawn(fake.city),
        "alamat": drawn(lambda: _address(fake, rng)),
        "notes": _notes(rng, drawn(lambda: fake.sentence(nb_words=10)), born),
        "remarks": drawn(lambda: fake.sentence(nb_words=8)),
        "status": rng.choice(["ACTIVE", "DORMANT", "CLOSED", "FROZEN"], rows).tolist(),
        "currency": rng.choice(["MYR", "USD", "SGD", "EUR"], rows, p=[0.85, 0.07, 0.05, 0.03]),
        "val": np.round(rng.lognormal(4, 1.2, rows), 2),
        "txn_ts": _timestamps(rng, rows),
        "txn_date": [
            (date(2026, 3, 1) + timedelta(days=int(d))).isoformat()
            for d in rng.integers(0, 30, rows)
        ],
        "customer_id": [f"C{n:08d}" for n in rng.permutation(rows) + 10_000],
    }
    table = pa.table({name: pa.array(values) for name, values in columns.items()})
    return table, dict(LABELS)


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    mistakes: dict[str, tuple[str, str | None]]  # column -> (true type, labelled type)


def score(
    found: dict[str, str | None], labels: dict[str, str], policy: ClassificationPolicy
) -> Scores:
    """Precision and recall of the PII labels (column -> labelled type, None when flagged for
    review), per column: a PII column counts as found only under its true type; a column
    labelled PII under any other type is a false positive."""
    true_pii = {col for col, t in labels.items() if policy.is_pii(t)}
    said_pii = {col for col, t in found.items() if t is not None and policy.is_pii(t)}
    right = {col for col in true_pii & said_pii if found[col] == labels[col]}
    mistakes = {
        col: (labels[col], found.get(col))
        for col in labels
        if found.get(col) != labels[col] and (col in true_pii or col in said_pii)
    }
    return Scores(
        precision=len(right) / len(said_pii) if said_pii else 1.0,
        recall=len(right) / len(true_pii) if true_pii else 1.0,
        mistakes=mistakes,
    )


def _birth_dates(rng: np.random.Generator, rows: int) -> list[date]:
    days = rng.integers(0, (date(2005, 12, 31) - date(1950, 1, 1)).days, rows)
    return [date(1950, 1, 1) + timedelta(days=int(d)) for d in days]


def _ic_numbers(rng: np.random.Generator, born: list[date]) -> list[str]:
    states = [c for c in sorted(MYKAD_PLACE_CODES) if c < 60]
    places = rng.choice(states, len(born))
    serials = rng.integers(0, 10_000, len(born))
    dashed = rng.random(len(born)) < 0.5
    return [
        f"{d:%y%m%d}-{p:02d}-{s:04d}" if dash else f"{d:%y%m%d}{p:02d}{s:04d}"
        for d, p, s, dash in zip(born, places, serials, dashed, strict=True)
    ]


def _accounts_like_ic(rng: np.random.Generator, rows: int) -> list[str]:
    """12-digit account numbers, sometimes printed 6-2-4 like an IC number, whose would-be
    month is 13-99: they have the IC shape and an impossible date."""
    head = rng.integers(0, 100, rows)
    month = rng.integers(13, 100, rows)
    tail = rng.integers(0, 100_000_000, rows)
    dashed = rng.random(rows) < 0.3
    out = []
    for h, m, t, dash in zip(head, month, tail, dashed, strict=True):
        digits = f"{h:02d}{m:02d}{t:08d}"
        out.append(f"{digits[:6]}-{digits[6:8]}-{digits[8:]}" if dash else digits)
    return out


def _phones(rng: np.random.Generator, rows: int) -> list[str]:
    """Malaysian mobiles and landlines in the spellings people type, a few foreign numbers."""
    prefix = rng.choice(["12", "13", "16", "17", "19", "11", "3"], rows)
    subscriber = rng.integers(0, 100_000_000, rows)
    spelling = rng.integers(0, 6, rows)
    out = []
    for p, s, how in zip(prefix, subscriber, spelling, strict=True):
        number = f"{s:08d}" if p in ("11", "3") else f"{s % 10_000_000:07d}"
        head, rest = number[:-4], number[-4:]
        out.append(
            (
                f"+60 {p}-{head} {rest}",
                f"0{p}-{number}",
                f"60{p}{number}",
                f"0{p} {head} {rest}",
                f"+60{p}{number}",
                "+44 20 7946 0958" if s % 2 else "+65 6123 4567",
            )[how]
        )
    return out


def _national_numbers(rng: np.random.Generator, rows: int) -> list[str]:
    """Subscriber numbers as some systems keep them: no trunk 0, no country code, which sits in
    `phone_country_code` beside them."""
    prefix = rng.choice(["12", "13", "17", "11", "3"], rows)
    subscriber = rng.integers(0, 100_000_000, rows)
    return [
        f"{p}{s:08d}" if p in ("11", "3") else f"{p}{s % 10_000_000:07d}"
        for p, s in zip(prefix, subscriber, strict=True)
    ]


def _person(fake: Faker, rng: np.random.Generator) -> str:
    kind = rng.integers(0, 5)
    if kind == 0:
        connective = "bin" if rng.random() < 0.5 else "binti"
        name = f"{rng.choice(MALAY_FIRST)} {connective} {rng.choice(MALAY_FATHER)}"
    elif kind == 1:
        name = str(rng.choice(CHINESE))
    elif kind == 2:
        first, father = INDIAN[rng.integers(0, len(INDIAN))]
        name = f"{first} a/l {father}"
    else:
        name = f"{fake.first_name()} {fake.last_name()}"
    return _cased(name, rng)


def _first_name(fake: Faker, rng: np.random.Generator) -> str:
    first = str(rng.choice(MALAY_FIRST)) if rng.random() < 0.4 else fake.first_name()
    return _cased(first, rng)


def _cased(name: str, rng: np.random.Generator) -> str:
    """As a bank's older systems often write names: in capitals, three times in ten."""
    return name.upper() if rng.random() < 0.3 else name


def _address(fake: Faker, rng: np.random.Generator) -> str:
    if rng.random() < 0.5:
        return f"{fake.street_address()}, {fake.city()}, {fake.state_abbr()} {fake.zipcode()}"
    postcode, town = TOWNS[rng.integers(0, len(TOWNS))]
    return (
        f"No. {rng.integers(1, 300)}, Jalan {rng.choice(STREETS)} {rng.integers(1, 9)}/"
        f"{rng.integers(1, 20)}, Taman {fake.last_name()}, {postcode} {town}"
    )


def _notes(rng: np.random.Generator, sentences: list[str], born: list[date]) -> list[str]:
    """Free text; in PASTED_IC_SHARE of rows the customer's IC number pasted into it."""
    ics = _ic_numbers(rng, born)
    pasted = rng.random(len(sentences)) < PASTED_IC_SHARE
    return [
        f"{text} Customer IC {ic} verified at counter." if paste else text
        for text, ic, paste in zip(sentences, ics, pasted, strict=True)
    ]


def _timestamps(rng: np.random.Generator, rows: int) -> pa.Array:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    seconds = rng.integers(0, 30 * 86_400, rows)
    return pa.array(
        np.datetime64(start.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]"),
        pa.timestamp("s", tz="UTC"),
    )
