"""Access control's part of the code location: the masked views and their refresh sensor."""

from __future__ import annotations

from dagster import Definitions

from lake_assets.access.assets import masked_views
from lake_assets.access.sensors import masked_views_refresh


def access_definitions() -> Definitions:
    return Definitions(assets=[masked_views], sensors=[masked_views_refresh])
