"""Who actually read what on AWS: the lake's reads in CloudTrail's log files (ADR-0157).

The access audit trail (audit.py) records the lake's policy decisions; the CloudTrail trail of
terraform/audit.tf records the reads themselves, whoever made them: an analyst's GetObject on a
curated partition, Athena's StartQueryExecution on a masked view, Glue's GetTable. This module
turns the trail's files into `Read`s: when, who (the principal's ARN, and the role behind an
assumed-role session), what (dataset and partition of a lake key, through the lake's own
location functions; the tables and views a query names in the lake's Glue databases), how (the
API call), from where (source IP, user agent, the service that called on the principal's
behalf) and the event id.

Pure: file keys and bytes in, reads out. A record that is not a read of the lake (another
bucket, another database, a call that reads nothing) is skipped and counted by reason; a file
that cannot be read (not gzip, not JSON, no `Records`) or a record without the fields every
CloudTrail record has is reported by key with the reason, and the rest is still read. Listing
and fetching the files is resources/aws/cloudtrail.py's.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlglot.errors import SqlglotError

from lake_assets.access.views import named_tables, view_parts
from lake_assets.ingestion.raw_zone import parse_raw_key, raw_source_of
from lake_assets.instants import format_instant, parse_instant
from lake_assets.tables.locations import located

GET_OBJECT = ("s3.amazonaws.com", "GetObject")
START_QUERY = ("athena.amazonaws.com", "StartQueryExecution")
GET_TABLE = ("glue.amazonaws.com", "GetTable")
# CloudTrail's event source and name -> the IAM action a read is, as `lake access reads` shows it.
READ_CALLS = {
    GET_OBJECT: "s3:GetObject",
    START_QUERY: "athena:StartQueryExecution",
    GET_TABLE: "glue:GetTable",
}
# Why a record is skipped: it is no read, or not of the lake.
NOT_A_READ = "not a read"
OTHER_BUCKET = "another bucket's object"
OTHER_DATABASE = "no table of the lake's databases"


def trail_folder(prefix: str) -> str:
    """Where CloudTrail delivers under the trail's S3 key prefix: `<prefix>/AWSLogs/` (then
    `<account>/CloudTrail/<region>/`, or an organization's trail `<organization id>/<account>/
    CloudTrail/<region>/`)."""
    return f"{prefix.strip('/')}/AWSLogs/" if prefix.strip("/") else "AWSLogs/"


def is_organization(folder: str) -> bool:
    """Whether a folder under AWSLogs/ is an AWS Organization's (`o-` and its id), whose
    account folders are under it, rather than an account's (twelve digits)."""
    return folder.startswith("o-")


def day_folder(region_folder: str, day: date) -> str:
    """A region's files of one day (UTC): `<region folder><yyyy>/<mm>/<dd>/`."""
    return f"{region_folder}{day:%Y/%m/%d}/"


def days_to_list(since: date, until: date) -> list[date]:
    """The day folders holding the events of since..until: and the day after, where CloudTrail
    delivers the last minutes of `until` (a file is filed under the day it is delivered)."""
    if until < since:
        raise ValueError(f"--until {until} is before --since {since}")
    return [since + timedelta(days=n) for n in range((until - since).days + 2)]


@dataclass(frozen=True)
class TrailScope:
    """What of the trail is the lake's: its bucket, its Glue databases (the curated tables'
    and the masked views'), the roles the lake itself runs as (the orchestrator, the Spark
    jobs, the view definer), whose reads are told apart from everyone else's, and the consumer
    roles' ARN up to the profile (terraform/consumers.tf, ADR-0161)."""

    bucket: str
    curated_database: str
    views_database: str
    lake_roles: frozenset[str] = frozenset()
    consumer_role_prefix: str = ""

    def profile_of(self, role: str | None) -> str | None:
        """The access profile whose consumer role `role` is, else None."""
        prefix = self.consumer_role_prefix
        if prefix and role and role.startswith(prefix):
            return role.removeprefix(prefix)
        return None


@dataclass(frozen=True)
class Read:
    """One read of the lake, as the trail recorded it. A query naming several of the lake's
    tables is a read of each, with the same event id."""

    event_id: str
    at: str  # the event's time, ISO 8601 UTC
    action: str  # "s3:GetObject", "athena:StartQueryExecution", "glue:GetTable"
    principal: str  # userIdentity.arn (an assumed role's session), else who the record names
    role: str | None  # the role behind an assumed-role session (sessionIssuer.arn)
    dataset: str | None  # None: a key of the bucket outside the datasets' folders
    partition: str | None
    target: str  # the object's key, or "<database>.<table>" of a table or view
    zone: str | None = None  # S3: the key's zone ("curated", "raw", "_state", ...)
    view_profile: str | None = None  # a masked view's subject profile
    workgroup: str | None = None  # Athena's
    source_ip: str = ""
    user_agent: str = ""
    invoked_by: str | None = None  # the service that called for the principal (Athena)
    region: str = ""
    error: str | None = None  # the call was refused: its errorCode (an attempt, not a read)
    by_lake: bool = False  # made by one of the lake's own roles
    as_profile: str | None = None  # made by the consumer role of this access profile

    @property
    def around_masks(self) -> str | None:
        """Why a consumer's read reached data other than through its own profile's masked views,
        or None. A consumer role may read nothing else (ADR-0161: Lake Formation refuses the rest),
        so a successful one means a grant that should not exist. Judged for consumer roles only:
        other principals (a service, an administrator) are shown as they are. Nor is a call a
        service made for the consumer (Athena's GetTable while it plans a query): what the consumer
        asked for is the query's own record, judged by the tables it names."""
        if self.as_profile is None or self.error is not None or self.invoked_by:
            return None
        if self.action == "s3:GetObject":
            return "read the lake's objects, not a masked view"
        if self.view_profile is None:
            return "read a curated table, not a masked view"
        if self.view_profile != self.as_profile:
            return f"read the view of profile {self.view_profile}"
        return None

    def to_json(self) -> dict:
        return {**asdict(self), "around_masks": self.around_masks}


@dataclass(frozen=True)
class Malformed:
    """A file, or a record in it, that is not what CloudTrail writes: named, with why."""

    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


@dataclass
class TrailReads:
    """What a set of trail files holds of the lake: its reads (by time), the records skipped
    by reason, and what could not be read."""

    reads: list[Read] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    malformed: list[Malformed] = field(default_factory=list)
    files: int = 0

    def to_json(self) -> dict:
        return {
            "files": self.files,
            "reads": [r.to_json() for r in self.reads],
            "skipped": dict(sorted(self.skipped.items())),
            "malformed": [asdict(m) for m in self.malformed],
        }


@dataclass(frozen=True)
class TrailFile:
    """A log file as fetched: its key and bytes, or why it could not be fetched."""

    key: str
    body: bytes | None = None
    unreadable: str | None = None


class MalformedRecord(ValueError):
    """A record lacking what every CloudTrail record has."""


def records_of(body: bytes) -> list:
    """The records of a log file: gzipped JSON `{"Records": [...]}`. ValueError naming what is
    wrong with it."""
    try:
        text = gzip.decompress(body)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"not a gzip file ({error})") from None
    try:
        document = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON ({error})") from None
    records = document.get("Records") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise ValueError('no "Records" list')
    return records


def _text(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedRecord(f"no {name}")
    return value


def _who(identity: Mapping[str, Any]) -> tuple[str, str | None]:
    """(principal, role): the identity's ARN, or the service or id it names without one, and
    the role an assumed-role session was issued by."""
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    role = issuer.get("arn") if issuer.get("type") == "Role" else None
    named = identity.get("principalId") or identity.get("accountId") or "?"
    principal = (
        identity.get("arn") or identity.get("invokedBy") or f"{identity.get('type', '?')}:{named}"
    )
    return principal, role


def _object(record: Mapping[str, Any]) -> tuple[str, str] | None:
    """(bucket, key) of an S3 object event, from its request or its resources."""
    request = record.get("requestParameters") or {}
    if request.get("bucketName") and request.get("key"):
        return request["bucketName"], request["key"]
    for resource in record.get("resources") or ():
        if resource.get("type") == "AWS::S3::Object":
            bucket, _, key = str(resource.get("ARN", "")).partition(":::")[2].partition("/")
            if bucket and key:
                return bucket, key
    return None


def _object_reads(record: Mapping[str, Any], scope: TrailScope) -> list[dict] | str:
    found = _object(record)
    if found is None or found[0] != scope.bucket:
        return OTHER_BUCKET
    key = found[1]
    raw = parse_raw_key(key)
    if raw is not None:
        dataset, partition, zone = raw[0], raw[1], "raw"
    elif (place := located(key)) is not None:
        dataset, partition, zone = place.dataset, place.partition, place.zone
    else:
        dataset, partition, zone = raw_source_of(key), None, key.split("/", 1)[0]
    return [{"dataset": dataset, "partition": partition, "target": key, "zone": zone}]


def _table(database: str, table: str, scope: TrailScope) -> dict | None:
    """A read of `database.table` if it is one of the lake's (Glue keeps names lower case)."""
    database, table = database.lower(), table.lower()
    target = f"{database}.{table}"
    if database == scope.curated_database:
        return {"dataset": table, "partition": None, "target": target}
    if database == scope.views_database:
        dataset, profile = view_parts(table) or (None, None)
        read = {"dataset": dataset, "partition": None, "target": target}
        return {**read, "view_profile": profile}
    return None


def _query_reads(record: Mapping[str, Any], scope: TrailScope) -> list[dict] | str:
    request = record.get("requestParameters") or {}
    context = request.get("queryExecutionContext") or {}
    session = str(context.get("database") or "")
    extra = {"workgroup": request.get("workGroup")}
    query = request.get("queryString")
    if not isinstance(query, str):
        raise MalformedRecord("a StartQueryExecution without its queryString")
    try:
        tables = named_tables(query)
    except SqlglotError as error:
        if session.lower() not in (scope.curated_database, scope.views_database):
            return OTHER_DATABASE
        # A query the lake cannot read, run in one of its databases: a read of that database,
        # whatever it names.
        reason = str(error).splitlines()[0]
        target = f"{session.lower()}.? (query not parsed: {reason})"
        return [{"dataset": None, "partition": None, "target": target, **extra}]
    reads = [
        {**read, **extra}
        for database, table in sorted(tables)
        if (read := _table(database or session, table, scope)) is not None
    ]
    return reads or OTHER_DATABASE


def _table_reads(record: Mapping[str, Any], scope: TrailScope) -> list[dict] | str:
    request = record.get("requestParameters") or {}
    read = _table(str(request.get("databaseName", "")), str(request.get("name", "")), scope)
    return [read] if read is not None else OTHER_DATABASE


_READERS = {GET_OBJECT: _object_reads, START_QUERY: _query_reads, GET_TABLE: _table_reads}


def reads_of(record: Any, scope: TrailScope) -> list[Read] | str:
    """The lake's reads one record holds, or why it holds none (NOT_A_READ, OTHER_BUCKET,
    OTHER_DATABASE). MalformedRecord when it lacks what every CloudTrail record has, or a part
    of it is not shaped as CloudTrail writes it."""
    try:
        return _reads_of(record, scope)
    except (AttributeError, TypeError) as error:
        raise MalformedRecord(f"not shaped as CloudTrail writes a record ({error})") from None


def _reads_of(record: Any, scope: TrailScope) -> list[Read] | str:
    if not isinstance(record, dict):
        raise MalformedRecord("not a JSON object")
    call = (_text(record, "eventSource"), _text(record, "eventName"))
    event_id = _text(record, "eventID")
    written = _text(record, "eventTime")
    try:
        at = format_instant(parse_instant(written))
    except ValueError:
        raise MalformedRecord(f"eventTime {written!r} is not a time") from None
    if call not in _READERS:
        return NOT_A_READ
    found = _READERS[call](record, scope)
    if isinstance(found, str):
        return found
    identity = record.get("userIdentity") or {}
    principal, role = _who(identity)
    common = {
        "event_id": event_id,
        "at": at,
        "action": READ_CALLS[call],
        "principal": principal,
        "role": role,
        "source_ip": str(record.get("sourceIPAddress") or ""),
        "user_agent": str(record.get("userAgent") or ""),
        "invoked_by": identity.get("invokedBy"),
        "region": str(record.get("awsRegion") or ""),
        "error": record.get("errorCode"),
        "by_lake": bool({principal, role} & scope.lake_roles),
        "as_profile": scope.profile_of(role),
    }
    return [Read(**common, **read) for read in found]


def trail_reads(
    files: Iterable[TrailFile], scope: TrailScope, since: date, until: date
) -> TrailReads:
    """The lake's reads from `since` to `until` (UTC days, both included) in `files`, sorted by
    time; records of other days are left out without being counted."""
    result = TrailReads()
    first, last = since.isoformat(), until.isoformat()
    for file in files:
        result.files += 1
        if file.unreadable is not None:
            result.malformed.append(Malformed(file.key, file.unreadable))
            continue
        try:
            records = records_of(file.body or b"")
        except ValueError as error:
            result.malformed.append(Malformed(file.key, str(error)))
            continue
        for index, record in enumerate(records):
            try:
                found = reads_of(record, scope)
            except MalformedRecord as error:
                result.malformed.append(Malformed(file.key, f"record {index}: {error}"))
                continue
            if not first <= parse_instant(record["eventTime"]).date().isoformat() <= last:
                continue
            if isinstance(found, str):
                result.skipped[found] += 1
            else:
                result.reads.extend(found)
    result.reads.sort(key=lambda r: (r.at, r.event_id, r.target))
    return result


def _what(read: Read) -> str:
    if read.dataset is None:
        return read.target
    what = read.dataset + (f"[{read.partition}]" if read.partition else "")
    if read.action == "s3:GetObject":
        return f"{what} ({read.zone})"
    if read.view_profile:
        return f"{what} (view {read.target})"
    return f"{what} (table {read.target})"


def read_line(read: Read) -> str:
    """One line of `lake access reads`."""
    who = read.principal + (f" (role {read.role})" if read.role else "")
    who += f" as profile {read.as_profile}" if read.as_profile else ""
    where = read.source_ip + (f" via {read.invoked_by}" if read.invoked_by else "")
    where += f" [{read.user_agent}]" if read.user_agent else ""
    return (
        f"{read.at}  {read.action}  {_what(read)}"
        + (f" in workgroup {read.workgroup}" if read.workgroup else "")
        + f"  by {who}  from {where}  event {read.event_id}"
        + (f"  REFUSED: {read.error}" if read.error else "")
        + (f"  AROUND THE MASKS: {read.around_masks}" if read.around_masks else "")
    )
