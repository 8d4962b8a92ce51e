"""Athena's query history: what each query of the named workgroups scanned (the Athena drivers of
cost attribution, lake_assets/cost/drivers.py). ListQueryExecutions lists a workgroup's queries,
newest first, over the last 45 days Athena keeps; BatchGetQueryExecution gives their statistics
by fifty. The workgroups are named, not listed: ListWorkGroups is granted on "*" only, which
this project's IAM never grants."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from botocore.exceptions import ClientError

from lake_assets.cost.drivers import QueryScan
from resources.aws.clients import _client

_BATCH = 50  # BatchGetQueryExecution's most ids a call


class AthenaQueryHistory:
    def __init__(self, *, endpoint_url: str | None, region: str):
        self._athena = _client("athena", endpoint_url, region)

    def scans(
        self, workgroups: Iterable[str], after: datetime, before: datetime
    ) -> Iterator[QueryScan]:
        """Every query of `workgroups` submitted in [after, before) that reported the bytes it
        scanned; a workgroup that does not exist has none."""
        for workgroup in sorted(set(workgroups)):
            ids = self._query_ids(workgroup)
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

    def _query_ids(self, workgroup: str) -> list[str]:
        pages = self._athena.get_paginator("list_query_executions").paginate(WorkGroup=workgroup)
        try:
            return [query_id for page in pages for query_id in page["QueryExecutionIds"]]
        except ClientError as error:
            if error.response["Error"]["Code"] == "InvalidRequestException":
                return []  # Athena's answer for a workgroup it does not know
            raise
