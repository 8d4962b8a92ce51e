"""A circuit breaker in front of a system the lake calls: a pulled source's database
(lake_assets/pull/service.py, its circuit kept in the source's pull state) and the lineage
server (lake_assets/lineage/emitter.py, its circuit kept in the lineage store). Pure: a circuit
and a clock in, a circuit out.

A system that is down fails every call until it is back; calling it anyway only adds load to a
system in trouble, stalls every caller for its timeouts, fills the run history with the same
failure and repeats the same alert. After `failures` consecutive failed calls the circuit
opens: until `open_until` nothing calls it. The first call after that is the trial: if it
succeeds the circuit closes, if it fails the circuit opens again for twice as long, up to the
declared maximum.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field, model_validator
from pydantic.dataclasses import dataclass as declared

from lake_assets.config import NO_UNKNOWN_KEYS, WholeNumber, keyed
from lake_assets.instants import format_instant, parse_instant


@declared(frozen=True, config=NO_UNKNOWN_KEYS)
class Breaker:
    """When a circuit opens and for how long: after `failures` calls in a row fail, nothing
    calls for `cooldown_minutes`; each time the trial call after a cooldown fails too, the
    cooldown doubles, up to `max_cooldown_minutes`. A pulled source declares its own
    (`pull.breaker` in its spec); the lineage server's is LINEAGE_BREAKER (lineage/emitter.py)."""

    failures: Annotated[WholeNumber, Field(ge=1)] = 3
    cooldown_minutes: Annotated[WholeNumber, Field(ge=1)] = 15
    max_cooldown_minutes: Annotated[WholeNumber, Field(ge=1)] = 360

    @model_validator(mode="after")
    def _ordered(self) -> Breaker:
        if self.max_cooldown_minutes < self.cooldown_minutes:
            raise keyed("max_cooldown_minutes", "must be at least cooldown_minutes")
        return self


@dataclass(frozen=True)
class Circuit:
    failures: int = 0  # consecutive failed calls
    opened: int = 0  # consecutive times it opened: the cooldown doubles with each
    open_until: datetime | None = None
    last_error: str = ""

    def is_open(self, now: datetime) -> bool:
        return self.open_until is not None and now < self.open_until


CLOSED = Circuit()


def after_failure(circuit: Circuit, breaker: Breaker, error: str, now: datetime) -> Circuit:
    """The circuit once a call failed: open for the cooldown when this failure reaches the
    threshold (every failure of a trial call does, since the count is kept)."""
    failures = circuit.failures + 1
    if failures < breaker.failures:
        return replace(circuit, failures=failures, last_error=error)
    opened = circuit.opened + 1
    minutes = min(breaker.cooldown_minutes * 2 ** (opened - 1), breaker.max_cooldown_minutes)
    return Circuit(failures, opened, now + timedelta(minutes=minutes), error)


def describe(circuit: Circuit, calls: str = "pulls") -> str:
    """Why nothing is called, as a refusal or a skip says it."""
    return (
        f"the circuit is open after {circuit.failures} failed {calls} in a row, until "
        f"{circuit.open_until.isoformat()} (last error: {circuit.last_error})"
    )


def circuit_document(circuit: Circuit) -> dict:
    return {
        **vars(circuit),
        "open_until": circuit.open_until and format_instant(circuit.open_until),
    }


def circuit_of(document: dict | None) -> Circuit:
    """The circuit a document holds; none (state kept before the breaker existed): closed."""
    if not document:
        return CLOSED
    return Circuit(
        **{
            **document,
            "open_until": document["open_until"] and parse_instant(document["open_until"]),
        }
    )
