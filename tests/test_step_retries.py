"""A step that fails on a transient error is tried again after a wait; any other failure is final
(lake_assets/runtime/retries.py, ADR-0156). Through Dagster on the aws profile: S3 and DynamoDB
answer 503 for longer than boto3 retries, from an endpoint in front of the moto server."""

from __future__ import annotations

import json
import sqlite3

from aws_lake import open_aws_lake
from botocore.exceptions import ClientError, EndpointConnectionError
from dagster import DagsterEventType, DagsterInstance, ResourceParam, asset, materialize
from flaky_endpoint import flaky_endpoint

from lake_assets.cli.runs import materialize_partitions
from lake_assets.ingestion.asset_keys import registry_key_of
from lake_assets.ingestion.intake import land_payload
from lake_assets.ingestion.publish import PartialPublish
from lake_assets.runtime.retries import retried_when_transient, retry_wait, transient_cause
from lake_assets.settings import Settings, load_settings


def _client_error(code: str, status: int) -> ClientError:
    reply = {
        "Error": {"Code": code, "Message": "..."},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(reply, "PutObject")


def test_throttling_outages_and_a_busy_store_are_transient_other_errors_are_final():
    assert "SlowDown" in transient_cause(_client_error("SlowDown", 503))
    assert "ProvisionedThroughputExceededException" in transient_cause(
        _client_error("ProvisionedThroughputExceededException", 400)
    )
    assert "503" in transient_cause(_client_error("503", 503))
    assert transient_cause(EndpointConnectionError(endpoint_url="https://s3")) is not None
    assert transient_cause(sqlite3.OperationalError("database is locked")) is not None
    # Wrapped by the lake's own errors, the cause is still found.
    try:
        try:
            raise _client_error("InternalError", 500)
        except ClientError as error:
            raise RuntimeError("publishing card_transactions[2026-03-02] failed") from error
    except RuntimeError as wrapped:
        assert "InternalError" in transient_cause(wrapped)

    assert transient_cause(_client_error("AccessDenied", 403)) is None
    assert transient_cause(_client_error("NoSuchKey", 404)) is None
    assert transient_cause(sqlite3.OperationalError("no such table: catalog")) is None
    assert transient_cause(ValueError("field amount: 'abc' is not a double")) is None

    # A range whose publishing stopped part-way on an outage is tried again (publishing is
    # idempotent), one that stopped on a conflict is not.
    def stopped(error):
        try:
            raise PartialPublish("cards", ["2026-03-02"], "2026-03-03", [], error) from None
        except PartialPublish as partial:
            return partial

    assert "SlowDown" in transient_cause(stopped(_client_error("SlowDown", 503)))
    assert transient_cause(stopped(ValueError("version changed since the plan"))) is None
    assert [retry_wait(n, 30) for n in range(3)] == [30, 60, 120]


def _payload(path, date_field="transaction_date"):
    path.write_text(
        "".join(
            json.dumps({"transaction_id": f"T{i}", "amount": 1.0 + i, date_field: "2026-03-02"})
            + "\n"
            for i in range(3)
        )
    )
    return path


def _events(instance, run, kind):
    return [
        e
        for e in instance.all_logs(run.run_id)
        if e.dagster_event is not None and e.dagster_event.event_type == kind
    ]


def test_a_step_meeting_an_aws_outage_longer_than_boto3s_retries_is_tried_again_and_succeeds(
    aws_endpoint, tmp_path, monkeypatch
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # boto3's own retries: two attempts a call
    with flaky_endpoint(aws_endpoint) as (endpoint, outage):
        settings, res, _ = open_aws_lake(
            aws_endpoint,
            tmp_path,
            env={"LAKE_AWS_ENDPOINT_URL": endpoint, "LAKE_STEP_RETRY_SECONDS": "0.1"},
        )
        source = settings.source("card_transactions")
        land_payload(res["storage"], source, _payload(tmp_path / "a.json"), "2026-03-02")
        instance = DagsterInstance.ephemeral()

        outage.next_requests(2)  # both attempts of the step's first call
        run = materialize_partitions(
            settings,
            [registry_key_of("card_transactions")],
            "2026-03-02",
            resources=res,
            instance=instance,
        )
        assert run.success
        assert outage.refused == 2
        [retry] = _events(instance, run, DagsterEventType.STEP_UP_FOR_RETRY)
        assert "503" in retry.dagster_event.event_specific_data.error.cause.message
        assert len(_events(instance, run, DagsterEventType.STEP_RESTARTED)) == 1
        warnings = [
            e.user_message for e in instance.all_logs(run.run_id) if "transient" in e.user_message
        ]
        assert warnings and "(1 of 2) in 0.1 s" in warnings[0]
        # Tried twice, recorded once: one schema version, the file profiled once.
        [version] = res["registry"].versions("card_transactions")
        assert version.status == "ACTIVE"
        [done] = [
            e.step_materialization_data.materialization
            for e in run.get_asset_materialization_events()
            if e.asset_key == registry_key_of("card_transactions")
        ]
        assert done.metadata["files_profiled"].value == 1

        # An outage that outlasts the step's retries fails the run, after two waits.
        land_payload(res["storage"], source, _payload(tmp_path / "b.json"), "2026-03-03")
        outage.next_requests(2 * 3)
        run = materialize_partitions(
            settings,
            [registry_key_of("card_transactions")],
            "2026-03-03",
            resources=res,
            instance=instance,
        )
        assert not run.success
        assert len(_events(instance, run, DagsterEventType.STEP_UP_FOR_RETRY)) == 2

        # A schema break is the answer, not an accident: no retry.
        land_payload(
            res["storage"], source, _payload(tmp_path / "c.json", "txn_date"), "2026-03-04"
        )
        run = materialize_partitions(
            settings,
            [registry_key_of("card_transactions")],
            "2026-03-04",
            resources=res,
            instance=instance,
        )
        assert not run.success
        assert _events(instance, run, DagsterEventType.STEP_UP_FOR_RETRY) == []
        assert [v.status for v in res["registry"].versions("card_transactions")][-1] == "BREAKING"


def test_a_plain_asset_body_is_tried_again_only_for_its_transient_error(tmp_path):
    settings = load_settings({"LAKE_ROOT": str(tmp_path), "LAKE_STEP_RETRY_SECONDS": "0"})
    calls: list[str] = []

    @asset
    @retried_when_transient
    def flaky(context, settings: ResourceParam[Settings]) -> int:
        calls.append(context.run_id)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return len(calls)

    @asset
    @retried_when_transient
    def broken(context, settings: ResourceParam[Settings]) -> int:
        calls.append("broken")
        raise ValueError("field amount: 'abc' is not a double")

    instance = DagsterInstance.ephemeral()
    result = materialize([flaky], resources={"settings": settings}, instance=instance)
    assert result.success and result.output_for_node("flaky") == 2
    assert len(_events(instance, result, DagsterEventType.STEP_UP_FOR_RETRY)) == 1

    calls.clear()
    result = materialize(
        [broken], resources={"settings": settings}, instance=instance, raise_on_error=False
    )
    assert not result.success and calls == ["broken"]
