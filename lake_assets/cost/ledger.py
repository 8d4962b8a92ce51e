"""One month's ledger, Dagster-free: plan from the published CUR and drivers versions, run the
`cost_allocate` job wherever the runner runs it, audit that it reconciles to the nano, publish
through the catalog (a re-run is a new version; the one it replaces is kept as superseded) and
record lineage from the CUR and drivers versions it read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from lake_assets.cost.allocation import LEDGER_COLUMNS
from lake_assets.cost.model import (
    CUR_DATASET,
    DRIVERS_DATASET,
    LEDGER_DATASET,
    SHARED,
    UNALLOCATED,
    check_month,
    team_of_owner,
)
from lake_assets.cost.policy import AllocationPolicy
from lake_assets.lineage import LineageRun, partition_address, partition_outputs
from lake_assets.lineage.emitter import LineageRecorder
from lake_assets.runtime.jobs import RunJob
from lake_assets.settings import UNOWNED, Settings
from lake_assets.tables.locations import published_month_location
from lake_assets.tables.publish import publish, version_of
from lake_assets.tables.reader import published_uris
from resources.catalog import PartitionCatalog, PublishedPartition
from resources.storage import LakeStorage

CODE_VERSION = "cost-allocation-v1"


class LedgerDoesNotReconcile(RuntimeError):
    """The ledger the job wrote does not add up to the bill it read; nothing was published."""


@dataclass(frozen=True)
class LedgerOutcome:
    month: str
    published: PublishedPartition
    written: dict  # the job's result: bill, rows, files, nanos per team and unallocated reason
    inputs: dict[str, str] = field(default_factory=dict)  # dataset -> the version read

    @property
    def reconciles(self) -> bool:
        return sum(self.written["team_nanos"].values()) == self.written["bill_nanos"]

    @property
    def allocated_nanos(self) -> int:
        teams = self.written["team_nanos"]
        return sum(n for team, n in teams.items() if team not in (UNALLOCATED, SHARED))


def known_teams(settings: Settings, policy: AllocationPolicy) -> list[str]:
    """The teams a tag may name: the policy's, the platform's and every source owner's (a
    source that names nobody names no team)."""
    owners = [settings.platform_owner, *(s.owner for s in settings.sources.values())]
    owners = [owner for owner in owners if owner != UNOWNED]
    return sorted({*policy.tag_attribution.teams, *(team_of_owner(o) for o in owners)})


def allocate_month(
    month: str,
    run_id: str,
    policy: AllocationPolicy,
    teams: list[str],
    catalog: PartitionCatalog,
    storage: LakeStorage,
    recorder: LineageRecorder,
    run_job: RunJob,
) -> LedgerOutcome:
    """Allocate `month` and publish its ledger; LedgerDoesNotReconcile (nothing published) when
    the ledger's nanos differ from the bill's."""
    check_month(month)
    read = {d: catalog.current(d, month) for d in (CUR_DATASET, DRIVERS_DATASET)}
    missing = [d for d, version in read.items() if version is None]
    if missing:
        raise LookupError(f"{LEDGER_DATASET}[{month}]: nothing published for {missing} yet")
    replaced = version_of(catalog.current(LEDGER_DATASET, month))
    location = published_month_location(LEDGER_DATASET, run_id, month)
    plan = {
        "month": month,
        "cur": published_uris(storage, read[CUR_DATASET]),
        "drivers": published_uris(storage, read[DRIVERS_DATASET]),
        "policy": policy.model_dump(mode="json"),
        "teams": teams,
        "output_uri": storage.uri(location),
    }
    started = LineageRun(
        run_id=run_id,
        job="cost/ledger",
        partition=month,
        inputs=tuple(partition_address(d, month) for d in read),
        outputs=(partition_address(LEDGER_DATASET, month),),
        started_at=datetime.now(UTC).isoformat(),
        code_version=CODE_VERSION,
        schema_version="derived",
    )
    with recorder.track(started) as outputs:
        written = run_job("cost_allocate", plan)
        outcome = LedgerOutcome(
            month,
            PublishedPartition(
                dataset=LEDGER_DATASET,
                partition=month,
                location=location,
                run_id=run_id,
                published_at=datetime.now(UTC).isoformat(),
                row_count=written["rows"],
                schema_version="derived",
                columns=LEDGER_COLUMNS,
            ),
            written,
            {d: version.run_id for d, version in read.items()},
        )
        if not outcome.reconciles:
            raise LedgerDoesNotReconcile(
                f"{LEDGER_DATASET}[{month}]: the ledger holds "
                f"{sum(written['team_nanos'].values())} nano-dollars, the bill "
                f"{written['bill_nanos']}; nothing published"
            )
        built_from = {
            "built_from": [partition_address(d, month) for d in read],
            "policy": plan["policy"],
        }
        publish(catalog, storage, outcome.published, written["files"], replaced, built_from)
        outputs.extend(partition_outputs(LEDGER_DATASET, month, location, written["files"]))
    return outcome
