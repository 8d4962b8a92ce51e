"""The AWS calls the code makes, seen while the moto-server tests run, each attributed to the
role that makes it in production. terraform/tests/aws_calls.json is the recording: the IAM test
(tests/test_terraform.py) derives each role's grants from it, and every test that starts the moto
server fails when the code makes a call the recording does not hold.

Re-record after the code calls something new (runs every test file that uses the moto server):

    make aws-calls        # LAKE_RECORD_AWS_CALLS=1 pytest <those files>

A re-recording keeps every call of the last one that no test made this time, and fails naming
them, unless LAKE_DROP_AWS_CALLS names them (ADR-0128): a grant never leaves unnoticed.

Which calls are the code's: calls through a boto3 client the code built (a frame of lake_assets/
or resources/ on the stack when the client was made), except a call the test makes itself on
such a client and the provisioning helpers that stand in for Terraform in tests (tables, the
Glue database). A test that looks at AWS through the code's own stores makes the code's calls:
look with a client of the test's own. The role: the Spark job's when the client was built under
the job entry point (lake_assets/runtime/entry.py) in this process, or made by a job process the
fake EMR runs (tests/job_process/sitecustomize.py notes those, `note_job_calls` adds them), the
orchestrator's otherwise; a client built by `AssumedRole.client` (resources/aws/clients.py) is
the assumed role's, by its `name` ("view_definer"), while asking STS for it is the caller's.
A call made while `lake deploy` uploads the job code (runtime/deploy.py
`deploy_code` on the stack) is the deployer's, whoever built the client: CI deploys with a role
of its own (terraform/cicd.tf, ADR-0143), and the orchestrator only checks that the code is
there. S3 calls carry the zone they touch: the key's first segment below the storage's root ("raw/"), ""
for the bucket itself. A call on another bucket than the lake's is told apart by the code that
built its client (`other_buckets`): the trail reader's reach the access-log bucket, and their
zones are spelt "<bucket>:<zone>" ("logs:cloudtrail/"), the bucket named as Terraform names it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import boto3
import botocore
import pytest
import s3transfer
from botocore.client import BaseClient

REPO = Path(__file__).resolve().parents[1]
RECORDING = REPO / "terraform" / "tests" / "aws_calls.json"
RECORD_ENV = "LAKE_RECORD_AWS_CALLS"
RECORD_COMMAND = "make aws-calls"
# Calls a recording may lose, named as `call_name` spells them, comma-separated: a call the code
# no longer makes. Any other call the last recording held and no test made this time is kept.
DROP_ENV = "LAKE_DROP_AWS_CALLS"

_CODE = tuple(str(REPO / folder) + os.sep for folder in ("lake_assets", "resources"))
# The one entry point of every Spark job: its frames run in the job process only.
JOB_ENTRY = REPO / "lake_assets" / "runtime" / "entry.py"
_TESTS = str(REPO / "tests") + os.sep
# Frames of the AWS SDK (and of this recorder) sit between any caller and the request.
_SDK = (*(str(Path(m.__file__).parent) + os.sep for m in (boto3, botocore, s3transfer)), __file__)


@dataclass(frozen=True, order=True)
class AwsCall:
    role: str
    service: str  # botocore's service name ("s3", "emr-serverless")
    operation: str  # the API operation ("PutObject")
    zone: str | None = None  # S3 only: "raw/", "_pipes/", "" for the bucket


@dataclass(frozen=True)
class _Origin:
    role: str
    root: str  # the S3 storage's key prefix, stripped before the zone is taken
    bucket: str = ""  # "" for the lake bucket, else its `other_buckets` name


def other_buckets() -> dict:
    """The code object that builds the clients of a bucket other than the lake's -> that
    bucket's name in terraform/ (aws_s3_bucket.<name>)."""
    from resources.aws.cloudtrail import CloudTrailFiles

    return {CloudTrailFiles.__init__.__code__: "logs"}


def zone_in(bucket: str, zone: str) -> str:
    """A zone of the lake bucket ("" bucket) as it is, another bucket's as "<bucket>:<zone>"."""
    return f"{bucket}:{zone}" if bucket else zone


def load_recording(path: Path = RECORDING) -> set[AwsCall]:
    tree = json.loads(path.read_text())["calls"]
    return {
        AwsCall(role, service, operation, zone)
        for role, services in tree.items()
        for service, operations in services.items()
        for operation, zones in operations.items()
        for zone in (zones if service == "s3" else [None])
    }


def write_recording(calls: set[AwsCall], path: Path = RECORDING) -> None:
    tree: dict = {}
    for call in sorted(calls, key=lambda c: (c.role, c.service, c.operation, c.zone or "")):
        zones = tree.setdefault(call.role, {}).setdefault(call.service, {})
        zones = zones.setdefault(call.operation, [])
        if call.zone is not None:
            zones.append(call.zone)
    document = {
        "generated_by": f"{RECORD_COMMAND} (see tests/aws_calls.py); do not edit by hand",
        "calls": tree,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def call_name(call: AwsCall) -> str:
    """role:service:Operation, and :zone for S3 (empty for the bucket itself), as DROP_ENV
    names a call: `job:glue:GetTable`, `orchestrator:s3:GetObject:raw/`."""
    zone = [] if call.zone is None else [call.zone]
    return ":".join([call.role, call.service, call.operation, *zone])


def rerecorded(
    previous: set[AwsCall], seen: set[AwsCall], dropped: set[str]
) -> tuple[set[AwsCall], set[AwsCall]]:
    """The recording to write after a recording run that saw `seen`, and the calls of the
    `previous` recording that no test made this time and `dropped` does not name. Those are
    kept: a call the code still makes in production whose test went away (or did not run) must
    not lose its grant unnoticed, as the quarantine copy's nearly did (ADR-0126)."""
    lost = {call for call in previous - seen if call_name(call) not in dropped}
    return seen | lost, lost


def _files(frame: FrameType | None):
    while frame is not None:
        yield frame
        frame = frame.f_back


def _zone(key: str, root: str) -> str:
    key = key[len(root) :] if root and key.startswith(root) else key
    head, slash, _ = key.partition("/")
    return head + slash


def _zones(api_params: dict, root: str) -> set[str]:
    """The zones an S3 request touches: of its key, prefix or batch of keys; "" if none."""
    keys = [api_params[name] for name in ("Key", "Prefix") if api_params.get(name)]
    keys += [entry["Key"] for entry in api_params.get("Delete", {}).get("Objects", [])]
    return {_zone(key, root) for key in keys} or {""}


def _copy_source_zone(api_params: dict, root: str) -> str | None:
    """A copy reads its source, which IAM authorises apart from the write: noted as the
    pseudo-operation "CopySource" (see tests/iam_grants.py)."""
    source = api_params.get("CopySource")
    if source is None:
        return None
    key = source["Key"] if isinstance(source, dict) else source.split("/", 1)[1]
    return _zone(key, root)


class AwsCallRecorder:
    """Patches botocore while installed. `expected` None records; a set checks against it."""

    def __init__(self, expected: set[AwsCall] | None):
        self.expected = expected
        self.seen: set[AwsCall] = set()
        self.unrecorded: list[AwsCall] = []
        self._patched: tuple | None = None

    def install(self) -> None:
        # Imported here: the provisioning helpers are recognised by their code objects.
        from lake_assets.runtime.deploy import deploy_code
        from resources.aws.clients import AssumedRole, ensure_table
        from resources.aws.glue import GlueCatalog
        from resources.aws.s3 import S3Storage

        assert JOB_ENTRY.is_file(), f"{JOB_ENTRY} moved: tell tests/aws_calls.py where jobs start"

        self._provisioning = {ensure_table.__code__, GlueCatalog.ensure_database.__code__}
        self._storage_init = S3Storage.__init__.__code__
        self._assumed_client = AssumedRole.client.__code__
        self._other_buckets = other_buckets()
        self._deploy = deploy_code.__code__
        original_init, original_call = BaseClient.__init__, BaseClient._make_api_call
        recorder = self

        def init(client, *args, **kwargs):
            original_init(client, *args, **kwargs)
            client._lake_origin = recorder._origin(sys._getframe(1))

        def call(client, operation_name, api_params):
            origin = getattr(client, "_lake_origin", None)
            frame = sys._getframe(1)
            if origin is not None and recorder._is_code_call(frame):
                if recorder._deploying(frame):
                    origin = _Origin("deployer", origin.root)
                recorder._note_call(
                    origin, client.meta.service_model.service_name, operation_name, api_params
                )
            return original_call(client, operation_name, api_params)

        BaseClient.__init__, BaseClient._make_api_call = init, call
        self._patched = (original_init, original_call)

    def uninstall(self) -> None:
        if self._patched:
            BaseClient.__init__, BaseClient._make_api_call = self._patched
            self._patched = None

    def _origin(self, frame: FrameType | None) -> _Origin | None:
        files = [(f, f.f_code.co_filename) for f in _files(frame)]
        if not any(name.startswith(_CODE) for _, name in files):
            return None
        assumed = [f for f, _ in files if f.f_code is self._assumed_client]
        if assumed:
            role = assumed[0].f_locals["self"].name
        elif any(name == str(JOB_ENTRY) for _, name in files):
            role = "job"
        else:
            role = "orchestrator"
        storage = [f for f, _ in files if f.f_code is self._storage_init]
        bucket = [
            self._other_buckets[f.f_code] for f, _ in files if f.f_code in self._other_buckets
        ]
        root = storage[0].f_locals["self"].prefix if storage else ""
        return _Origin(role, root, bucket[0] if bucket else "")

    def _deploying(self, frame: FrameType | None) -> bool:
        return any(each.f_code is self._deploy for each in _files(frame))

    def _is_code_call(self, frame: FrameType | None) -> bool:
        caller = None
        for each in _files(frame):
            if each.f_code in self._provisioning:
                return False
            if caller is None and not each.f_code.co_filename.startswith(_SDK):
                caller = each.f_code.co_filename
        return caller is None or not caller.startswith(_TESTS)

    def _note_call(self, origin: _Origin, service: str, operation: str, params: dict) -> None:
        if service != "s3":
            self._note(AwsCall(origin.role, service, operation))
            return
        for zone in _zones(params, origin.root):
            self._note(AwsCall(origin.role, service, operation, zone_in(origin.bucket, zone)))
        source = _copy_source_zone(params, origin.root)
        if source is not None:
            self._note(AwsCall(origin.role, service, "CopySource", zone_in(origin.bucket, source)))

    def _note(self, call: AwsCall) -> None:
        self.seen.add(call)
        if self.expected is not None and call not in self.expected:
            self.unrecorded.append(call)

    def fail_on_unrecorded(self) -> None:
        """Called after each test: a call outside the recording fails the test that made it."""
        if not self.unrecorded:
            return
        calls, self.unrecorded = sorted(set(self.unrecorded)), []
        listed = "\n".join(
            f"  {c.role}: {c.service} {c.operation}" + (f" on {c.zone!r}" if c.zone else "")
            for c in calls
        )
        pytest.fail(
            f"the code made AWS calls that {RECORDING.relative_to(REPO)} does not hold:\n"
            f"{listed}\nre-record with `{RECORD_COMMAND}`, then grant them in terraform/iam.tf "
            "(tests/test_terraform.py compares the roles with the recording)",
            pytrace=False,
        )


_recorder: AwsCallRecorder | None = None


def start() -> AwsCallRecorder:
    """Record (LAKE_RECORD_AWS_CALLS=1) or check calls from now on; once per session."""
    global _recorder
    if _recorder is None:
        recording = os.environ.get(RECORD_ENV) == "1"
        _recorder = AwsCallRecorder(None if recording else load_recording())
        _recorder.install()
    return _recorder


@contextmanager
def recording_apart(expected: set[AwsCall] | None = None) -> Iterator[AwsCallRecorder]:
    """A recorder of its own for a test of the recorder, with the session's suspended so that
    what the test provokes stays out of the session's recording."""
    if _recorder is not None:
        _recorder.uninstall()
    apart = AwsCallRecorder(expected)
    apart.install()
    try:
        yield apart
    finally:
        apart.uninstall()
        if _recorder is not None:
            _recorder.install()


# The fake EMR's job process notes its calls in this file (tests/job_process/sitecustomize.py).
JOB_CALLS_ENV = "LAKE_JOB_AWS_CALLS"
JOB_PROCESS_HOOKS = REPO / "tests" / "job_process"


def note_job_calls(path: Path) -> None:
    """The calls a Spark job's processes made (as the fake EMR ran it: `path` with each
    process's id appended), attributed to the job role and recorded or checked like the
    orchestrator's."""
    if _recorder is None:
        return
    for noted in sorted(path.parent.glob(f"{path.name}.*")):
        for service, operation, zone in json.loads(noted.read_text()):
            _recorder._note(AwsCall("job", service, operation, zone))


def check_test() -> None:
    if _recorder is not None:
        _recorder.fail_on_unrecorded()


def finish(exit_status: int) -> int:
    """Writes the recording after a recording session that passed (a failed test may have
    stopped before some of its calls, and the recording would lose them); returns the session's
    exit status, 1 when the recording kept calls no test made (rerecorded), which it names."""
    global _recorder
    if _recorder is None:
        return exit_status
    _recorder.uninstall()
    recording, _recorder = _recorder, None
    if recording.expected is not None or exit_status != 0:
        return exit_status
    dropped = {name.strip() for name in os.environ.get(DROP_ENV, "").split(",") if name.strip()}
    calls, lost = rerecorded(
        load_recording() if RECORDING.exists() else set(), recording.seen, dropped
    )
    write_recording(calls)
    if not lost:
        return exit_status
    listed = "\n".join(f"  {call_name(call)}" for call in sorted(lost))
    print(
        f"\n{RECORDING.relative_to(REPO)} kept calls no test made this time:\n{listed}\n"
        "If the code still makes them, a test that made them is gone or did not run: restore it. "
        f"If it no longer does, re-record with {DROP_ENV}=<the names, comma-separated> and say "
        "why in the ADR that changed the code.",
        file=sys.stderr,
    )
    return 1
