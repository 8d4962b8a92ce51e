"""The stamps on what is deployed of a generated pipeline (lake_assets/pipelines/drift.py reads
them): Glue table parameters, the code manifest, the Terraform stamp object on the aws profile
(resources/aws/pipeline_stamps.py). The local profile deploys nothing: its code runs in place,
so only the repository, the code location and the runs are compared there."""

from __future__ import annotations

from abc import ABC, abstractmethod

from lake_assets.pipelines.drift import DeployedStamp


class PipelineStamps(ABC):
    @abstractmethod
    def deployed(self, name: str) -> list[DeployedStamp]:
        """One entry per artifact that is deployed for pipeline `name` on this profile."""


class NothingDeployed(PipelineStamps):
    def deployed(self, name: str) -> list[DeployedStamp]:
        return []
