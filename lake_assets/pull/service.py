"""One pull of a pulled source: the rows changed since its watermark, landed in the raw zone as
one JSON-lines file through the intake (so the registry, events and redelivery treat it like any
delivered file), and only then the watermark advanced.

The order of writes is what makes a crash harmless (ADR: pulled sources):
1. the rows are read and written to a local file, whose bytes are staged in the lake
   (`_state/pull/<source>/pending.jsonl`);
2. the state records the pull in flight (its hash and the position it reaches);
3. the file is landed through `land_payload`;
4. the state advances the watermark to the last landed row and clears the pull in flight.
A pull that finds a pull in flight (a crash after 2) lands the staged bytes again before it reads
anything. If the crash came before 3 this is the file's first landing: no row is lost. If it came
after 3 the raw zone recognises the bytes by their hash and records the second object as a
DUPLICATE of the first, never promoted: no row is doubled. Either way the watermark then moves to
where the interrupted pull reached. A crash before 2 leaves the watermark where it was, and the
next pull reads the same rows again.

Late commits: a row is stamped (updated_at) when its transaction writes it but becomes visible
when it commits. A pull reads only up to now minus `safety_lag_seconds`, so a transaction that
commits within the lag is seen by a later pull even though its rows carry an earlier stamp. The
pull never re-reads rows before its watermark: re-read rows would land in a file of other bytes,
which the hash cannot recognise, and would be promoted twice. A transaction open longer than the
lag is the one case this misses; the lag is set above the source's longest write transaction.

A database that keeps failing opens the source's circuit breaker (lake_assets/circuit.py): no pull connects
until its cooldown ends, and the state keeps the circuit with the watermark.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL

from lake_assets.circuit import CLOSED, after_failure, describe
from lake_assets.ingestion.intake import LandedPayload, land_payload
from lake_assets.ingestion.redelivery import content_sha256
from lake_assets.instants import format_instant, utc_now
from lake_assets.pull.credentials import connection_url, shown
from lake_assets.pull.extract import Position, changed_pages, json_lines, position_of
from lake_assets.pull.watermark import (
    PendingPull,
    PullState,
    read_state,
    staged_key,
    write_state,
)
from lake_assets.settings import Settings, SourceConfig
from resources.notifier import Alert, Notifier
from resources.registry_store import RegistryStore
from resources.storage import LakeStorage

log = logging.getLogger("lakehouse.pull")


class PullFailed(RuntimeError):
    """The source's database refused the pull; the message shows the URL without its password."""


class CircuitOpen(PullFailed):
    """The source's database failed the last pulls: this one did not connect."""


@dataclass(frozen=True)
class PullResult:
    source_id: str
    upper_bound: datetime  # rows changed up to this instant were read
    watermark: Position | None  # where the source's pulls now stand
    landed: LandedPayload | None = None
    rows: int = 0
    recovered: LandedPayload | None = None  # an interrupted pull's file, landed first

    def summary(self, watermark_columns: tuple[str, str]) -> list[str]:
        """What the pull did, as `lake pull` prints it."""
        lines = []
        if self.recovered is not None:
            lines.append(
                f"{self.source_id}: finished an interrupted pull: {_landing(self.recovered)}"
            )
        if self.landed is None:
            lines.append(
                f"{self.source_id}: nothing changed up to {format_instant(self.upper_bound)}"
            )
        else:
            rows = f"{self.rows} row{'' if self.rows == 1 else 's'}"
            lines.append(f"{self.source_id}: landed {rows}: {_landing(self.landed)}")
        at, key = watermark_columns
        lines.append(
            f"{self.source_id}: watermark "
            + (
                f"{at}={format_instant(self.watermark.at)}, {key}={self.watermark.key}"
                if self.watermark
                else "none (nothing pulled yet)"
            )
        )
        return lines


def pull_source(
    storage: LakeStorage,
    registry: RegistryStore,
    notifier: Notifier,
    source: SourceConfig,
    url: URL,
    now: datetime | None = None,
    force: bool = False,
) -> PullResult:
    """Pull `source` (declared with a `pull:` block) from the database at `url`; `force` pulls
    even while its circuit is open (an operator who knows the database is back)."""
    if source.pull is None:
        raise ValueError(f"source {source.source_id!r} is not pulled (no pull: block)")
    sid, now = source.source_id, now or utc_now()
    state = read_state(storage, sid)
    if state.circuit.is_open(now) and not force:
        raise CircuitOpen(
            f"{sid}: not pulled: {describe(state.circuit)}; its schedule tries again then, "
            f"`lake pull {sid} --force` tries now"
        )
    recovered = None
    if state.pending is not None:
        recovered = _land(storage, registry, notifier, source, state.pending, now)
        state = PullState(watermark=state.pending.reaches, circuit=state.circuit)
        write_state(storage, sid, state)
    upper = now - timedelta(seconds=source.pull.safety_lag_seconds)
    with tempfile.TemporaryDirectory(prefix="lake-pull-") as folder:
        extract = Path(folder) / "rows.jsonl"
        try:
            rows, reaches = _extract(url, source, state.watermark, upper, extract)
        except PullFailed as error:
            _failed(storage, notifier, source, state, str(error), now)
            raise
        if state.circuit != CLOSED:
            _closed(storage, notifier, source, state)
            state = replace(state, circuit=CLOSED)
        if rows == 0:
            return PullResult(source.source_id, upper, state.watermark, recovered=recovered)
        sha256 = content_sha256(extract)
        pending = PendingPull(
            name=f"{source.source_id}-{sha256[:16]}.jsonl",
            sha256=sha256,
            rows=rows,
            ingest_date=now.date().isoformat(),
            reaches=reaches,
        )
        storage.put_file(staged_key(source.source_id), extract)
        write_state(storage, source.source_id, PullState(state.watermark, pending))
    landed = _land(storage, registry, notifier, source, pending, now)
    write_state(storage, source.source_id, PullState(watermark=reaches))
    return PullResult(source.source_id, upper, reaches, landed, rows, recovered)


def _extract(
    url: URL, source: SourceConfig, after: Position | None, upper: datetime, target: Path
) -> tuple[int, Position | None]:
    """Write the rows changed after `after` up to `upper` to `target`, a page at a time; how
    many, and the position of the last."""
    pull, rows, last = source.pull, 0, None
    log.info(
        "pulling %s from %s after %s up to %s",
        source.source_id,
        shown(url),
        after or "the start",
        format_instant(upper),
    )
    engine = None
    try:
        engine = sa.create_engine(url)
        with engine.connect() as connection, target.open("wb") as out:
            for page in changed_pages(connection, pull, after, upper):
                out.write(json_lines(page, pull))
                rows, last = rows + len(page), position_of(page[-1], pull)
    except sa.exc.SQLAlchemyError as error:
        raise PullFailed(
            f"{source.source_id}: pulling from {shown(url)} failed: {_without(error, url)}"
        ) from None
    finally:
        if engine is not None:
            engine.dispose()
    return rows, last


def _failed(
    storage: LakeStorage,
    notifier: Notifier,
    source: SourceConfig,
    state: PullState,
    error: str,
    now: datetime,
) -> None:
    """Count the failure; the pull that opens the circuit alerts, once."""
    circuit = after_failure(state.circuit, source.pull.breaker, error, now)
    write_state(storage, source.source_id, replace(state, circuit=circuit))
    if circuit.opened > state.circuit.opened:
        notifier.send(
            Alert(
                kind="pull.circuit_open",
                subject=f"{source.source_id}: {describe(circuit)}",
                detail={
                    "source_id": source.source_id,
                    "failures": circuit.failures,
                    "open_until": format_instant(circuit.open_until),
                    "last_error": error,
                    "resolve_with": f"once the database is back, `lake pull {source.source_id} "
                    "--force`, or wait: the first pull after the cooldown is the trial",
                },
            )
        )


def _closed(
    storage: LakeStorage, notifier: Notifier, source: SourceConfig, state: PullState
) -> None:
    """The database answered again: the circuit closes, and an open one says so."""
    write_state(storage, source.source_id, replace(state, circuit=CLOSED))
    if state.circuit.opened:
        notifier.send(
            Alert(
                kind="pull.circuit_closed",
                subject=f"{source.source_id}: the database answers again; pulls resume",
                detail={"source_id": source.source_id, "failures": state.circuit.failures},
            )
        )


def _without(error: Exception, url: URL) -> str:
    # SQLAlchemy hides the password in the URLs it prints; a driver's own message might not.
    text = str(error).splitlines()[0]
    return text.replace(url.password, "***") if url.password else text


def _land(
    storage: LakeStorage,
    registry: RegistryStore,
    notifier: Notifier,
    source: SourceConfig,
    pending: PendingPull,
    now: datetime,
) -> LandedPayload:
    """Land the staged bytes of `pending` under its name, through the intake."""
    with tempfile.TemporaryDirectory(prefix="lake-pull-") as folder:
        path = Path(folder) / pending.name
        with storage.local_path(staged_key(source.source_id)) as staged:
            shutil.copyfile(staged, path)
        if content_sha256(path) != pending.sha256:
            # Staged bytes change only while no pull is in flight: a mismatch is a second puller.
            raise PullFailed(
                f"{source.source_id}: the staged pull does not match its record; "
                "is another pull of this source running?"
            )
        landed = land_payload(
            storage,
            source,
            path,
            pending.ingest_date,
            now,
            registry=registry,
            notifier=notifier,
        )
    log.info("%s: landed %d rows as %s", source.source_id, pending.rows, landed.key)
    return landed


def _landing(landed: LandedPayload) -> str:
    if landed.duplicate_of:
        return f"{landed.key} (a DUPLICATE of {landed.duplicate_of}: already landed, not promoted)"
    return landed.key


def pull_declared_source(
    settings: Settings,
    resources: Mapping[str, Any],
    source_id: str,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
    force: bool = False,
) -> PullResult:
    """Pull a source as its pipeline spec declares it, with the credentials it names: what
    `lake pull` and the pull jobs run."""
    source = settings.source(source_id)
    if source.pull is None:
        pulled = ", ".join(sid for sid, s in settings.sources.items() if s.pull) or "none"
        raise ValueError(f"source {source_id!r} is not pulled; pulled sources: {pulled}")
    url = connection_url(source.pull, os.environ if environ is None else environ, settings.aws)
    return pull_source(
        resources["storage"], resources["registry"], resources["notifier"], source, url, now, force
    )
