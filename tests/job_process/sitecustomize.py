"""Loaded at start-up by the job process of the fake EMR (tests/emr_fake.py puts this folder on
its PYTHONPATH): notes each AWS call the Spark job makes (service, operation, S3 zone) and
writes them, when the process ends, to the file LAKE_JOB_AWS_CALLS names with the process id
appended, for tests/aws_calls.py to attribute to the job role. Everything the job process calls is the job's."""

import atexit
import json
import os

_OUT = os.environ.get("LAKE_JOB_AWS_CALLS")

if _OUT:
    from botocore.client import BaseClient

    _calls: set[tuple] = set()
    _original = BaseClient._make_api_call

    def _noted(client, operation_name, api_params):
        service = client.meta.service_model.service_name
        zone = None
        if service == "s3":
            head, slash, _ = (api_params.get("Key") or api_params.get("Prefix") or "").partition(
                "/"
            )
            zone = head + slash
        _calls.add((service, operation_name, zone))
        return _original(client, operation_name, api_params)

    def _write() -> None:
        # A file per process: Spark's Python daemon loads this too and ends after the driver,
        # and one shared file would keep only the last process's calls (the daemon's, none).
        if _calls:
            with open(f"{_OUT}.{os.getpid()}", "w") as out:
                json.dump(sorted(_calls, key=str), out)

    BaseClient._make_api_call = _noted
    atexit.register(_write)
