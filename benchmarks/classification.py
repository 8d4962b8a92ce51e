"""Column classification: `classify_table` against a regex-only baseline on the same sample,
the sample's memory against the rows it is drawn from, and precision/recall beside Presidio.

The data is the evaluation generator's labelled table (lake_assets/classification/evaluation.py,
22 columns, most with misleading names), `rows` rows written once to bench-data/ as Parquet in chunks
and reused. The baseline is what a regex-only classifier does: per column, one pyarrow.compute
pass of every format's shape regex (`formats.SHAPES`), counting matches; nothing else. The
classifier's cost on top of it (checks, profile, fusion) should stay within 2x. The memory part
reads the first tenth of the file and the whole file, with and without drawing the policy's
sample, each in a fresh process: what drawing adds should not grow with the rows. Presidio runs
when PRESIDIO_PYTHON names a Python that has presidio-analyzer (see
benchmarks/presidio_columns.py); otherwise the summary says why it did not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from itertools import islice
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.data import BENCH_DATA
from benchmarks.timing import alternate, print_table
from lake_assets.classification import evaluation, formats
from lake_assets.classification.classifier import classify_table, sample_table
from lake_assets.classification.policy import load_policy
from lake_assets.settings import REPO_ROOT

CHUNK_ROWS = 100_000
FAKER_POOL = 1_000  # distinct Faker values per column and chunk
BATCH = 50_000  # rows a record batch of the file holds, as the sample reads it
REPEATS = 5
PRESIDIO_VALUES = 100  # values per column Presidio analyses (some tens a second)
MiB = 1024**2
# Presidio's entities as the classifier's semantic types.
PRESIDIO_TYPES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "CREDIT_CARD": "payment_card",
    "IBAN_CODE": "iban",
    "US_BANK_NUMBER": "bank_account",
    "PERSON": "person_name",
    "LOCATION": "address",
    "DATE_TIME": "date",
}


def run(rows: int) -> str:
    path = labelled_file(rows)
    policy = load_policy()
    print(f"\n[classification] {path.name}: {rows:,} rows, sample {policy.sample_size:,}")
    start = time.perf_counter()
    sample = sample_table(pq.ParquetFile(path).iter_batches(batch_size=BATCH), policy)
    sampling = time.perf_counter() - start
    runs = alternate(
        {
            "regex counts (baseline)": lambda _: _regex_counts(sample),
            "classify_table": lambda _: classify_table("customers", sample, ("a", "b"), policy),
        },
        REPEATS,
    )
    base, subject = runs["regex counts (baseline)"], runs["classify_table"]
    print_table(
        "Classification of the sample (median of alternated runs)",
        ["case", "median s", "runs s"],
        [[name, r.median, r.spread()] for name, r in runs.items()],
    )
    ratio = subject.median / base.median
    found = {c.column: c.semantic_type for c in subject.result}
    ours = evaluation.score(found, evaluation.LABELS, policy)
    # Reading Parquet has its own peak, which grows a little with the row groups read; the
    # sample's memory is what drawing it adds on top of reading the same batches.
    probes = {(n, draw): _probe(path, n, draw) for n in (rows // 10, rows) for draw in (0, 1)}
    print_table(
        "Peak memory (a fresh process each, under tracemalloc; MiB)",
        ["rows read", "case", "arrow pool peak", "python peak", "total"],
        [[f"{n:,}", "read and sample" if draw else "read only", m["arrow_peak_mib"],
          m["python_peak_mib"], _total(m)] for (n, draw), m in probes.items()],
    )  # fmt: skip
    added = {n: _total(probes[n, 1]) - _total(probes[n, 0]) for n in (rows // 10, rows)}
    return (
        f"classification: {ratio:.2f} x the regex-count baseline on a "
        f"{sample.num_rows:,}-row sample (target <= 2); PII precision {ours.precision:.2f} "
        f"recall {ours.recall:.2f}; {_presidio(sample, policy)}; memory the sample adds to "
        f"reading: {added[rows // 10]:.1f} MiB at {rows // 10:,} rows, {added[rows]:.1f} MiB at "
        f"{rows:,} (drawing it from {rows:,} rows: {sampling:.1f} s)"
    )


def labelled_file(rows: int) -> Path:
    """bench-data/classification_<rows>.parquet, generated in chunks if missing or if the
    generator's columns changed."""
    path = BENCH_DATA / f"classification_{rows}.parquet"
    if path.exists():
        existing = pq.ParquetFile(path)
        current = existing.schema_arrow.names == list(evaluation.LABELS)
        if current and existing.metadata.num_rows == rows:
            return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    writer = None
    start = time.perf_counter()
    for number, first in enumerate(range(0, rows, CHUNK_ROWS)):
        chunk, _ = evaluation.generate(min(CHUNK_ROWS, rows - first), seed=number, pool=FAKER_POOL)
        writer = writer or pq.ParquetWriter(partial, chunk.schema)
        writer.write_table(chunk)
        print(f"  generated {first + chunk.num_rows:,} rows", flush=True)
    writer.close()
    partial.rename(path)
    print(f"  {path.name} in {time.perf_counter() - start:.0f} s")
    return path


def _regex_counts(sample: pa.Table) -> dict[str, dict[str, int]]:
    counts = {}
    for name in sample.column_names:
        values = pc.drop_null(sample.column(name)).cast(pa.string())
        counts[name] = {
            shape: pc.sum(pc.match_substring_regex(values, f"^(?:{regex})$")).as_py()
            for shape, regex in formats.SHAPES.items()
        }
    return counts


def _total(probe: dict) -> float:
    return round(probe["arrow_peak_mib"] + probe["python_peak_mib"], 1)


def _probe(path: Path, rows: int, draw: int) -> dict:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.classification", str(path), str(rows), str(draw)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        raise RuntimeError(completed.stderr)
    return json.loads(completed.stdout.splitlines()[-1])


def _presidio(sample: pa.Table, policy) -> str:
    python = os.environ.get("PRESIDIO_PYTHON")
    if not python:
        return (
            "Presidio not run: set PRESIDIO_PYTHON to a Python with presidio-analyzer (it "
            "needs a spaCy model, which this benchmark does not download)"
        )
    columns = {
        name: [str(v) for v in sample.column(name).slice(0, PRESIDIO_VALUES).to_pylist() if v]
        for name in sample.column_names
    }
    completed = subprocess.run(
        [python, str(Path(__file__).with_name("presidio_columns.py"))],
        input=json.dumps(columns),
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        return f"Presidio did not run: {completed.stderr.strip().splitlines()[-1]}"
    found = {}
    for name, counts in json.loads(completed.stdout).items():
        # A column is what Presidio finds in most of its values (its own structured-data rule).
        typed = {PRESIDIO_TYPES[e]: n for e, n in counts.items() if e in PRESIDIO_TYPES}
        best = max(typed, key=typed.get, default=None)
        found[name] = best if best and typed[best] >= len(columns[name]) / 2 else None
    theirs = evaluation.score(found, evaluation.LABELS, policy)
    print_table(
        "Presidio (blank spaCy pipeline: pattern recognisers only)",
        ["column", "true type", "Presidio"],
        [[name, evaluation.LABELS[name], str(found[name])] for name in columns],
    )
    return f"Presidio precision {theirs.precision:.2f} recall {theirs.recall:.2f}"


def _sample_memory(path: Path, rows: int, draw: bool) -> dict:
    """Read the first `rows` rows of `path` and, if `draw`, draw the sample from them; report
    the peak memory."""
    pool = pa.default_memory_pool()
    policy = load_policy()
    tracemalloc.start()
    batches = islice(pq.ParquetFile(path).iter_batches(batch_size=BATCH), -(-rows // BATCH))
    sampled = sample_table(batches, policy).num_rows if draw else sum(1 for _ in batches)
    python_peak = tracemalloc.get_traced_memory()[1]
    return {
        "rows": rows,
        "sampled": sampled,
        "arrow_peak_mib": round(pool.max_memory() / MiB, 1),
        "python_peak_mib": round(python_peak / MiB, 1),
    }


if __name__ == "__main__":
    print(json.dumps(_sample_memory(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1")))
