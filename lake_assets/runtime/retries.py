"""A step that fails on a transient error is tried again, with backoff; any other failure is final.

Seeds 003 and 004 ask for retries with exponential backoff on transient failures. Below the
lake's code boto3 already retries a throttled or failed call (standard mode, AWS_MAX_ATTEMPTS
attempts: resources/aws/clients.py); what outlasts those attempts (S3 answering 503 for a
minute, a DynamoDB table throttled, the endpoint unreachable while a NAT gateway is replaced)
failed the run until the next schedule. A Dagster `RetryPolicy` would also retry a contract,
an audit or a schema break, which fail the same way every time and whose failure is the signal
(ADR-0133). So each asset's body is wrapped by `retried_when_transient`: an error whose chain
holds a transient cause asks Dagster to run the step again after a doubling wait; any other
error fails the step as before. A step tried again is safe: every write goes to a run folder
of its own and becomes visible only through `publish`'s optimistic switch (ADR-0010).

The classification is pure (`transient_cause`, `retry_wait`); the decorator is the thin
Dagster side.
"""

from __future__ import annotations

import functools
import inspect
import sqlite3
from collections.abc import Callable, Iterator

# Error codes of AWS services that mean "not now" rather than "not this": the throttling and
# transient codes botocore's standard retry mode retries, named here because what reaches us
# is what outlasted those retries.
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)
# SQLite's answers when another process holds the lock (the local profile's stores): another
# run or the daemon is writing, and will be done shortly.
SQLITE_BUSY = ("database is locked", "database is busy")


def transient_cause(error: BaseException) -> str | None:
    """What in `error`'s chain (the error, then what caused it) is transient, in a few words;
    None when nothing is, so the failure is the answer."""
    from botocore.exceptions import ClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ClientError):
            reply = current.response
            code = reply.get("Error", {}).get("Code", "")
            status = reply.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in TRANSIENT_CODES or status >= 500:
                operation = getattr(current, "operation_name", "call")
                return f"AWS {operation} answered {code or status} (HTTP {status})"
        elif isinstance(current, BotoConnectionError | ConnectionError | TimeoutError):
            return f"connection failed: {current}"
        elif isinstance(current, sqlite3.OperationalError) and str(current) in SQLITE_BUSY:
            return f"SQLite store busy: {current}"
        # An error that keeps its cause out of the traceback (PartialPublish) names it `cause`.
        current = (
            current.__cause__
            or (None if current.__suppress_context__ else current.__context__)
            or getattr(current, "cause", None)
        )
    return None


def retry_wait(retries_before: int, first_seconds: float) -> float:
    """Seconds to wait before the next try of a step already tried again `retries_before`
    times: `first_seconds`, doubling with each retry (30 s, 60 s, 120 s by default)."""
    return first_seconds * 2**retries_before


def retried_when_transient(body: Callable) -> Callable:
    """`body` (an asset's compute function, plain or a generator) as Dagster calls it, but an
    error with a transient cause becomes a `RetryRequested` while the step has retries left:
    `settings.step_retries` of them, the first after `settings.step_retry_seconds` (the
    body's `settings` resource; a body without one gets their defaults). The body's first
    argument is its context."""
    from dagster import RetryRequested

    from lake_assets.settings import STEP_RETRIES, STEP_RETRY_SECONDS

    def retry_or_raise(context, resources: dict, error: Exception) -> None:
        settings = resources.get("settings")
        retries = getattr(settings, "step_retries", STEP_RETRIES)
        first = getattr(settings, "step_retry_seconds", STEP_RETRY_SECONDS)
        cause = transient_cause(error)
        done = context.retry_number
        if cause is None or done >= retries:
            raise error
        wait = retry_wait(done, first)
        context.log.warning(
            f"transient failure, step tried again ({done + 1} of {retries}) in {wait:g} s: {cause}"
        )
        raise RetryRequested(max_retries=retries, seconds_to_wait=wait) from error

    if inspect.isgeneratorfunction(body):

        @functools.wraps(body)
        def stepped(context, *args, **resources) -> Iterator:
            try:
                yield from body(context, *args, **resources)
            except Exception as error:
                retry_or_raise(context, resources, error)

        return stepped

    @functools.wraps(body)
    def step(context, *args, **resources):
        try:
            return body(context, *args, **resources)
        except Exception as error:
            retry_or_raise(context, resources, error)

    return step
