"""The tagging check's shell, shared by the asset check and `lake cost tags`: a month's curated
CUR read through the catalog, checked against the lake's teams and pipelines, and the
escalation state kept as one JSON object in the lake (`_state/cost/tagging.json` under the
storage root: a folder locally, the bucket on aws), so every orchestrator process sees the
levels already notified.
"""

from __future__ import annotations

import json
from datetime import date

from lake_assets.cost.model import CUR_DATASET, check_month
from lake_assets.cost.tag_escalation import Escalation, alerts, escalate
from lake_assets.cost.tagging import (
    LINE_COLUMNS,
    TaggingPolicy,
    TaggingReport,
    check_tags,
    vocabulary,
)
from lake_assets.settings import Settings
from lake_assets.tables.reader import read_version_arrow
from resources.catalog import PartitionCatalog
from resources.notifier import Notifier
from resources.storage import LakeStorage

STATE_KEY = "_state/cost/tagging.json"


def lake_vocabulary(settings: Settings, policy: TaggingPolicy) -> dict[str, frozenset[str]]:
    """The tag values the lake knows: its sources' owners and the platform owner as teams, its
    pipelines (one per source) and the policy's shared pipelines and environments."""
    owners = [source.owner for source in settings.sources.values()] + [settings.platform_owner]
    return vocabulary(policy, owners, settings.sources)


def month_report(
    settings: Settings,
    policy: TaggingPolicy,
    catalog: PartitionCatalog,
    storage: LakeStorage,
    month: str,
) -> TaggingReport:
    """The tagging report of `month`'s published CUR (its current version)."""
    version = catalog.current(CUR_DATASET, check_month(month))
    if version is None:
        raise LookupError(f"{CUR_DATASET}[{month}] is not published: materialize cost/cur first")
    lines = read_version_arrow(storage, version, columns=[*LINE_COLUMNS, "cost_nanos"])
    return check_tags(month, lines, policy, lake_vocabulary(settings, policy))


def read_state(storage: LakeStorage) -> dict:
    try:
        return json.loads(storage.get_bytes(STATE_KEY))
    except FileNotFoundError:
        return {}


def escalate_and_notify(
    report: TaggingReport,
    policy: TaggingPolicy,
    storage: LakeStorage,
    notifier: Notifier,
    today: date,
) -> Escalation:
    """Escalate `report` as of `today`: send what reached a new level, then keep the state.
    Sent before kept: a crash in between sends a level again rather than never."""
    escalation = escalate(read_state(storage), report, today, policy)
    for alert in alerts(escalation, report, policy):
        notifier.send(alert)
    if escalation.escalated:
        storage.put_bytes(
            STATE_KEY, json.dumps(escalation.state, indent=1, sort_keys=True).encode()
        )
    return escalation
