"""A failed Spark job on EMR Serverless end to end, on moto: the aws profile's runner submits
through PipesEMRServerlessClient, the fake EMR Serverless (tests/emr_fake.py) executes the entry
point with exactly the parameters it was sent, and the job's error comes back through S3 on
moto; and the EMR alarm's runbook section, answered there. Jobs that succeed there, and their
Pipes channels on S3: test_emr_jobs.py."""

from __future__ import annotations

import hashlib
import json

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from runbook_harness import run_runbook

from lake_assets.cli.main import main
from lake_assets.cli.runs import step_failures
from lake_assets.runtime.deploy import ENTRY_SCRIPT_KEY, MANIFEST_KEY


def test_a_failed_job_on_emr_serverless_fails_the_run_with_its_own_error(emr_lake):
    emr_lake.deliver_cards("2026-03-02", range(0, 5))
    assert emr_lake.profile("card_transactions", "2026-03-02").success
    # The raw object disappears behind the registry's back: Spark cannot read the plan's file.
    [landed] = emr_lake.storage.list("raw/source=card_transactions/")
    emr_lake.emr.s3.delete_object(Bucket="lake", Key=landed.key)

    result = emr_lake.promote("card_transactions", "2026-03-02")

    assert not result.success
    [run] = emr_lake.emr.runs
    assert run.state == "FAILED"
    [reason] = step_failures(result)
    # A generated source runs its pipeline's own job (issue 15).
    assert "Spark job pipeline.card_transactions failed on EMR Serverless application" in reason
    assert "AnalysisException: [PATH_NOT_FOUND] Path does not exist" in reason
    assert "plan.dataset=card_transactions" in reason and "plan.partitions=[2026-03-02]" in reason
    assert emr_lake.catalog.partitions("card_transactions") == []


def deploy_a_broken_build(emr_lake) -> None:
    """What a deploy from a broken checkout leaves in _code/: an entry script that fails at
    import, recorded in the manifest (so the runner submits it) as a deploy records its code.
    Written with a client of the test's own: CI's deploy role writes _code/, not the code's."""
    broken = b"from lake_assets.runtime.jobs import run_job_renamed  # a rename half made\n"
    bucket, key = emr_lake.storage.uri(MANIFEST_KEY).removeprefix("s3://").split("/", 1)
    manifest = json.loads(emr_lake.emr.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    manifest["artifacts"]["entry_point"].update(
        sha256=hashlib.sha256(broken).hexdigest(), bytes=len(broken)
    )
    emr_lake.written_by_aws(ENTRY_SCRIPT_KEY, broken)
    emr_lake.written_by_aws(MANIFEST_KEY, json.dumps(manifest).encode())


def test_the_emr_alarm_a_broken_deploy_fixed_and_its_run_re_executed_from_failure(
    emr_lake, tmp_path
):
    """alarm-response.md's EMR section, on the aws profile: a broken build deployed fails the
    promotion's job on EMR Serverless and its run. `lake runs failed` names the job's failure,
    `lake deploy` uploads the entry script of these sources, and `lake runs reexecute` submits
    the job again from the failed step, which publishes the day."""
    day = "2026-03-02"
    emr_lake.deliver_cards(day, range(0, 5))
    assert emr_lake.profile("card_transactions", day).success
    deploy_a_broken_build(emr_lake)
    (tmp_path / "home").mkdir()
    env = {**emr_lake.env, "DAGSTER_HOME": str(tmp_path / "home")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main(["promote", "--source", "card_transactions", "--date", day]) == 1
    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    [failed] = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.FAILURE]))
    assert [run.state for run in emr_lake.emr.runs] == ["FAILED"]
    assert "ImportError" in emr_lake.emr.runs[0].driver_log

    variables = {"SOURCE": "card_transactions", "DAY": day, "RUN": failed.run_id}
    run_runbook("alarm-response", variables, env, sections=["EMR Serverless job runs failed"])

    assert [run.state for run in emr_lake.emr.runs] == ["FAILED", "SUCCESS"]
    [again] = [run for run in instance.get_runs() if run.parent_run_id == failed.run_id]
    assert again.status == DagsterRunStatus.SUCCESS
    assert emr_lake.catalog.current("card_transactions", day).run_id == again.run_id
    assert emr_lake.catalog.current("card_transactions", day).row_count == 5
