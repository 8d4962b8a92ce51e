"""The lake's CloudTrail trail as files in the access-log bucket (terraform/audit.tf): listed
by day under the trail's prefix and fetched, for lake_assets/access/trail.py to read.

CloudTrail delivers `<prefix>/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<file>.json.gz`
for every region of a multi-region trail, and an AWS Organization's trail
`<prefix>/AWSLogs/<organization id>/<account>/CloudTrail/...` for every account of the
organization; the organizations, accounts and regions are what the bucket holds (listed a
folder level at a time), the days what the caller asks for. The files are SSE-KMS
encrypted with the lake key, which S3 decrypts with the caller's kms:Decrypt.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from botocore.exceptions import ClientError

from lake_assets.access.trail import TrailFile, day_folder, is_organization, trail_folder
from resources.aws.clients import _client, _error_code

# A day of a multi-region trail is thousands of small files: fetched a few at a time, and
# handed on in batches, so a long range is never held in memory whole.
FETCHES_IN_FLIGHT = 16
BATCH = 256


class CloudTrailFiles:
    """The trail's log files in `bucket` under `prefix` (LAKE_CLOUDTRAIL_BUCKET and _PREFIX)."""

    def __init__(self, bucket: str, prefix: str, *, endpoint_url: str | None, region: str):
        self.bucket, self.prefix = bucket, prefix
        self._s3 = _client("s3", endpoint_url, region)

    def _folders(self, prefix: str) -> list[str]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        )
        return [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]

    def _keys(self, prefix: str) -> list[str]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def keys(self, days: Iterable[date]) -> list[str]:
        """The log files of `days`, of every account and region the trail delivered for."""
        days = list(days)
        keys = []
        for account in self._account_folders():
            for region in self._folders(f"{account}CloudTrail/"):
                for day in days:
                    keys += self._keys(day_folder(region, day))
        return keys

    def _account_folders(self) -> list[str]:
        """`AWSLogs/<account>/` of each account the trail delivered for: directly under
        AWSLogs/ for an account's trail, under `<organization id>/` for an organization's."""
        accounts = []
        for folder in self._folders(trail_folder(self.prefix)):
            name = folder.rstrip("/").rsplit("/", 1)[-1]
            accounts += self._folders(folder) if is_organization(name) else [folder]
        return accounts

    def _fetch(self, key: str) -> TrailFile:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            return TrailFile(key, unreadable=f"could not be read: {_error_code(error)}")
        return TrailFile(key, body)

    def files(self, days: Iterable[date]) -> Iterator[TrailFile]:
        """Each log file of `days` with its bytes (gzipped, as delivered), in key order; one S3
        refused is a TrailFile naming why, and the others are still fetched."""
        keys = sorted(self.keys(days))
        with ThreadPoolExecutor(FETCHES_IN_FLIGHT) as pool:
            for start in range(0, len(keys), BATCH):
                yield from pool.map(self._fetch, keys[start : start + BATCH])
