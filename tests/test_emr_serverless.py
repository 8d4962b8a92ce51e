"""A failed Spark job on EMR Serverless end to end, on moto: the aws profile's runner submits
through PipesEMRServerlessClient, the fake EMR Serverless (tests/emr_fake.py) executes the entry
point with exactly the parameters it was sent, and the job's error comes back through S3 on
moto. Jobs that succeed there, and their Pipes channels on S3: test_emr_jobs.py."""

from __future__ import annotations

from lake_assets.cli.runs import step_failures


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
