"""One interface over the lake's object storage: a local folder or an S3 bucket.

Keys are always '/'-separated and relative to the lake root ("raw/source=x/..."), so zone layout
code never knows which backend it runs on. Spark receives `uri(key)`. Both backends refuse a key
that is not normalised (see tables/keys.check_key): a key names one place, on a disk and in a bucket alike.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lake_assets.tables.keys import check_key


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: datetime
    # S3's storage class as ListObjectsV2 gives it (what an object's bytes are billed at); a
    # local lake has one class.
    storage_class: str = "STANDARD"
    # S3's restore status of an archived object as HeadObject gives it (x-amz-restore:
    # 'ongoing-request="true"' while restoring, then its expiry); None when never restored.
    # Listings leave it out: only HeadObject tells.
    restore: str | None = None


class ArchivedObjectError(OSError):
    """An object whose bytes are in an archive storage class (S3 Glacier Flexible Retrieval or
    Deep Archive) and not restored: S3 refuses to read it until `lake restore` brings it back."""

    def __init__(self, uri: str, storage_class: str):
        self.uri, self.storage_class = uri, storage_class
        super().__init__(
            f"{uri} is archived in {storage_class} and cannot be read until it is restored: "
            "run `lake restore` for the days it belongs to (docs/runbooks/restore-from-glacier.md)"
        )


class LakeStorage(ABC):
    # Whether objects can move to an archive class that must be restored before a read (a
    # bucket's lifecycle); a folder never does, so a local job skips the check entirely.
    archives = False

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        """Write `data` as the object `key`. `content_type` is what a browser is told the
        object is (a page the lake serves, e.g. the SLO dashboard); a folder has no use for it."""

    @abstractmethod
    def put_file(self, key: str, local_path: Path) -> ObjectInfo:
        """Upload a local file as-is, streaming, byte for byte."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes: ...

    @abstractmethod
    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """A local file with the object's bytes for the duration of the block."""

    @abstractmethod
    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        """Every object whose key starts with `prefix`, in key order."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None: ...

    @abstractmethod
    def copy(self, source_key: str, target_key: str) -> None: ...

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; returns how many were deleted."""

    @abstractmethod
    def uri(self, key: str) -> str:
        """The address Spark and other engines use for `key` (file:// or s3://)."""

    def restore(self, key: str, days: int, tier: str) -> None:
        """Ask for a temporary copy of an archived object, readable for `days` (S3
        RestoreObject). Only a bucket archives: a folder has one storage class."""
        raise ValueError(f"{self.uri(key)} is not archived: this lake has one storage class")

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def folders(self, prefix: str) -> list[str]:
        """The folders directly under `prefix` (which ends in "/"), each ending in "/", in
        key order."""
        rests = (info.key[len(prefix) :] for info in self.list(prefix))
        return sorted({prefix + rest.split("/", 1)[0] + "/" for rest in rests if "/" in rest})


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class LocalStorage(LakeStorage):
    """The embedded default: the lake is a folder. Writes go through a temp file and rename,
    so a reader never sees half an object."""

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()
        # md5 per file version (path, size, mtime, inode): listing must not re-read every byte.
        self._etags: dict[tuple[str, int, int, int], str] = {}

    def _path(self, key: str, prefix: bool = False) -> Path:
        path = (self.root / check_key(key, prefix)).resolve()
        if self.root not in path.parents and path != self.root:
            raise ValueError(f"key {key!r} escapes the lake root {self.root}")
        return path

    def _info(self, key: str, path: Path) -> ObjectInfo:
        stat = path.stat()
        version = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if version not in self._etags:
            self._etags[version] = _md5_of(path)
        return ObjectInfo(
            key=key,
            size=stat.st_size,
            etag=self._etags[version],
            last_modified=datetime.fromtimestamp(stat.st_mtime, UTC),
        )

    def _atomic_write(self, key: str, write) -> ObjectInfo:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".inflight-")
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return self._info(key, target)

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> ObjectInfo:
        return self._atomic_write(key, lambda handle: handle.write(data))

    def put_file(self, key: str, local_path: Path) -> ObjectInfo:
        def stream(handle):
            with Path(local_path).open("rb") as source:
                shutil.copyfileobj(source, handle, 1 << 20)

        return self._atomic_write(key, stream)

    def get_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no object {key!r} in {self.root}")
        yield path

    def _keys(self, prefix: str) -> Iterator[str]:
        """Keys of complete objects under `prefix`, in key order (writes in flight left out)."""
        check_key(prefix, prefix=True)
        base = self._path(prefix.rsplit("/", 1)[0]) if "/" in prefix else self.root
        if not base.exists():
            return
        keys = sorted(p.relative_to(self.root).as_posix() for p in base.rglob("*") if p.is_file())
        for key in keys:
            if key.startswith(prefix) and not key.rsplit("/", 1)[-1].startswith(".inflight-"):
                yield key

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for key in self._keys(prefix):
            yield self._info(key, self.root / key)

    def folders(self, prefix: str) -> list[str]:
        # Without listing the objects: listing hashes each file (see _info).
        base = self._path(prefix, prefix=True)
        if not base.is_dir():
            return []
        return sorted(f"{prefix}{child.name}/" for child in base.iterdir() if child.is_dir())

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        return self._info(key, path) if path.is_file() else None

    def copy(self, source_key: str, target_key: str) -> None:
        self.put_file(target_key, self._path(source_key))

    def delete_prefix(self, prefix: str) -> int:
        keys = list(self._keys(prefix))
        for key in keys:
            self._path(key).unlink()
        return len(keys)

    def uri(self, key: str) -> str:
        # Not Path.as_uri(): it percent-encodes "=" in source=<id>/, which Hadoop takes literally.
        path = self._path(key, prefix=True).as_posix()
        return f"file://{path}/" if key.endswith("/") else f"file://{path}"
