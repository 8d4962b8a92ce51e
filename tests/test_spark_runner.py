"""The Spark runner's contract beyond a successful asset: a job that fails where it ran fails
the run (and a `lake` command) with its own error, and `lake` commands run jobs outside any
run. The EMR Serverless path of the same is in test_emr_serverless.py."""

from __future__ import annotations

import pytest
from dagster_pipes import (
    PipesDefaultContextLoader,
    PipesDefaultMessageWriter,
    PipesMappingParamsLoader,
    PipesS3ContextLoader,
    PipesS3MessageWriter,
    encode_param,
)
from lake_harness import NOISE

from lake_assets.cli.runs import step_failures
from lake_assets.ingestion.promotion import PromotionResult
from lake_assets.ingestion.promotion_plan import plan_promotion
from lake_assets.runtime import jobs
from lake_assets.runtime.entry import mirrored, pipes_channels
from resources.spark_runner import (
    PipesSubprocessRunner,
    SparkJobFailed,
    plan_summary,
)


def promotion_of(lake, day: str, run: str) -> dict:
    """The `promote` job's plan for one day of card_transactions, as the asset makes it."""
    source = lake.settings.source("card_transactions")
    plan = plan_promotion(
        "card_transactions",
        source.event_time_field,
        source.format,
        [day],
        lake.registry.versions("card_transactions"),
        lake.registry.raw_files("card_transactions"),
        lake.storage.uri,
    )
    output = lake.storage.uri(f"curated/card_transactions/run={run}/")
    return {"plan": plan.to_dict(), "output_uri": output}


def test_a_lake_command_runs_a_job_outside_any_run_and_its_jvm_chatter_goes_to_the_log(
    lake, tmp_path, capfd
):
    lake.deliver_cards("2026-03-02", range(0, 7))
    lake.profile("card_transactions", "2026-03-02")
    log = tmp_path / "spark.log"
    capfd.readouterr()

    result = PipesSubprocessRunner(log_file=log).run_standalone(
        "promote", promotion_of(lake, "2026-03-02", "cli")
    )

    printed = "".join(capfd.readouterr())
    assert [noise for noise in NOISE if noise in printed] == []
    assert "Using incubator modules" in log.read_text()

    written = PromotionResult.from_dict(result).partitions["2026-03-02"]
    assert written.rows_published == 7 and written.files
    assert all(
        lake.storage.exists(
            f"curated/card_transactions/run=cli/_zone=published/event_date=2026-03-02/{name}"
        )
        for name in written.files
    )


def test_a_failed_job_fails_the_run_and_the_command_with_its_own_error(lake):
    lake.deliver_cards("2026-03-02", range(0, 5))
    lake.profile("card_transactions", "2026-03-02")
    # The raw object disappears behind the registry's back: Spark cannot read the plan's file.
    [landed] = lake.storage.list("raw/source=card_transactions/")
    lake.storage.delete_prefix(landed.key)
    lake.resources["spark_runner"] = PipesSubprocessRunner()

    result = lake.promote("card_transactions", "2026-03-02")

    assert not result.success
    [reason] = step_failures(result)
    # A generated source runs its pipeline's own job (issue 15).
    assert (
        "Spark job pipeline.card_transactions failed on a Pipes subprocess: AnalysisException: "
        in reason
    )
    assert "[PATH_NOT_FOUND] Path does not exist" in reason and landed.key in reason
    assert "plan.dataset=card_transactions" in reason and "plan.partitions=[2026-03-02]" in reason
    assert lake.catalog.partitions("card_transactions") == []

    with pytest.raises(SparkJobFailed, match=r"promote failed .* AnalysisException: \[PATH_NOT"):
        PipesSubprocessRunner().run_standalone("promote", promotion_of(lake, "2026-03-02", "c"))


def every_row_inline(spark, plan: dict) -> dict:
    """A job that answers with its rows in its result, as `history_as_of` once did."""
    return {"rows": [{"customer_id": f"C{n:06d}", "segment": "retail"} for n in range(plan["n"])]}


def test_a_result_too_large_for_a_pipes_message_is_refused_naming_the_job(monkeypatch):
    """A result comes back as one Pipes message, which a few MiB were seen to corrupt: every
    runner refuses a job's result over the declared limit, before it is sent (the entry point
    reports the error over Pipes as any job's own error)."""
    monkeypatch.setitem(jobs.JOBS, "rows_inline", f"{__name__}:every_row_inline")
    assert len(jobs.run_job(None, "rows_inline", {"n": 10})["rows"]) == 10

    with pytest.raises(jobs.JobResultTooLarge) as refused:
        jobs.run_job(None, "rows_inline", {"n": 30_000})
    assert str(refused.value).startswith(
        "Spark job rows_inline returned a result of 1,470,010 bytes, over the 1,048,576 a result "
        "may carry back over Pipes; a job whose result grows with its data writes it to its run "
        "folder and returns where"
    )


def test_a_plan_is_summarised_in_one_line():
    plan = {
        "plan": {
            "dataset": "card_transactions",
            "partitions": ["2026-03-01", "2026-03-02", "2026-03-03"],
            "inputs": [{"uris": ["s3://lake/raw/a.json"]}],
            "contract": None,
            "columns": {"amount": "double"},
        },
        "output_uri": "s3://lake/curated/card_transactions/run=r1/",
    }
    assert plan_summary(plan) == (
        "plan.dataset=card_transactions; plan.partitions=[2026-03-01..2026-03-03] (3); "
        "plan.inputs: 1; "
        "output_uri=s3://lake/curated/card_transactions/run=r1/"
    )
    assert len(plan_summary({"keys": ["k" * 50] * 2, "more": "x" * 500})) == 300


def test_the_entry_point_takes_the_channels_the_bootstrap_params_name(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")

    def channels(context: dict, messages: dict):
        return pipes_channels(
            PipesMappingParamsLoader(
                {
                    "DAGSTER_PIPES_CONTEXT": encode_param(context),
                    "DAGSTER_PIPES_MESSAGES": encode_param(messages),
                }
            )
        )

    loader, writer = channels(
        {"bucket": "lake", "key": "_pipes/abc/context.json"},
        {"bucket": "lake", "key_prefix": "_pipes/def"},
    )
    assert isinstance(loader, PipesS3ContextLoader) and isinstance(writer, PipesS3MessageWriter)
    loader, writer = channels({"path": "/tmp/context.json"}, {"path": "/tmp/messages"})
    assert isinstance(loader, PipesDefaultContextLoader)
    assert isinstance(writer, PipesDefaultMessageWriter)


def test_the_s3_mirror_maps_plans_there_and_results_back():
    plan = {"inputs": [{"uris": ["s3://lake/raw/a.json"]}], "output_uri": "s3://lake/run/"}
    local = "file:///mirror/"
    assert mirrored(plan, ("s3://",), local) == {
        "inputs": [{"uris": ["file:///mirror/lake/raw/a.json"]}],
        "output_uri": "file:///mirror/lake/run/",
    }
    result = {"files": ["file:/mirror/lake/run/part-0.parquet", "part-1.parquet"], "rows": 3}
    assert mirrored(result, (local, "file:/mirror/"), "s3://") == {
        "files": ["s3://lake/run/part-0.parquet", "part-1.parquet"],
        "rows": 3,
    }
