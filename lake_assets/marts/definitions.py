"""The marts' part of the code location."""

from __future__ import annotations

from dagster import Definitions, PartitionsDefinition

from lake_assets.marts.assets import build_spend_by_customer


def marts_definitions(partitions_def: PartitionsDefinition) -> Definitions:
    return Definitions(assets=[build_spend_by_customer(partitions_def)])
