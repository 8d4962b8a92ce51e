"""Athena's query history: what each query of each workgroup scanned (the Athena drivers of cost
attribution, lake_assets/cost/drivers.py). ListQueryExecutions lists a workgroup's queries,
newest first, over the last 45 days Athena keeps; BatchGetQueryExecution gives their statistics
by fifty."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from lake_assets.cost.drivers import QueryScan
from resources.aws.clients import _client

_BATCH = 50  # BatchGetQueryExecution's most ids a call


class AthenaQueryHistory:
    def __init__(self, *, endpoint_url: str | None, region: str):
        self._athena = _client("athena", endpoint_url, region)

    def workgroups(self) -> list[str]:
        pages = self._athena.get_paginator("list_work_groups").paginate()
        return sorted(group["Name"] for page in pages for group in page["WorkGroups"])

    def scans(self, after: datetime, before: datetime) -> Iterator[QueryScan]:
        """Every query submitted in [after, before) that reported the bytes it scanned."""
        for workgroup in self.workgroups():
            ids = [
                query_id
                for page in self._athena.get_paginator("list_query_executions").paginate(
                    WorkGroup=workgroup
                )
                for query_id in page["QueryExecutionIds"]
            ]
            for first in range(0, len(ids), _BATCH):
                answer = self._athena.batch_get_query_execution(
                    QueryExecutionIds=ids[first : first + _BATCH]
                )
                for execution in answer["QueryExecutions"]:
                    submitted = execution.get("Status", {}).get("SubmissionDateTime")
                    scanned = execution.get("Statistics", {}).get("DataScannedInBytes")
                    if submitted is None or scanned is None or not after <= submitted < before:
                        continue
                    yield QueryScan(
                        execution["QueryExecutionId"],
                        execution.get("WorkGroup") or workgroup,
                        submitted,
                        int(scanned),
                    )
