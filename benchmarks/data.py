"""The benchmark payload: card transactions as JSON lines, shaped like demo_data._transaction.

Each record has the demo's fields (nested merchant object, ISO UTC timestamp, the post-release
`channel` and `device_id`) under the `transaction_date` name the card_transactions source
declares, about 280 bytes a line. Every record happens on EVENT_DAY, so promotion writes exactly
one partition. Lines are built column-wise with numpy and pyarrow string kernels (a million
lines in a few seconds), deterministically from SEED, and the file is reused while its sidecar
says it has the wanted row count and its size still matches.

`daily_files` writes the same kind of lines as one small file per day, each day's records
happening on that day, for benchmarks that need many partitions rather than many rows.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lake_assets.demo.demo_data import CURRENCIES, MERCHANTS
from lake_assets.settings import REPO_ROOT

BENCH_DATA = REPO_ROOT / "bench-data"
EVENT_DAY = date(2026, 3, 2)
SEED = 20260302
CUSTOMERS = 50_000  # the demo's 59 customers, scaled to a bank's card base
CHANNELS = ("pos", "online", "contactless")
CHUNK_ROWS = 100_000
FORMAT_VERSION = 1  # bump when the generated lines change, so stale files are rebuilt


def transactions_file(rows: int) -> Path:
    """Path of the `rows`-line payload under bench-data/, generated if missing or stale."""
    path = BENCH_DATA / f"card_transactions_{rows}.json"
    meta_path = path.with_suffix(".meta.json")
    wanted = {"rows": rows, "seed": SEED, "version": FORMAT_VERSION}
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if {k: meta.get(k) for k in wanted} == wanted and meta.get("bytes") == path.stat().st_size:
            return path
    print(f"generating {path.name} ({rows:,} rows)...", flush=True)
    BENCH_DATA.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        rng = np.random.default_rng(SEED)
        for first in range(0, rows, CHUNK_ROWS):
            _write_lines(out, _lines(rng, first, min(CHUNK_ROWS, rows - first)))
    os.replace(partial, path)
    meta_path.write_text(json.dumps({**wanted, "bytes": path.stat().st_size}))
    return path


def daily_files(
    folder: Path, first_day: date, days: int, rows_per_day: int
) -> list[tuple[date, Path]]:
    """One file of `rows_per_day` lines per day from `first_day`, each day's events on that day,
    transaction ids numbered on across days; [(day, path)] in day order."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    files = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        path = folder / f"card_transactions_{day:%Y%m%d}.json"
        with path.open("wb") as out:
            _write_lines(out, _lines(rng, offset * rows_per_day, rows_per_day, day))
        files.append((day, path))
    return files


def _lines(rng: np.random.Generator, first: int, count: int, day: date = EVENT_DAY) -> pa.Array:
    """`count` JSON lines, newline included, numbered from first + 1 like the demo's, all
    happening on `day`."""
    merchant = pa.array(rng.integers(0, len(MERCHANTS), count))
    names, categories, countries = (pa.array(column) for column in zip(*MERCHANTS, strict=True))
    cents = rng.integers(100, 250_001, count)
    card_present = pa.array(["false", "true"]).take((rng.random(count) < 0.7).astype(np.int8))
    parts = [
        '{"transaction_id": "TXN-', _digits(np.arange(first + 1, first + count + 1), 7),
        '", "customer_id": "C', _digits(rng.integers(1, CUSTOMERS + 1, count), 5),
        '", "amount": ', _digits(cents // 100, 1), ".", _digits(cents % 100, 2),
        ', "currency": "', _choice(rng, CURRENCIES, count),
        '", "merchant": {"name": "', names.take(merchant),
        '", "category": "', categories.take(merchant),
        '", "country": "', countries.take(merchant),
        '"}, "card_present": ', card_present,
        ', "transaction_date": "', _timestamps(rng, count, day),
        '", "channel": "', _choice(rng, CHANNELS, count),
        '", "device_id": "DEV-', _digits(rng.integers(0, 10**6, count), 6),
        '"}\n',
    ]  # fmt: skip
    return pc.binary_join_element_wise(*parts, "")


def _digits(numbers: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")


def _choice(rng: np.random.Generator, options: tuple[str, ...], count: int) -> pa.Array:
    return pa.array(options).take(pa.array(rng.integers(0, len(options), count)))


def _timestamps(rng: np.random.Generator, count: int, day: date) -> pa.Array:
    midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    seconds = pa.array(midnight + rng.integers(0, 86_400, count), pa.timestamp("s"))
    return pc.strftime(seconds, "%Y-%m-%dT%H:%M:%SZ")


def _write_lines(out, lines: pa.Array) -> None:
    """Write a string array's characters as they lie in its data buffer: no per-line copies."""
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, np.int32)[[lines.offset, lines.offset + len(lines)]]
    out.write(data[int(bounds[0]) : int(bounds[1])])
