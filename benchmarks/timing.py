"""Timing and reporting shared by the benchmarks.

A subject and its baseline are run alternately (baseline, subject, baseline, subject, ...) so
that whatever drifts during a run (page cache, JIT, other load on the machine) falls on both
alike, and each is summarised by its median wall time.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

MB = 1_000_000  # throughput is in decimal megabytes per second


@dataclass
class Runs:
    """Wall times of one case, and the value its last run returned (to show the work was real)."""

    seconds: list[float] = field(default_factory=list)
    result: Any = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def spread(self) -> str:
        return " ".join(f"{s:.2f}" for s in self.seconds)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def alternate(
    cases: dict[str, Callable[[int | str], Any]], repeats: int, warm_up: bool = False
) -> dict[str, Runs]:
    """Run every case once per round, in the given order, for `repeats` rounds; with
    `warm_up`, once each before them, untimed (a cold JVM's first plans, compiled while
    running, would otherwise land on whichever case runs first).

    Each case is called with the round number ("warm-up" for that), so it can write to a
    fresh location.
    """
    runs = {name: Runs() for name in cases}
    for name, case in cases.items() if warm_up else ():
        seconds, _ = timed(partial(case, "warm-up"))
        print(f"  warm-up  {name:<24} {seconds:8.2f} s  (not timed)", flush=True)
    for round_number in range(repeats):
        for name, case in cases.items():
            seconds, runs[name].result = timed(partial(case, round_number))
            runs[name].seconds.append(seconds)
            print(f"  round {round_number + 1}/{repeats}  {name:<24} {seconds:8.2f} s", flush=True)
    return runs


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in header], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for number, row in enumerate(cells):
        label, *values = row
        aligned = (v.rjust(w) for v, w in zip(values, widths[1:], strict=True))
        print("  " + "  ".join([label.ljust(widths[0]), *aligned]))
        if number == 0:
            print("  " + "  ".join("-" * w for w in widths))


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
