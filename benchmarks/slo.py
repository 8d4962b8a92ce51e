"""`python -m benchmarks slo`: 100 SLOs over 30 days of one-minute events, their burn rates over
every alerting window (5 min to 3 days) at every minute, by the engine (cumulative integer sums,
lake_assets/slo/engine.py) against a straightforward pandas rolling-window computation of the
same rates. Prints the ratio (target: at most 1x) and checks the results are identical."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from benchmarks.timing import alternate, print_table
from lake_assets.slo import engine
from lake_assets.slo.model import FRESHNESS, Events, Slo

SLOS, MINUTES = 100, 30 * 1440
START = datetime(2026, 11, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def world(seed: int = 17) -> list[tuple[Slo, Events]]:
    """100 SLOs of one to five events a minute, each with its own error rate and objective."""
    rng = np.random.default_rng(seed)
    found = []
    for n in range(SLOS):
        total = rng.integers(1, 6, MINUTES).astype(np.int64)
        bad = rng.binomial(total, rng.uniform(0.0001, 0.01)).astype(np.int64)
        objective = float(rng.choice([0.99, 0.995, 0.999]))
        slo = Slo(f"s{n}", (f"d{n}",), FRESHNESS, objective, timedelta(days=30), "critical",
                  MINUTE, 10, "team:x")  # fmt: skip
        found.append((slo, Events(START, MINUTE, total - bad, total)))
    return found


def by_engine(slos) -> list[dict[str, np.ndarray]]:
    return [engine.burn_rate_series(slo, events) for slo, events in slos]


def by_pandas(slos) -> list[dict[str, np.ndarray]]:
    """What one would write first: rolling sums of bad and total events per window."""
    rates = []
    for slo, events in slos:
        bad = pd.Series(events.total - events.good)
        total = pd.Series(events.total)
        mine = {}
        conditions = engine.burn_conditions(slo.window)
        for window in sorted({w for c in conditions for w in (c.short, c.long)}):
            n = int(window / MINUTE)
            ratio = bad.rolling(n, min_periods=1).sum() / total.rolling(n, min_periods=1).sum()
            mine[engine.label(window)] = (ratio.fillna(0.0) / (1.0 - slo.objective)).to_numpy()
        rates.append(mine)
    return rates


def run(rows: int = 0) -> str:
    slos = world()
    runs = alternate({"pandas rolling": lambda _: by_pandas(slos),
                      "engine": lambda _: by_engine(slos)}, repeats=3)  # fmt: skip
    ours, theirs = runs["engine"].result, runs["pandas rolling"].result
    identical = all(
        mine.keys() == other.keys() and all(np.array_equal(mine[k], other[k]) for k in mine)
        for mine, other in zip(ours, theirs, strict=True)
    )
    if not identical:
        raise AssertionError("the engine's burn rates differ from pandas'")
    ratio = runs["engine"].median / runs["pandas rolling"].median
    print_table(
        f"burn rates of {SLOS} SLOs x {MINUTES:,} minutes x 7 windows",
        ["case", "median s", "runs"],
        [[name, f"{r.median:.2f}", r.spread()] for name, r in runs.items()],
    )
    return f"slo: engine / pandas rolling = {ratio:.2f}x (target <= 1x), results identical"


if __name__ == "__main__":
    print(run())
