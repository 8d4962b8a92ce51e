"""LineageRun records as OpenLineage run events, sent with the openlineage-python client.

Events go to a JSON-lines file under the lake's state folder by default, or to an OpenLineage
HTTP endpoint (Marquez) when LAKE_OPENLINEAGE_URL is set. A run emits START when it begins and
COMPLETE, FAIL or ABORT when it ends, under one runId (the Dagster run id when it is a UUID).

The lineage store is the record; the server gets a copy. A server that keeps failing opens a
circuit breaker (lake_assets/circuit.py, its state in the store): while it is open no run calls
the server (none waits for its timeouts), and the first event it accepts again is preceded by
every event it missed, from the store, in order (ADR-0153).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import attr
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import RunFacet, column_lineage_dataset
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import HttpConfig, HttpTransport
from openlineage.client.transport.http_common import DEFAULT_RETRY_CONFIG
from openlineage.client.transport.transport import Transport

from lake_assets.circuit import (
    CLOSED,
    Breaker,
    after_failure,
    circuit_document,
    circuit_of,
    describe,
)
from lake_assets.lineage.graph import supersedes_for
from lake_assets.lineage.model import LineageRun

if TYPE_CHECKING:
    from resources.lineage_store import LineageStore

log = logging.getLogger("lakehouse.lineage")

JOB_NAMESPACE = "lakehouse"
PRODUCER = "https://github.com/lakehouse/lakehouse"
# OpenLineage's column lineage calls IDENTITY, TRANSFORMATION and AGGREGATION subtypes of DIRECT.
DIRECT = "DIRECT"


@attr.define
class LakehouseRunFacet(RunFacet):
    """The lake's own run facts: which partition, which code and schema, which run it replaces
    (the explicit link that lets a trace drop the superseded run's inputs)."""

    lakeRunId: str | None = attr.field(default=None)  # noqa: N815
    partition: str | None = attr.field(default=None)
    codeVersion: str | None = attr.field(default=None)  # noqa: N815
    schemaVersion: str | None = attr.field(default=None)  # noqa: N815
    supersedes: str | None = attr.field(default=None)  # the superseded run's OpenLineage runId

    @staticmethod
    def _get_schema() -> str:
        return f"{PRODUCER}/blob/main/docs/lineage/LakehouseRunFacet.json"


def openlineage_run_id(run_id: str) -> str:
    """OpenLineage wants a UUID; Dagster run ids are one, other ids map to a stable UUIDv5."""
    try:
        return str(uuid.UUID(run_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lakehouse:{run_id}"))


def _column_lineage(
    run: LineageRun, lake_uri: str
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    fields = {}
    for column, sources in run.column_lineage.items():
        inputs = []
        for source in sources:
            dataset, _, field = source["input"].rpartition(".")
            transformation = column_lineage_dataset.Transformation(
                type=DIRECT, subtype=source["transformation"], masking=source["masking"]
            )
            inputs.append(
                column_lineage_dataset.InputField(
                    namespace=lake_uri, name=dataset, field=field, transformations=[transformation]
                )
            )
        fields[column] = column_lineage_dataset.Fields(inputFields=inputs)
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields)


def run_event(run: LineageRun, lake_uri: str) -> RunEvent:
    """The OpenLineage event for `run` in its current state. Column lineage goes on the
    partition addresses (`<dataset>[<partition>]`), or on every output when there are none."""
    facets = {
        "lakehouse": LakehouseRunFacet(
            lakeRunId=run.run_id,
            partition=run.partition,
            codeVersion=run.code_version,
            schemaVersion=run.schema_version,
            supersedes=run.supersedes and openlineage_run_id(run.supersedes),
            producer=PRODUCER,
        )
    }
    addressed = [key for key in run.outputs if key.endswith("]")] or list(run.outputs)
    columns = _column_lineage(run, lake_uri) if run.column_lineage else None
    outputs = [
        OutputDataset(
            namespace=lake_uri,
            name=key,
            facets={"columnLineage": columns} if columns and key in addressed else {},
        )
        for key in run.outputs
    ]
    return RunEvent(
        eventType=RunState[run.state],
        eventTime=run.ended_at if run.state != "START" and run.ended_at else run.started_at,
        run=Run(runId=openlineage_run_id(run.run_id), facets=facets),
        job=Job(namespace=JOB_NAMESPACE, name=run.job),
        inputs=[InputDataset(namespace=lake_uri, name=key) for key in run.inputs],
        outputs=outputs,
        producer=PRODUCER,
    )


# Two failed events in a row open the lineage server's circuit for 10 minutes, doubling with each
# failed trial up to 4 hours: a run records two events, so a server that is down costs one run.
LINEAGE_BREAKER = Breaker(failures=2, cooldown_minutes=10, max_cooldown_minutes=240)
# Two retries, not the client's five (about 40 s an event against a server that hangs): an event
# a server misses is not lost (the store has it, the breaker sends it again).
HTTP_RETRY = {**DEFAULT_RETRY_CONFIG, "total": 2, "read": 2, "connect": 2}


def default_transport(state_dir: Path, url: str | None = None) -> Transport:
    """HTTP to `url` (or LAKE_OPENLINEAGE_URL) when set, else a JSON-lines file in state_dir."""
    url = url or os.environ.get("LAKE_OPENLINEAGE_URL")
    if url:
        return HttpTransport(HttpConfig(url=url, retry=HTTP_RETRY))
    folder = Path(state_dir) / "lineage"
    folder.mkdir(parents=True, exist_ok=True)
    # append=True: one file of events, not one file per event (the client's default).
    return FileTransport(FileConfig(log_file_path=str(folder / "events.jsonl"), append=True))


class LineageEmitter:
    """Sends a run's events; `lake_uri` is the OpenLineage namespace of the lake's datasets."""

    def __init__(self, transport: Transport, lake_uri: str):
        self.client = OpenLineageClient(transport=transport)
        self.lake_uri = lake_uri

    def emit(self, run: LineageRun) -> RunEvent:
        event = run_event(run, self.lake_uri)
        self.client.emit(event)
        return event


class LineageRecorder:
    """Stores each record (the source of truth for traces), then emits it, behind the lineage
    server's circuit breaker."""

    def __init__(
        self,
        store: LineageStore,
        emitter: LineageEmitter,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.store, self.emitter, self.clock = store, emitter, clock

    def record(self, run: LineageRun) -> None:
        """Store `run`, then send it: with every event the server missed before it when some
        are owed, not at all while the circuit is open. A lineage server that is down must not
        fail a publish: the store has the record, and the server gets it again from there."""
        run = self.store.put_run(run)  # what is kept is what the server is told
        held = self.store.breaker_state() or {}
        circuit, missed_since = circuit_of(held.get("circuit")), held.get("missed_since")
        owed = min(filter(None, (missed_since, run.started_at)))
        now = self.clock()
        if circuit.is_open(now):
            if owed != missed_since:
                self.store.put_breaker_state({**held, "missed_since": owed})
            log.warning(
                "lineage event %s of run %s not sent: %s; the lineage store has it, and it is "
                "sent when the server answers again (or `lake lineage resend --since %s`)",
                run.state,
                run.run_id,
                describe(circuit, "lineage events"),
                owed,
            )
            return
        try:
            # From what is owed, this event's run included: a run that started before the
            # first miss (a long one) has its event sent too before the breaker closes.
            sent = self.resend(owed) if missed_since else [self.emitter.emit(run)]
        except Exception as error:
            failed = after_failure(circuit, LINEAGE_BREAKER, str(error), now)
            self.store.put_breaker_state(
                {"circuit": circuit_document(failed), "missed_since": owed}
            )
            log.warning(
                "could not emit lineage event %s of run %s; the lineage store has it: "
                "`lake lineage resend --since %s` sends it again",
                run.state,
                run.run_id,
                owed,
                exc_info=True,
            )
            return
        if missed_since:
            log.info("the lineage server answers again: %d events sent since %s", len(sent), owed)

    def resend(self, since: str) -> list[RunEvent]:
        """Every event of the runs the store holds that started at or after `since` (ISO 8601
        UTC), sent again in the order they happened (each run's START before its end). For a
        lineage server that was down: OpenLineage consumers key runs by run id, so an event the
        server already had repeats its run, never makes a second one. Stops at the first event
        that cannot be sent (the server is still down), raising its error."""
        records = [r for r in self.store.runs() if r.started_at >= since]
        records.sort(key=lambda r: (r.started_at, r.run_id, r.state != "START"))
        sent = [self.emitter.emit(record) for record in records]
        held = self.store.breaker_state()
        if held and held.get("missed_since") and held["missed_since"] >= since:  # all sent
            self.store.put_breaker_state({"circuit": circuit_document(CLOSED)})
        return sent

    @contextmanager
    def track(self, run: LineageRun) -> Iterator[list[str]]:
        """Record START (with the run's declared outputs), yield a list the body appends what
        it really wrote to, then record COMPLETE with exactly those outputs (none published,
        none claimed) and a link to the run they supersede; FAIL on an error, ABORT on an
        interruption, re-raising either."""
        self.record(run)
        outputs: list[str] = []
        try:
            yield outputs
        except BaseException as error:
            state = "FAIL" if isinstance(error, Exception) else "ABORT"
            ended = datetime.now(UTC).isoformat()
            self.record(replace(run, outputs=tuple(outputs) or run.outputs).finished(state, ended))
            raise
        final = tuple(outputs)
        previous = [r for r in self.store.runs() if r.run_id != run.run_id]
        done = replace(run, outputs=final, supersedes=supersedes_for(previous, final))
        self.record(done.finished("COMPLETE", datetime.now(UTC).isoformat()))


def recorder_for(store: LineageStore, state_dir: Path, lake_uri: str) -> LineageRecorder:
    """The recorder every lake-writing run uses: the store, and OpenLineage events to the file
    under `state_dir` (or to `LAKE_OPENLINEAGE_URL`)."""
    return LineageRecorder(store, LineageEmitter(default_transport(state_dir), lake_uri))
