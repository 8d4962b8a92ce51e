"""The circuit breaker of a pulled source's database. Pure: a circuit and a clock in, a circuit
out; service.py keeps it in the source's pull state and the schedule reads it.

A database that is down fails every pull until it is back; calling it on every tick only adds
load to a system in trouble, fills the run history with the same failure and repeats the same
alert. After `failures` consecutive failed pulls the circuit opens: until `open_until` no pull
connects (the schedule skips its ticks, `lake pull` refuses unless forced). The first pull after
that is the trial: if it succeeds the circuit closes, if it fails the circuit opens again for
twice as long, up to the declared maximum.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from lake_assets.pull.model import Breaker


@dataclass(frozen=True)
class Circuit:
    failures: int = 0  # consecutive failed pulls
    opened: int = 0  # consecutive times it opened: the cooldown doubles with each
    open_until: datetime | None = None
    last_error: str = ""

    def is_open(self, now: datetime) -> bool:
        return self.open_until is not None and now < self.open_until


CLOSED = Circuit()


def after_failure(circuit: Circuit, breaker: Breaker, error: str, now: datetime) -> Circuit:
    """The circuit once a pull failed: open for the cooldown when this failure reaches the
    threshold (every failure of a trial pull does, since the count is kept)."""
    failures = circuit.failures + 1
    if failures < breaker.failures:
        return replace(circuit, failures=failures, last_error=error)
    opened = circuit.opened + 1
    minutes = min(breaker.cooldown_minutes * 2 ** (opened - 1), breaker.max_cooldown_minutes)
    return Circuit(failures, opened, now + timedelta(minutes=minutes), error)


def describe(circuit: Circuit) -> str:
    """Why a pull does not connect, as the refusal and the schedule's skip say it."""
    return (
        f"the circuit is open after {circuit.failures} failed pulls in a row, until "
        f"{circuit.open_until.isoformat()} (last error: {circuit.last_error})"
    )
