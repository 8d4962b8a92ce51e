"""The two readers the profiling benchmark compares, and a probe of one reader's peak memory.

`python -m benchmarks.readers READER PATH` reads PATH once with READER (a key of READERS) in
this fresh interpreter and prints one JSON object: the rows read, the process's peak resident
set after the imports and at the end, and the peak of pyarrow's default memory pool. A fresh
process per measurement, because a process's peak RSS never comes down.

The peak is VmHWM from /proc/self/status, not getrusage's ru_maxrss: Linux carries ru_maxrss
over exec from the forking parent, so a probe started by a big benchmark process would report
the parent's peak.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.json as pj

from lake_assets.ingestion.profiling import profile_file

BASELINE, SUBJECT = "pyarrow.json.read_json", "profile_file"
READERS: dict[str, Callable[[Path], int]] = {  # reader -> rows it read
    BASELINE: lambda path: pj.read_json(path).num_rows,
    SUBJECT: lambda path: profile_file(path, "json").row_count,
}


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as status:
        (kib,) = (line.split()[1] for line in status if line.startswith("VmHWM:"))
    return int(kib) / 1024


def measure(reader: str, path: Path) -> dict:
    imports = _peak_rss_mib()
    rows = READERS[reader](path)
    return {
        "rows": rows,
        "import_rss_mib": imports,
        "peak_rss_mib": _peak_rss_mib(),
        "arrow_pool_peak_mib": pa.default_memory_pool().max_memory() / 2**20,
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], Path(sys.argv[2]))))
