"""The lake's SLOs as declared: config/slo/tiers.yaml (what each importance tier may promise)
and every other config/slo/*.yaml (the SLOs, per dataset or group), validated at load time;
every error names the file, the key and the reason.

The seed's hard part is SLOs that matter, so an SLO's tier is not the author's to choose: it
is the dataset's, from its contract (`tier:`), else from where the catalog puts it (gold
serves consumers directly: critical; everything else: standard). A tier bounds the objective
both ways: below its floor is dangerously loose (99% for a regulatory report), above its
ceiling is wasted effort (99.9% freshness for a dataset read weekly), and both are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lake_assets.config import ConfigError, keyed, load_config
from lake_assets.contracts.model import TIERS, Contract
from lake_assets.settings import DEFAULT_SLO_DIR
from lake_assets.slo.model import (
    FRESHNESS,
    KINDS,
    LATENCY,
    PIPELINE_LATENCY,
    QUALITY,
    RECOVERY,
    SLI_KINDS,
    Slo,
)

TIERS_FILE = "tiers.yaml"
# One slice per minute for what is true or false at every moment; per day for daily batches.
DEFAULT_CADENCE = {FRESHNESS: "1m", LATENCY: "1m", PIPELINE_LATENCY: "1m", RECOVERY: "1m"}
UNITS = {"m": 60, "h": 3600, "d": 86400}
NEEDS_THRESHOLD = (LATENCY, PIPELINE_LATENCY, RECOVERY)  # seconds: no sensible default
GOLD_PREFIX = "gold_"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tier(_Strict):
    floor: float = Field(gt=0, lt=1)  # the loosest objective the tier may promise
    ceiling: float = Field(gt=0, lt=1)  # the tightest worth its cost
    objective: float = Field(gt=0, lt=1)  # what an SLO of the tier promises unless it says
    window_days: Literal[28, 30] = 30
    min_events: int = Field(default=3, ge=1)
    immediate: tuple[Literal[KINDS], ...] = ()  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _bounds(self) -> Tier:
        if not self.floor <= self.objective <= self.ceiling:
            raise keyed("objective", "must lie between the tier's floor and ceiling")
        return self


class Tiers(_Strict):
    tiers: dict[Literal[TIERS], Tier]  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _every_tier(self) -> Tiers:
        missing = [t for t in TIERS if t not in self.tiers]
        if missing:
            raise keyed("tiers", f"missing {', '.join(missing)}: every tier needs its bounds")
        return self


def _duration(text: str) -> timedelta:
    number, unit = text[:-1], text[-1:]
    if unit not in UNITS or not number.isdigit() or int(number) == 0:
        raise ValueError(f"{text!r} is not a duration like 1m, 6h or 1d")
    return timedelta(seconds=int(number) * UNITS[unit])


class Declared(_Strict):
    id: str | None = Field(default=None, pattern=r"^[a-z0-9_.-]+$")
    dataset: str | None = None
    datasets: tuple[str, ...] = ()
    sli: Literal[SLI_KINDS]  # type: ignore[valid-type]
    objective: float | None = Field(default=None, gt=0, lt=1)
    window_days: Literal[28, 30] | None = None
    cadence: str | None = None
    threshold: float | None = Field(default=None, gt=0)
    min_events: int | None = Field(default=None, ge=1)
    owner: str | None = None
    tier: Literal[TIERS] | None = None  # type: ignore[valid-type]
    description: str = ""

    @model_validator(mode="after")
    def _shape(self) -> Declared:
        if bool(self.dataset) == bool(self.datasets):
            raise keyed("dataset", "name one dataset, or a group as `datasets` (not both)")
        if self.datasets and not self.id:
            raise keyed("id", "a group's SLO needs an id")
        if self.sli in NEEDS_THRESHOLD and self.threshold is None:
            raise keyed("threshold", f"{self.sli} needs a threshold in seconds")
        if self.cadence is not None:
            try:
                _duration(self.cadence)
            except ValueError as error:
                raise keyed("cadence", str(error)) from None
        return self


class SloFile(_Strict):
    slos: tuple[Declared, ...] = Field(min_length=1)


def tier_of(dataset: str, contracts: Mapping[str, Contract]) -> str:
    """The dataset's importance: its contract's tier, else its zone's (gold: critical)."""
    contract = contracts.get(dataset)
    if contract is not None and contract.tier is not None:
        return contract.tier
    return "critical" if dataset.startswith(GOLD_PREFIX) else "standard"


def load_tiers(path: Path | str) -> Tiers:
    return load_config(path, Tiers, lines=True)


def _refuse(path: Path, index: int, key: str, reason: str) -> ConfigError:
    return ConfigError.located(path, f"slos[{index}].{key}", reason)


def _resolve(
    path: Path,
    index: int,
    declared: Declared,
    tiers: Tiers,
    contracts: Mapping[str, Contract],
    datasets: Iterable[str],
) -> Slo:
    members = (declared.dataset,) if declared.dataset else declared.datasets
    known = set(datasets)
    for member in members:
        if member not in known:
            raise _refuse(path, index, "dataset", f"no dataset {member!r} in the lake")
    # A group is as important as its most important member.
    tier = min((tier_of(m, contracts) for m in members), key=TIERS.index)
    if declared.tier is not None and declared.tier != tier:
        raise _refuse(
            path, index, "tier",
            f"{declared.tier} contradicts {members[0]}'s tier {tier} (its contract, else its "
            "zone): change the contract, not the SLO",
        )  # fmt: skip
    bounds = tiers.tiers[tier]
    objective = declared.objective if declared.objective is not None else bounds.objective
    if objective < bounds.floor:
        raise _refuse(
            path, index, "objective",
            f"{objective} is below the {tier} tier's floor {bounds.floor}: dangerously loose",
        )  # fmt: skip
    if objective > bounds.ceiling:
        raise _refuse(
            path, index, "objective",
            f"{objective} is above the {tier} tier's ceiling {bounds.ceiling}: wasted effort",
        )  # fmt: skip
    if declared.sli == FRESHNESS:
        for member in members:
            freshness = contracts[member].freshness if member in contracts else None
            if not freshness or not (freshness.deadline_hours or freshness.max_staleness_hours):
                raise _refuse(path, index, "sli", f"{member}'s contract declares no freshness SLA")
    if declared.sli == QUALITY:
        for member in members:
            if member not in contracts or not contracts[member].rules:
                raise _refuse(path, index, "sli", f"{member} has no contract rules to check")
    owner = declared.owner or (
        contracts[members[0]].owner if members[0] in contracts else "team:data-platform"
    )
    return Slo(
        id=declared.id or f"{members[0]}.{declared.sli}",
        datasets=tuple(members),
        sli=declared.sli,
        objective=objective,
        window=timedelta(days=declared.window_days or bounds.window_days),
        tier=tier,
        cadence=_duration(declared.cadence or DEFAULT_CADENCE.get(declared.sli, "1d")),
        min_events=declared.min_events or bounds.min_events,
        owner=owner,
        threshold=declared.threshold,
        description=declared.description,
        source=str(path),
    )


def tiers_file(slo_dir: Path | None) -> Path:
    """The tiers of `slo_dir`, else the repository's (a lake without SLOs still alerts)."""
    return (slo_dir or DEFAULT_SLO_DIR) / TIERS_FILE


def load_slos(
    contracts: Mapping[str, Contract], datasets: Iterable[str], slo_dir: Path | None
) -> tuple[Slo, ...]:
    """Every SLO of `slo_dir` (Settings.slo_dir; none when None), in file and declaration
    order."""
    if slo_dir is None:
        return ()
    folder = Path(slo_dir)
    tiers = load_tiers(tiers_file(folder))
    datasets = list(datasets)
    found: dict[str, Slo] = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.name == TIERS_FILE:
            continue
        declared = load_config(path, SloFile, lines=True)
        for index, slo in enumerate(declared.slos):
            resolved = _resolve(path, index, slo, tiers, contracts, datasets)
            if resolved.id in found:
                raise _refuse(
                    path, index, "id",
                    f"{resolved.id} is declared twice (also in {found[resolved.id].source})",
                )  # fmt: skip
            found[resolved.id] = resolved
    return tuple(found.values())
