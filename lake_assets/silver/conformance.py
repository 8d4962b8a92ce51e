"""What silver conforms by, declared in config/silver/*.yaml and validated at load time: the
customer's survivorship (which system wins each attribute) and the FX calendar (currencies and
the longest gap a rate may be carried over). Every error names the file, the key and the reason
(lake_assets/config.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from lake_assets.config import NO_UNKNOWN_KEYS, WholeNumber, keyed, load_config
from lake_assets.settings import REPO_ROOT

SILVER_CONFIG_DIR = REPO_ROOT / "config" / "silver"
System = Literal["master", "crm"]

# Which system carries which silver_customer attribute: a rule can only prefer a system that
# has it. The expressions that read them live with the job (customer.py).
CARRIED_BY: dict[str, frozenset[str]] = {
    "full_name": frozenset({"master", "crm"}),
    "email": frozenset({"master", "crm"}),
    "phone": frozenset({"master", "crm"}),
    "segment": frozenset({"master"}),
    "date_of_birth": frozenset({"master"}),
    "risk_score": frozenset({"master"}),
    "national_id": frozenset({"master"}),
    "city": frozenset({"crm"}),
    "country": frozenset({"crm"}),
    "lifecycle_stage": frozenset({"crm"}),
}


class Survivorship(BaseModel):
    """config/silver/customer.yaml: for every attribute, the system whose value survives; the
    other system's value is used when the winner has none."""

    model_config = NO_UNKNOWN_KEYS

    prefer: dict[str, System]

    @field_validator("prefer")
    @classmethod
    def _every_attribute_once(cls, prefer: dict[str, System]) -> dict[str, System]:
        for attribute, system in prefer.items():
            if attribute not in CARRIED_BY:
                raise keyed(
                    attribute,
                    f"unknown attribute; silver_customer's attributes: {', '.join(CARRIED_BY)}",
                )
            if system not in CARRIED_BY[attribute]:
                raise keyed(
                    attribute,
                    f"{system} does not carry {attribute}; "
                    f"only {', '.join(sorted(CARRIED_BY[attribute]))} does",
                )
        missing = [a for a in CARRIED_BY if a not in prefer]
        if missing:
            raise ValueError(f"no system declared for {', '.join(missing)}")
        return prefer


class FxCalendar(BaseModel):
    """config/silver/fx_rates.yaml: the currencies every calendar day must carry (against
    `quote_currency`), and the longest run of days a published rate may be carried over."""

    model_config = NO_UNKNOWN_KEYS

    quote_currency: str = Field(min_length=3, max_length=3)
    currencies: tuple[str, ...] = Field(min_length=1)
    max_gap_days: WholeNumber = 5

    @model_validator(mode="after")
    def _quote_is_not_a_row(self) -> FxCalendar:
        if self.quote_currency in self.currencies:
            raise keyed("currencies", f"{self.quote_currency} is the quote currency (rate 1)")
        if len(set(self.currencies)) != len(self.currencies):
            raise keyed("currencies", "must be distinct")
        return self


def load_survivorship(path: Path | str = SILVER_CONFIG_DIR / "customer.yaml") -> Survivorship:
    return load_config(path, Survivorship)


def load_fx_calendar(path: Path | str = SILVER_CONFIG_DIR / "fx_rates.yaml") -> FxCalendar:
    return load_config(path, FxCalendar)
