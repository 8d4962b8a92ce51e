"""Profiling on arrival: `profile_file` against `pyarrow.json.read_json` on the same file.

read_json is the floor for reading JSON lines into columns with the library the profiler is
built on, so the ratio of the two throughputs says what profiling costs on top of parsing: a
profiler at half of read_json's speed or better keeps up with arrivals. The second half checks
the profiler's promise that memory follows its block size, not the file size: its peak memory
on a file four times larger should be about the same, where read_json, which holds the whole
table, grows with the file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.data import transactions_file
from benchmarks.readers import BASELINE, READERS, SUBJECT
from benchmarks.timing import MB, alternate, print_table
from lake_assets.settings import REPO_ROOT

REPEATS = 3
SMALL_FRACTION = 4  # the memory comparison's smaller file has rows // SMALL_FRACTION rows


def run(rows: int) -> str:
    large, small = transactions_file(rows), transactions_file(rows // SMALL_FRACTION)
    speed = _throughput(large, rows)
    growth = _memory_growth(large, small)
    return (
        f"profiling: {speed:.2f} x pyarrow throughput (target >= 0.5); "
        f"peak memory {_rows_label(rows)}/{_rows_label(rows // SMALL_FRACTION)} rows = "
        f"{growth[SUBJECT]:.2f} (read_json: {growth[BASELINE]:.2f}; peak RSS above imports)"
    )


def _throughput(path: Path, rows: int) -> float:
    """profile_file's throughput as a fraction of read_json's, both from a warm page cache."""
    size = path.stat().st_size
    print(f"\n[profiling] {path.name}: {rows:,} rows, {size / MB:,.1f} MB", flush=True)
    path.read_bytes()  # into the page cache, so neither side pays for the disk
    cases = {name: lambda _, read=READERS[name]: read(path) for name in (BASELINE, SUBJECT)}
    runs = alternate(cases, REPEATS)
    print_table(
        "Profiling throughput (median of alternated runs)",
        ["reader", "rows", "median s", "MB/s", "runs s"],
        [[name, r.result, r.median, size / MB / r.median, r.spread()] for name, r in runs.items()],
    )
    return runs[BASELINE].median / runs[SUBJECT].median


def _memory_growth(large: Path, small: Path) -> dict[str, float]:
    """Per reader: the memory reading the large file took over what the small one took.

    Memory taken is the peak RSS above the RSS after imports, which is the same for every file.
    """
    probes = {(reader, path): _probe(reader, path) for reader in READERS for path in (large, small)}
    for probe in probes.values():
        probe["taken_mib"] = probe["peak_rss_mib"] - probe["import_rss_mib"]
    print_table(
        "Peak memory (a fresh process per run; MiB)",
        ["reader", "rows", "peak RSS", "RSS after imports", "taken", "arrow pool peak"],
        [
            [reader, p["rows"], p["peak_rss_mib"], p["import_rss_mib"], p["taken_mib"],
             p["arrow_pool_peak_mib"]]
            for (reader, _), p in probes.items()
        ],
    )  # fmt: skip
    return {r: probes[r, large]["taken_mib"] / probes[r, small]["taken_mib"] for r in READERS}


def _probe(reader: str, path: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.readers", reader, str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        raise RuntimeError(f"memory probe of {reader} on {path} failed:\n{completed.stderr}")
    return json.loads(completed.stdout)


def _rows_label(rows: int) -> str:
    for unit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if rows % unit == 0:
            return f"{rows // unit}{suffix}"
    return f"{rows:,}"
