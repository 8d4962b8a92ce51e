"""What a column's name suggests it holds, from the words and abbreviations used in Malaysian
banks' systems, English and Malay (`nric`, `ic_no`, `no_kp`, `mykad`, `hp`, `tel`, `acct`).

A name is a hint, never proof: `ref_no` may hold IC numbers and `contact` e-mail addresses, so
fusion weighs a hint below what the values show.
"""

from __future__ import annotations

import re

# Semantic type -> names and name fragments (as tokens, or runs of tokens joined by `_`).
HINTS: dict[str, tuple[str, ...]] = {
    "mykad": ("nric", "ic", "ic_no", "ic_num", "icno", "no_kp", "nokp", "kp", "mykad",
              "kad_pengenalan", "new_ic", "national_id", "id_no"),
    "phone": ("phone", "tel", "telefon", "tel_no", "hp", "no_hp", "handphone", "mobile", "msisdn",
              "fax", "contact", "contact_no", "phone_no"),
    "email": ("email", "emel", "e_mail", "mail"),
    "bank_account": ("acct", "acc_no", "ac_no", "account", "account_no", "akaun", "no_akaun",
                     "acct_no"),
    "iban": ("iban",),
    "payment_card": ("card_no", "card_number", "pan", "cc_no", "no_kad"),
    "date_of_birth": ("dob", "birth", "birth_date", "date_of_birth", "tarikh_lahir", "tkh_lahir",
                      "birthdate"),
    "person_name": ("name", "nama", "full_name", "first_name", "last_name", "surname",
                    "given_name", "family_name", "middle_name", "forename"),
    "address": ("address", "addr", "alamat", "street", "postcode", "poskod"),
    # Not `state`: an account's or a job's state is a status far more often than a place.
    "place": ("city", "town", "bandar", "country", "negara", "negeri", "district", "daerah"),
    "free_text": ("notes", "note", "remarks", "remark", "catatan", "comment", "comments",
                  "description", "memo", "narrative"),
    "amount": ("amount", "amt", "jumlah", "balance", "baki", "total", "price", "value"),
    "timestamp": ("ts", "timestamp", "created_at", "updated_at", "time", "masa"),
    "date": ("date", "tarikh", "tkh", "day"),
    "code": ("code", "kod", "status", "type", "category", "currency", "channel", "segment"),
}  # fmt: skip

# Types a name suggests only when it ends with one of their words (`address__city`,
# `nama_bandar`, `birth_country`), its head: elsewhere the word qualifies something else.
HEAD_ONLY = frozenset(("place",))
# A name qualified by one of these is not a person's: `merchant_name`, `branch_name`, and a
# place's (`nama_bandar`, a town's name).
NOT_A_PERSON = frozenset(
    ("merchant", "branch", "bank", "product", "company", "file", "user", "table", "column",
     "state", "syarikat", "cawangan", *HINTS["place"])
)  # fmt: skip
# Columns whose presence beside another says that one is a phone number.
PHONE_NEIGHBOURS = ("phone_country_code", "country_calling_code", "dial_code", "calling_code",
                    "kod_negara")  # fmt: skip


def tokens(name: str) -> list[str]:
    """`customerICNo` and `customer_ic_no` both read as ["customer", "ic", "no"]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def name_hints(name: str) -> list[str]:
    """The semantic types the column's name suggests, most specific (longest fragment) first."""
    words = tokens(name)
    runs = {
        "_".join(words[i:j]): j - i
        for i in range(len(words))
        for j in range(i + 1, min(len(words), i + 3) + 1)
    }
    found: dict[str, int] = {}
    for semantic_type, fragments in HINTS.items():
        length = max((runs[f] for f in fragments if f in runs), default=0)
        if semantic_type == "person_name" and NOT_A_PERSON.intersection(words):
            length = 0
        if semantic_type in HEAD_ONLY and words and words[-1] not in fragments:
            length = 0  # `city_contact`, `country_manager`: a person qualified by a place
        if length:
            found[semantic_type] = length
    return sorted(found, key=lambda t: -found[t])


def is_phone_neighbour(name: str) -> bool:
    joined = "_".join(tokens(name))
    return any(fragment in joined for fragment in PHONE_NEIGHBOURS)
