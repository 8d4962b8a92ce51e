"""The lake as an S3 bucket (LakeStorage)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from lake_assets.tables.keys import check_key
from resources.aws.clients import _client, _error_code
from resources.storage import ArchivedObjectError, LakeStorage, ObjectInfo

MiB = 1024**2

# --- S3 ----------------------------------------------------------------------------------------

_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
# What S3 answers a GetObject of an archived object that is not restored.
_ARCHIVED = "InvalidObjectState"
# S3 refuses a second restore of an object while one is in progress.
_RESTORING = "RestoreAlreadyInProgress"


def _key_prefix(prefix: str) -> str:
    """Where the lake starts inside its bucket: "lake", "/lake/" -> "lake/"; "" -> ""."""
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


class S3Storage(LakeStorage):
    """The lake as a bucket, optionally under a key prefix; lake keys never include the prefix.

    `multipart_threshold` is also the part size; S3 requires parts of at least 5 MiB.
    """

    archives = True

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None,
        region: str,
        multipart_threshold: int = 8 * MiB,
    ):
        self.bucket, self.prefix = bucket, _key_prefix(prefix)
        self._s3 = _client("s3", endpoint_url, region)
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold, multipart_chunksize=multipart_threshold
        )

    def _s3_key(self, key: str, prefix: bool = False) -> str:
        return self.prefix + check_key(key, prefix)

    @staticmethod
    def _info(
        key: str, size: int, etag: str, last_modified: datetime, storage_class: str = "STANDARD"
    ) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=size,
            etag=etag.strip('"'),
            last_modified=last_modified.astimezone(UTC),
            storage_class=storage_class,
        )

    def _missing(self, key: str) -> FileNotFoundError:
        return FileNotFoundError(f"no object {key!r} in {self.uri('')}")

    def _unreadable(self, key: str, error: ClientError) -> Exception | None:
        """The lake's error for a read S3 refused, or None for one to raise as it is."""
        code = _error_code(error)
        if code in _NOT_FOUND:
            return self._missing(key)
        if code == _ARCHIVED:
            storage_class = error.response.get("Error", {}).get("StorageClass", "GLACIER")
            return ArchivedObjectError(self.uri(key), storage_class)
        return None

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        extra = {"ContentType": content_type} if content_type else {}
        self._s3.put_object(Bucket=self.bucket, Key=self._s3_key(key), Body=data, **extra)
        return self._head_written(key)

    def put_file(self, key: str, local_path: Path) -> ObjectInfo:
        self._s3.upload_file(str(local_path), self.bucket, self._s3_key(key), Config=self._transfer)
        return self._head_written(key)

    def _head_written(self, key: str) -> ObjectInfo:
        info = self.head(key)
        if info is None:  # S3 reads after writes are strongly consistent; this is a real fault
            raise RuntimeError(f"{self.uri(key)} is missing right after it was written")
        return info

    def get_bytes(self, key: str) -> bytes:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=self._s3_key(key))
        except ClientError as error:
            raise (self._unreadable(key, error) or error) from None
        return response["Body"].read()

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="lake-s3-") as folder:
            # Keep the object's name: readers pick compression and format from the suffix.
            path = Path(folder) / PurePosixPath(key).name
            try:
                self._s3.download_file(
                    self.bucket, self._s3_key(key), str(path), Config=self._transfer
                )
            except ClientError as error:
                raise (self._unreadable(key, error) or error) from None
            yield path

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._s3_key(prefix, prefix=True)
        )
        # S3 lists in UTF-8 byte order, which is the key order Python's str comparison gives.
        for page in pages:
            for item in page.get("Contents", []):
                yield self._info(
                    item["Key"][len(self.prefix) :],
                    item["Size"],
                    item["ETag"],
                    item["LastModified"],
                    item.get("StorageClass", "STANDARD"),
                )

    def folders(self, prefix: str) -> list[str]:
        # S3 groups the keys itself (Delimiter): a page per 1,000 folders, not per 1,000 objects.
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._s3_key(prefix, prefix=True), Delimiter="/"
        )
        return sorted(
            common["Prefix"][len(self.prefix) :]
            for page in pages
            for common in page.get("CommonPrefixes", [])
        )

    def head(self, key: str) -> ObjectInfo | None:
        try:
            response = self._s3.head_object(Bucket=self.bucket, Key=self._s3_key(key))
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND:
                return None
            raise
        return replace(
            self._info(
                key,
                response["ContentLength"],
                response["ETag"],
                response["LastModified"],
                response.get("StorageClass", "STANDARD"),
            ),
            restore=response.get("Restore"),
        )

    def restore(self, key: str, days: int, tier: str) -> None:
        try:
            self._s3.restore_object(
                Bucket=self.bucket,
                Key=self._s3_key(key),
                RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}},
            )
        except ClientError as error:
            if _error_code(error) != _RESTORING:  # asked already: the first request stands
                raise

    def copy(self, source_key: str, target_key: str) -> None:
        # The managed copy switches to multipart copy above 5 GB, where copy_object stops.
        try:
            self._s3.copy(
                {"Bucket": self.bucket, "Key": self._s3_key(source_key)},
                self.bucket,
                self._s3_key(target_key),
                Config=self._transfer,
            )
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND:
                raise self._missing(source_key) from None
            raise

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        pages = self._s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._s3_key(prefix, prefix=True)
        )
        # A page holds at most 1000 keys, the most one delete_objects call accepts.
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if not keys:
                continue
            response = self._s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True}
            )
            if errors := response.get("Errors"):
                first = errors[0]
                raise RuntimeError(
                    f"could not delete {len(errors)} objects under {self.uri(prefix)}, "
                    f"e.g. {first['Key']}: {first.get('Code')} {first.get('Message')}"
                )
            deleted += len(keys)
        return deleted

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._s3_key(key, prefix=True)}"
