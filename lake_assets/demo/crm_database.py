"""The demo's CRM: a SQLite database of contacts beside the demo lake, changed each demo day the
way a CRM changes, for the `crm_contacts` pull (lake_assets/pull/) to extract incrementally.

Contacts of customers carry the customer master's ids (`customer_ref` "C00012") and its names,
e-mails and phones; leads carry none. Every day a few contacts move house, change phone or add
an e-mail, a new lead arrives, and on set days a lead becomes a customer or a duplicate is
merged into the contact it duplicates (`merged_into`; both name the same customer, or no
customer when two leads were one person). Two changes of a day share one timestamp, so a pull
must order by its tie-breaker (contact_id) as well. Name, e-mails and address are JSON text,
as the CRM stores them. Deterministic: the same days give the same database.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from lake_assets.demo.demo_data import customers_snapshot

CUSTOMER_CONTACTS = 24  # contacts K000001.. for customers C00001..
FIRST_LEADS = 6
CITIES = (
    ("Kuala Lumpur", "50450"),
    ("Alor Setar", "05000"),  # a leading zero a number type would lose
    ("Johor Bahru", "80000"),
    ("George Town", "10200"),
    ("Kota Bharu", "15000"),
    ("Kuching", "93000"),
)
LEAD_NAMES = (("Hafiz", "Rahman"), ("Priya", "Nair"), ("Jun", "Wong"), ("Farah", "Ismail"))
# day index -> (a duplicate another branch entered, the master row of the customer it duplicates)
DUPLICATES = {1: ("K000101", 2)}
# day index -> (contact, the contact it is merged into): a customer's duplicate, then two leads
MERGES = {2: ("K000101", "K000003"), 3: ("K000027", "K000026")}
CONVERTS = {1: ("K000025", "C00031")}  # day -> (lead, the customer it became)

metadata = sa.MetaData()
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("contact_id", sa.String, primary_key=True),
    sa.Column("customer_ref", sa.String),
    sa.Column("name", sa.Text),  # JSON {"first", "last"}
    sa.Column("emails", sa.Text),  # JSON list
    sa.Column("phone", sa.String),
    sa.Column("address", sa.Text),  # JSON {"city", "postcode", "country"}
    sa.Column("lifecycle_stage", sa.String),
    sa.Column("merged_into", sa.String),
    sa.Column("updated_at", sa.DateTime, nullable=False, index=True),
)


def crm_database(lake_root: Path) -> Path:
    """Where the demo keeps its CRM: beside the lake, so `lake demo --reset` starts it anew."""
    return lake_root.parent / "crm.sqlite"


def play_crm_day(path: Path, start: date, day_index: int) -> int:
    """Apply demo day `day_index`'s changes (day 0 creates the database); how many contacts
    changed."""
    day = start + timedelta(days=day_index)
    if day_index == 0:
        path.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        metadata.create_all(engine)
        changes = _changes(start, day_index)
        stamps = _stamps(day, len(changes), random.Random(1000 + day_index))
        with engine.begin() as connection:
            for (contact_id, fields), stamp in zip(changes, stamps, strict=True):
                _upsert(connection, contact_id, {**fields, "updated_at": stamp})
    finally:
        engine.dispose()
    return len(changes)


def _changes(start: date, day_index: int) -> list[tuple[str, dict]]:
    rng = random.Random(day_index)
    if day_index == 0:
        master = customers_snapshot(start, 0)[:CUSTOMER_CONTACTS]
        changes = [(f"K{n:06d}", _customer_contact(row, rng)) for n, row in enumerate(master, 1)]
        leads = range(CUSTOMER_CONTACTS + 1, CUSTOMER_CONTACTS + FIRST_LEADS + 1)
        return changes + [(f"K{n:06d}", _lead(n, rng)) for n in leads]
    changes = []
    for number in rng.sample(range(1, CUSTOMER_CONTACTS + 1), 3):
        changes.append((f"K{number:06d}", _one_change(number, day_index, rng)))
    lead = CUSTOMER_CONTACTS + FIRST_LEADS + day_index
    # The day's new lead walks into the Alor Setar branch. The profiler types a field from its
    # values' text, so a day whose postcodes all lack a leading zero would read as integer and
    # the registry would call it BREAKING (string -> integer); with one "05000" a day the demo's
    # only breaking change stays the card processor's rename.
    changes.append((f"K{lead:06d}", {**_lead(lead, rng), "address": _address(rng, CITIES[1])}))
    if day_index in CONVERTS:
        contact_id, customer_id = CONVERTS[day_index]
        changes.append((contact_id, {"customer_ref": customer_id, "lifecycle_stage": "customer"}))
    if day_index in DUPLICATES:
        contact_id, row = DUPLICATES[day_index]
        master = customers_snapshot(start, 0)[row]
        duplicate = _customer_contact(master, rng)  # the same customer, another e-mail
        duplicate["emails"] = json.dumps([master["email"].replace("@", ".work@")])
        changes.append((contact_id, duplicate))
    if day_index in MERGES:
        merged, survivor = MERGES[day_index]
        changes.append((merged, {"merged_into": survivor}))
    return changes


def _customer_contact(row: dict, rng: random.Random) -> dict:
    first, last = row["full_name"].rsplit(" ", 1)
    return {
        "customer_ref": row["customer_id"],
        "name": json.dumps({"first": first, "last": last}),
        "emails": json.dumps([row["email"]]),
        "phone": row["phone"],
        "address": _address(rng),
        "lifecycle_stage": "customer",
        "merged_into": None,
    }


def _lead(number: int, rng: random.Random) -> dict:
    first, last = LEAD_NAMES[number % len(LEAD_NAMES)]
    return {
        "customer_ref": None,
        "name": json.dumps({"first": first, "last": last}),
        "emails": json.dumps([f"lead{number}@example.com"]),
        "phone": None,
        "address": _address(rng),
        "lifecycle_stage": "lead",
        "merged_into": None,
    }


def _one_change(number: int, day_index: int, rng: random.Random) -> dict:
    kind = rng.choice(("moved", "phone", "email"))
    if kind == "moved":
        return {"address": _address(rng)}
    if kind == "phone":
        return {"phone": f"+6019{rng.randrange(10**7):07d}"}
    return {"add_email": f"k{number}.day{day_index}@example.net"}


def _address(rng: random.Random, place: tuple[str, str] | None = None) -> str:
    city, postcode = place or rng.choice(CITIES)
    return json.dumps({"city": city, "postcode": postcode, "country": "MY"})


def _stamps(day: date, count: int, rng: random.Random) -> list[datetime]:
    """Office-hours times of `day`, in order, the last two equal (ties on the watermark)."""
    midnight = datetime(day.year, day.month, day.day)
    seconds = sorted(rng.sample(range(8 * 3600, 20 * 3600), count))
    if count > 1:
        seconds[-1] = seconds[-2]
    return [midnight + timedelta(seconds=s) for s in seconds]


def _upsert(connection: sa.Connection, contact_id: str, fields: dict) -> None:
    current = (
        connection.execute(sa.select(contacts).where(contacts.c.contact_id == contact_id))
        .mappings()
        .first()
    )
    if "add_email" in fields:
        emails = json.loads(current["emails"]) + [fields.pop("add_email")]
        fields["emails"] = json.dumps(emails)
    if current is None:
        connection.execute(contacts.insert().values(contact_id=contact_id, **fields))
    else:
        connection.execute(
            contacts.update().where(contacts.c.contact_id == contact_id).values(**fields)
        )


def pull_crm_day(settings, resources, start: date, day_index: int, now: datetime) -> list[str]:
    """The CRM's changes of demo day `day_index`, then a pull of `crm_contacts` from it at
    `now`, as its schedule would; what the pull says."""
    from lake_assets.pull.service import pull_source

    path = crm_database(settings.lake_root)
    play_crm_day(path, start, day_index)
    source = settings.source("crm_contacts")
    pulled = pull_source(
        resources["storage"],
        resources["registry"],
        resources["notifier"],
        source,
        sa.engine.make_url(f"sqlite:///{path}"),
        now,
    )
    return pulled.summary((source.pull.watermark.column, source.pull.watermark.tie_breaker))
