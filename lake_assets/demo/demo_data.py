"""A small banking lake to try the platform on: card transactions (JSON lines) and customer
snapshots (CSV) over several days, with the realities the platform must handle: a release that
renames `transaction_date` to `txn_date` and adds two fields, a few late records, unreadable
amounts every day, one corrupt file, customers who change segment or close and reopen their
account. Deterministic for a given seed."""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

CURRENCIES = ("MYR", "MYR", "MYR", "SGD", "USD")
MERCHANTS = (
    ("Kedai Runcit Ali", "grocery", "MY"),
    ("Petronas Jalan Ampang", "fuel", "MY"),
    ("Grab", "transport", "MY"),
    ("Shopee", "ecommerce", "SG"),
    ("Starbucks KLCC", "restaurants", "MY"),
)
SEGMENTS = ("retail", "premier", "private", "sme")


@dataclass(frozen=True)
class DemoDelivery:
    source_id: str
    ingest_date: str
    path: Path


def _transaction(rng: random.Random, number: int, day: date, renamed: bool, first: bool) -> dict:
    # About one record in twenty is late: it happened the day before it was delivered. None on
    # the first day: the demo's lake starts there, and nothing of its data falls before it.
    late = rng.random() < 0.05
    event_day = day - timedelta(days=1) if late and not first else day
    moment = datetime(event_day.year, event_day.month, event_day.day) + timedelta(
        seconds=rng.randrange(86_400)
    )
    name, category, country = rng.choice(MERCHANTS)
    record = {
        "transaction_id": f"TXN-{number:07d}",
        "customer_id": f"C{rng.randrange(1, 60):05d}",
        "amount": round(rng.uniform(1, 2_500), 2),
        "currency": rng.choice(CURRENCIES),
        "merchant": {"name": name, "category": category, "country": country},
        "card_present": rng.random() < 0.7,
        ("txn_date" if renamed else "transaction_date"): moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if renamed:
        record["channel"] = rng.choice(("pos", "online", "contactless"))
        record["device_id"] = f"DEV-{rng.randrange(10**6):06d}"
    return record


CLOSED_FOR_A_DAY = 4  # the last customer's account is closed on this day and reopened the next


def mykad(born: date, person: random.Random) -> str:
    """A MyKad number as the customer master stores it: YYMMDD of birth, a place-of-birth code
    of a Malaysian state (01-14) and four more digits, dashed (the classifier's mykad)."""
    return f"{born:%y%m%d}-{person.randrange(1, 15):02d}-{person.randrange(10**4):04d}"


def customers_snapshot(
    day: date, day_index: int, count: int = 60, amended: dict[str, dict] | None = None
) -> list[dict]:
    """The customer master on `day`: stable people (with their national ID, a MyKad number),
    a few changes a day for the history to record. Every fifth customer moves up a segment once
    (on day `number % 7`); the last customer, whom no card payment references, is missing on
    CLOSED_FOR_A_DAY and back the day after. `amended` overrides fields per customer id (a correction re-sent by the source)."""
    names = ("Aisyah", "Wei Ling", "Rajesh", "Nur", "Daniel", "Mei", "Arjun", "Siti")
    rows = []
    for number in range(1, count + 1):
        if number == count and day_index == CLOSED_FOR_A_DAY:
            continue
        person = random.Random(number)  # stable attributes per customer across snapshots
        segment = SEGMENTS.index(person.choice(SEGMENTS))
        moved = number % 5 == 0 and day_index >= number % 7
        customer_id = f"C{number:05d}"
        row = {
            "customer_id": customer_id,
            "full_name": f"{person.choice(names)} {person.choice(('Tan', 'Lim', 'Abdullah', 'Kumar'))}",
            "email": f"customer{number}@example.com.my",
            "phone": f"+6012{person.randrange(10**7):07d}",
            "segment": SEGMENTS[(segment + moved) % len(SEGMENTS)],
            "date_of_birth": (
                date(1960, 1, 1) + timedelta(days=person.randrange(15_000))
            ).isoformat(),
            "risk_score": person.randrange(1, 100),
            "snapshot_date": day.isoformat(),
        }
        # Drawn last, so every other attribute stays what earlier demos generated.
        row = {**row, "national_id": mykad(date.fromisoformat(row["date_of_birth"]), person)}
        rows.append({**row, **(amended or {}).get(customer_id, {})})
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def generate(
    out_dir: Path,
    start: date = date(2026, 3, 2),
    days: int = 6,
    rename_on_day: int = 4,
    transactions_per_day: int = 400,
    seed: int = 7,
) -> list[DemoDelivery]:
    """Write each day's deliveries under out_dir/<ingest date>/ and list them in order."""
    rng = random.Random(seed)
    deliveries = []
    number = 0
    for offset in range(days):
        day = start + timedelta(days=offset)
        folder = out_dir / day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        renamed = offset + 1 >= rename_on_day
        for batch in (1, 2):
            records = []
            for _ in range(transactions_per_day // 2):
                number += 1
                records.append(_transaction(rng, number, day, renamed, first=offset == 0))
            if batch == 2:
                # Unreadable values, one to three a day: quarantined, not nulled. Each day's
                # contract warning burns card_transactions' quality budget slowly, whatever
                # number of days the demo plays (one bad day would be diluted by the rest).
                for record in records[3 : 4 + offset % 3]:
                    record["amount"] = "N/A"
            path = folder / f"card_transactions_{day:%Y%m%d}_{batch}.json"
            path.write_text("".join(json.dumps(r) + "\n" for r in records))
            deliveries.append(DemoDelivery("card_transactions", day.isoformat(), path))
        if offset == 2:
            corrupt = folder / f"card_transactions_{day:%Y%m%d}_3.json"
            corrupt.write_bytes(b"\x1f\x8b\x08\x00 this batch was gzipped by mistake \xff\xfe")
            deliveries.append(DemoDelivery("card_transactions", day.isoformat(), corrupt))
        path = write_csv(folder / f"customers_{day:%Y%m%d}.csv", customers_snapshot(day, offset))
        deliveries.append(DemoDelivery("customers", day.isoformat(), path))
    return deliveries
