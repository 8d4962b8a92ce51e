"""The pipeline generator (issue 15): generating 50 pipelines, and what 50 generated pipelines
cost the code location at load time against 2.

Setup: a copy of the repository's specs (the lake's five sources) plus N synthetic specs
(`synthetic_spec`): json and csv, events and snapshots, a few with history, inline contracts of
about ten rules, no references between them.

- generate: `lake generate` over 50 synthetic specs as a subprocess, interpreter start
  included, into an empty folder (cold), then again (warm: must write nothing, which is also
  the byte-identity check). Target: under 5 s.
- load: a fresh interpreter imports the code location (lake_assets.definitions builds `defs`),
  resolves the repository (every job, schedule and sensor) and builds the snapshot the code
  server sends the webserver, with the five sources plus 2 synthetic pipelines (baseline) and
  plus 50 (subject). Median of REPEATS, alternating. Target: at most 3x. The five stay because
  silver and gold are built on them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.timing import alternate, print_table

REPO = Path(__file__).resolve().parents[1]
REPEATS = 3
GENERATE_TARGET_SECONDS = 5.0
LOAD_TARGET = 3.0
FORMATS = ("json", "csv")

# Timed in the child: import + build (defs), repository (every job resolved), snapshot.
_LOAD = """
import time
start = time.perf_counter()
from lake_assets.definitions import defs
repository = defs.get_repository_def()
from dagster._core.remote_representation.external_data import RepositorySnap
RepositorySnap.from_def(repository)
print(time.perf_counter() - start, len(repository.assets_defs_by_key))
"""


def synthetic_spec(n: int) -> dict:
    """A plausible pipeline: a dozen typed columns, about ten contract rules."""
    snapshot = n % 4 == 0
    columns = [
        {"name": "record_id", "type": "string", "nullable": False},
        {"name": "event_time", "type": "timestamp", "nullable": False},
        {"name": "amount", "type": "double"},
        {"name": "status", "type": "string"},
        *({"name": f"attribute_{i}", "type": "string"} for i in range(8)),
    ]
    rules = [
        {"name": "record_id_unique", "severity": "error", "unique": {"columns": ["record_id"]}},
        {
            "name": "amount_positive",
            "severity": "error",
            "action": "drop",
            "range": {"column": "amount", "min": 0},
        },
        {
            "name": "status_known",
            "severity": "warn",
            "allowed_values": {"column": "status", "values": ["open", "closed", "void"]},
        },
        *(
            {
                "name": f"attribute_{i}_shape",
                "severity": "warn",
                "regex": {"column": f"attribute_{i}", "pattern": "^[A-Z0-9]{1,12}$"},
            }
            for i in range(7)
        ),
    ]
    spec = {
        "description": f"Synthetic feed {n} for the generator benchmark.",
        "owner": f"team-{n % 7}",
        "tags": {"domain": f"domain_{n % 5}"},
        "source": {"format": FORMATS[n % 2]},
        "event_time_field": "event_time",
        "delivery": "snapshot" if snapshot else "events",
        "sla": {"deadline_hours": 6, "max_staleness_hours": 30},
        "contract": {"version": 1, "schema": columns, "rules": rules},
    }
    if snapshot and n % 8 == 0:
        spec["history"] = {"keys": ["record_id"]}
    return spec


def write_specs(folder: Path, synthetic: int, with_lake_sources: bool) -> Path:
    specs = folder / "pipelines"
    if with_lake_sources:
        shutil.copytree(REPO / "pipelines", specs)
    else:
        specs.mkdir(parents=True)
    for n in range(synthetic):
        text = yaml.safe_dump(synthetic_spec(n), sort_keys=False)
        (specs / f"synthetic_{n:03d}.yaml").write_text(text)
    return specs


def _generate(specs: Path) -> float:
    """Seconds of one `lake generate` subprocess over `specs` (output beside it)."""
    env = {**os.environ, "LAKE_SPECS_DIR": str(specs)}
    start = time.perf_counter()
    subprocess.run([_lake(), "generate"], env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def _lake() -> str:
    return str(Path(sys.executable).with_name("lake"))


def _load(generated: Path, lake_root: Path) -> tuple[float, int]:
    """Seconds a fresh interpreter takes to build the code location over `generated` (timed in
    the child, so interpreter start-up is left out), and how many assets it has."""
    env = {**os.environ, "LAKE_PIPELINES_DIR": str(generated), "LAKE_ROOT": str(lake_root)}
    env.pop("LAKE_SOURCES_FILE", None)
    done = subprocess.run(
        [sys.executable, "-c", _LOAD], env=env, check=True, capture_output=True, text=True
    )
    seconds, assets = done.stdout.split()[-2:]
    return float(seconds), int(assets)


def run(rows: int) -> str:
    del rows  # the sizes are the issue's: 50 pipelines, against 2
    with tempfile.TemporaryDirectory(prefix="bench-pipelines-") as tmp:
        root = Path(tmp)
        print(
            "\n[pipelines] lake generate over 50 synthetic specs; code location load, 5+2 vs 5+50"
        )
        fifty = write_specs(root / "fifty", 50, with_lake_sources=False)
        cold = _generate(fifty)
        before = {p: p.stat().st_mtime_ns for p in fifty.parent.rglob("*") if p.is_file()}
        warm = _generate(fifty)
        after = {p: p.stat().st_mtime_ns for p in fifty.parent.rglob("*") if p.is_file()}
        rewritten = sum(before.get(p) != m for p, m in after.items())
        print_table(
            "lake generate, 50 pipelines (subprocess, interpreter start included)",
            ["run", "seconds", "files written"],
            [
                ["cold (empty folder)", cold, len(after) - len(list(fifty.rglob("*.yaml")))],
                ["warm (rerun)", warm, rewritten],
            ],
        )
        few = write_specs(root / "few", 2, with_lake_sources=True)
        many = write_specs(root / "many", 50, with_lake_sources=True)
        for specs in (few, many):
            _generate(specs)
        loads = alternate(
            {
                "5 + 2 pipelines": lambda n: _load(few.parent / "lake_pipelines", root / f"l{n}"),
                "5 + 50 pipelines": lambda n: _load(many.parent / "lake_pipelines", root / f"m{n}"),
            },
            REPEATS,
        )
    base, subject = loads["5 + 2 pipelines"], loads["5 + 50 pipelines"]
    ratio = subject.median / base.median
    print_table(
        "code location load (import, repository, snapshot), median of rounds",
        ["pipelines", "seconds", "assets", "rounds"],
        [[name, r.median, r.result[1], r.spread()] for name, r in loads.items()],
    )
    return (
        f"pipelines: generate 50 {cold:.2f} s cold, {warm:.2f} s warm "
        f"(target < {GENERATE_TARGET_SECONDS:.0f} s; {rewritten} files rewritten); "
        f"load 5+50 vs 5+2 {ratio:.2f}x (target <= {LOAD_TARGET:.0f}x)"
    )
