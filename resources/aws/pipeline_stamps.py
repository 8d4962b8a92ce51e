"""The stamps a generated pipeline carries on AWS (PipelineStamps): its Glue table's Parameters,
its entry in the code manifest (`_code/deploy.json`) and the object its Terraform module writes
(`_pipelines/<name>.json`), read through the lake's own storage and catalog."""

from __future__ import annotations

import json

from lake_assets.pipelines.drift import (
    GLUE_PREFIX,
    TERRAFORM_STAMP_KEY,
    DeployedStamp,
    generation_in,
)
from lake_assets.runtime.deploy import MANIFEST_KEY
from resources.aws.glue import GlueCatalog
from resources.aws.s3 import S3Storage
from resources.pipeline_stamps import PipelineStamps


def _json(storage: S3Storage, key: str) -> dict | None:
    try:
        document = json.loads(storage.get_bytes(key))
    except (FileNotFoundError, ValueError):
        return None  # absent, or not JSON: either way it records no generation
    return document if isinstance(document, dict) else None


class DeployedPipelineStamps(PipelineStamps):
    def __init__(self, storage: S3Storage, catalog: GlueCatalog):
        self.storage, self.catalog = storage, catalog

    def deployed(self, name: str) -> list[DeployedStamp]:
        table = self.catalog.table(name) or {}
        manifest = _json(self.storage, MANIFEST_KEY) or {}
        stamp_key = TERRAFORM_STAMP_KEY.format(name=name)
        return [
            DeployedStamp(
                f"glue table {self.catalog.database}.{name}",
                generation_in(table.get("Parameters"), GLUE_PREFIX),
            ),
            DeployedStamp(
                self.storage.uri(MANIFEST_KEY),
                generation_in((manifest.get("pipelines") or {}).get(name)),
            ),
            DeployedStamp(
                self.storage.uri(stamp_key), generation_in(_json(self.storage, stamp_key))
            ),
        ]
