"""The second half of allocation: the month's pools (pools.py, summed in Spark) split over their
recipients, what no driver weighs attributed by tag, and the methods' leftover rules (policy.py's
precedence, steps 2 to 4). Pure Python on the pools, which are few (a few hundred thousand for
ten million line items): integer arithmetic, so each pool's shares sum to its nanos exactly, and
ties go by key, so a re-run gives the same rows.

Inputs are plain mappings (a Spark Row's asDict): subpools with SUBPOOL's keys, `nanos`,
`lines` and `usage` (decimal, billed-capacity methods only), and driver pools with `method`,
`pool_resource`, `pool_hour`, `d_measure`, team, pipeline, dataset and `units` (whole
micro-units). Output: ledger rows as dicts of allocation.LEDGER_COLUMNS (without `month`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal

from lake_assets.cost.model import SHARED, UNALLOCATED
from lake_assets.cost.policy import AllocationPolicy, Method

# Why a run's or a dataset's share is unallocated: its source names no owner (drivers._team_of).
UNOWNED_DATASET = "unowned_dataset"

# Driver values are weighed in whole micro-units: exact sums, finer than any driver is measured.
UNITS_PER_VALUE = 10**6
UNMATCHED = -1  # the method index of a line no method takes
POOL = ("method", "pool_resource", "pool_hour", "measure")
IDLE = ("\u0000idle", "", "")  # the recipient standing for billed capacity no run used
SEPARATOR = "\u001f"


def split_units(total: int, units: Iterable[tuple[str, int]]) -> dict[str, int]:
    """`total` nanos split over keys in proportion to their whole `units` (> 0), summing to
    `total` exactly: each key gets floor(total * units / all units), and the nanos the floors
    leave go one each to the largest remainders, ties by key (model.split_exactly's rule, in
    integers). A negative total (a credit) is floored below, as Python's divmod does."""
    units = list(units)
    whole = sum(weight for _, weight in units)
    shares, remainders = {}, []
    for key, weight in units:
        shares[key], rest = divmod(total * weight, whole)
        remainders.append((-rest, key))
    for _, key in sorted(remainders)[: total - sum(shares.values())]:
        shares[key] += 1
    return shares


def as_value(units: int) -> float:
    """Micro-units back as the driver value they stand for (the ledger's drivers, for people)."""
    return units / UNITS_PER_VALUE


def _billed_units(method: Method | None, pool: Mapping) -> int | None:
    """The pool's billed usage in its measure's micro-units; None where the method bills none."""
    billed = method.billed_capacity if method else None
    if billed is None or pool["measure"] not in billed.measures or pool["usage"] is None:
        return None
    value = Decimal(pool["usage"]) * Decimal(str(billed.seconds_per_unit)) * UNITS_PER_VALUE
    return int(value.to_integral_value(ROUND_HALF_UP))


class _Ledger:
    """The rows of one month, in the order they are found (write_ledger sorts them)."""

    def __init__(self, policy: AllocationPolicy):
        self.policy, self.rows = policy, []

    def method(self, index: int) -> Method | None:
        return self.policy.methods[index] if index != UNMATCHED else None

    def method_id(self, index: int) -> str:
        method = self.method(index)
        return method.id if method else self.policy.tag_attribution.id

    def add(self, recipient, pool: Mapping, method: str, nanos: int, drivers: dict, reason=""):
        team, pipeline, dataset = recipient
        self.rows.append(
            {
                "team": team,
                "pipeline": pipeline,
                "dataset": dataset,
                "category": pool["category"],
                "method": method,
                "cost_nanos": nanos,
                "drivers": drivers,
                "reason": reason,
                "line_items": pool["lines"],
                "resource": pool.get("pool_resource", ""),
                "hour": pool.get("pool_hour", ""),
            }
        )

    def leftover(self, index: int, pool: Mapping, nanos: int, drivers: dict, problem=None):
        """Precedence step 4 for what `pool` leaves: its `unallocated` or `shared` row, or held
        for `share_by_usage` (returned, to be shared once the month's usage is known)."""
        method = self.method(index)
        rule = method.leftover.rule if method else "unallocated"
        reason = method.leftover.reason if method else self.policy.tag_attribution.unmatched_reason
        reason = "/".join(part for part in (reason, problem) if part)
        if rule == "share_by_usage":
            return (index, pool["category"], reason, nanos, pool["lines"])
        team = SHARED if rule == "shared" else UNALLOCATED
        self.add((team, "", ""), pool, self.method_id(index), nanos, drivers, reason)
        return None


def allocate_pools(
    subpools: Iterable[Mapping],
    driver_pools: Iterable[Mapping],
    policy: AllocationPolicy,
    teams: Iterable[str],
) -> list[dict]:
    """The month's ledger rows from its subpools and driver pools; `teams` are the known teams
    (declared, owning a source, or named by a driver)."""
    ledger = _Ledger(policy)
    by_pool: dict[tuple, list[Mapping]] = defaultdict(list)
    for row in subpools:
        by_pool[tuple(row[key] for key in POOL)].append(row)
    # Per pool (method, resource, hour), per measure: each recipient and its whole units.
    weighing: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for row in driver_pools:
        recipient = (row["team"], row["pipeline"], row["dataset"])
        weighing[(row["method"], row["pool_resource"], row["pool_hour"])][row["d_measure"]].append(
            (recipient, int(row["units"]))
        )
    known = set(teams) - {"", None, UNALLOCATED, SHARED}
    held = []
    # Pool keys hold no None (pools.py writes "" for a missing value): sorted as they are.
    for key in sorted(by_pool):
        parts = by_pool[key]
        pool = {
            **dict(zip(POOL, key, strict=True)),
            "category": parts[0]["category"],
            "nanos": sum(part["nanos"] or 0 for part in parts),
            "lines": sum(part["lines"] for part in parts),
            "usage": _sum_usage(parts),
        }
        index = key[0]
        measures = weighing.get(key[:3]) if index != UNMATCHED else None
        if not measures or not _split(ledger, pool, measures, held):
            held += _by_tag(ledger, index, parts, known)
    _share_by_usage(ledger, [h for h in held if h is not None])
    return ledger.rows


def _sum_usage(parts: list[Mapping]) -> Decimal | None:
    usages = [part["usage"] for part in parts if part["usage"] is not None]
    return sum(usages, Decimal(0)) if usages else None


def _split(ledger: _Ledger, pool: dict, measures: Mapping[str, list], held: list) -> bool:
    """Precedence step 2: the pool split over the drivers of its measure, else of the method's
    fallback, with billed capacity no run used going to the method's leftover. `measures`:
    per driver measure, the (recipient, units) weighing the pool. False when none does."""
    method = ledger.method(pool["method"])
    # Driver pools hold units > 0 (pools.driver_pools): a measure with a recipient weighs.
    used = pool["measure"] if pool["measure"] in measures else method.fallback
    weighing = measures.get(used, ())
    if not weighing:
        return False
    pool_units = sum(u for _, u in weighing)
    billed = _billed_units(method, pool) if used == pool["measure"] else None
    idle = billed - pool_units if billed is not None and billed > pool_units else 0
    nanos = pool["nanos"]
    if len(weighing) == 1 and not idle:  # one recipient takes the pool: nothing to split
        ((recipient, weight),) = weighing
        shares = {recipient: (weight, nanos)}
    else:
        units = dict(weighing)
        if idle:
            units[IDLE] = idle
        split = split_units(nanos, ((SEPARATOR.join(r), u) for r, u in sorted(units.items())))
        shares = {r: (u, split[SEPARATOR.join(r)]) for r, u in units.items()}
    pooled = as_value(pool_units)
    for recipient, (weight, share) in shares.items():
        if recipient != IDLE:
            drivers = {used: as_value(weight), f"pool_{used}": pooled}
            unowned = UNOWNED_DATASET if recipient[0] == UNALLOCATED else ""
            ledger.add(recipient, pool, method.id, share, drivers, unowned)
            continue
        drivers = {
            f"idle_{used}": as_value(weight),
            f"billed_{used}": as_value(billed),
            f"pool_{used}": pooled,
        }
        held.append(ledger.leftover(pool["method"], pool, share, drivers))
    return True


def _by_tag(ledger: _Ledger, index: int, parts: list[Mapping], known: set[str]) -> list:
    """Precedence step 3: each subpool of a pool no driver weighs to the team its tag names,
    when that team is known and the method allows it; else the method's leftover."""
    method = ledger.method(index)
    by_tag = method.by_tag if method else True
    held = []
    for part in sorted(parts, key=lambda p: (p["tag_team"], p["tag_pipeline"], p["tag_dataset"])):
        if by_tag and part["tag_team"] in known:
            recipient = (part["tag_team"], part["tag_pipeline"], part["tag_dataset"])
            ledger.add(recipient, part, ledger.policy.tag_attribution.id, part["nanos"] or 0, {})
            continue
        problem = None
        if by_tag:
            problem = "missing_team_tag" if part["tag_team"] == "" else "unknown_team_tag"
        held.append(ledger.leftover(index, part, part["nanos"] or 0, {}, problem))
    return held


def _share_by_usage(ledger: _Ledger, held: list[tuple]) -> None:
    """`share_by_usage` leftovers, pooled per method and reason over the month, split over the
    teams by what the method's category attributed them (no such team: unallocated)."""
    month: dict[tuple, list[int]] = {}
    for index, category, reason, nanos, lines in held:
        totals = month.setdefault((index, category, reason), [0, 0])
        totals[0] += nanos
        totals[1] += lines
    if not month:
        return
    usage: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in ledger.rows:
        if row["team"] not in (SHARED, UNALLOCATED):
            usage[row["category"]][row["team"]] += row["cost_nanos"]
    for (index, category, reason), (nanos, lines) in sorted(month.items()):
        pool = {"category": category, "lines": lines}
        teams = {team: used for team, used in usage[category].items() if used > 0}
        if not teams:
            ledger.add(
                (UNALLOCATED, "", ""),
                pool,
                ledger.method_id(index),
                nanos,
                {},
                f"{reason}/no_usage_to_share_by",
            )
            continue
        everyone = sum(teams.values()) / 10**9
        shares = split_units(nanos, sorted(teams.items()))
        for team, used in sorted(teams.items()):
            drivers = {f"team_{category}_usd": used / 10**9, f"all_{category}_usd": everyone}
            ledger.add((team, "", ""), pool, ledger.method_id(index), shares[team], drivers, reason)
