"""Entry script of the promotion job when it runs outside the orchestrator (EMR Serverless,
or a subprocess in tests). It receives the plan over Dagster Pipes, runs the same `promote`
function the local path runs, and reports the result back as a Pipes message."""

from __future__ import annotations

from dagster_pipes import open_dagster_pipes
from pyspark.sql import SparkSession

from lake_assets.ingestion.promotion import promote
from lake_assets.ingestion.promotion_plan import PromotionPlan


def main() -> None:
    with open_dagster_pipes() as pipes:
        plan = PromotionPlan.from_dict(pipes.get_extra("plan"))
        spark = (
            SparkSession.builder.appName(f"lakehouse-promote-{plan.dataset}")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        pipes.log.info(f"promoting {plan.dataset} {plan.partitions[0]}..{plan.partitions[-1]}")
        result = promote(spark, plan, pipes.get_extra("output_uri"))
        pipes.report_custom_message(result.to_dict())


if __name__ == "__main__":
    main()
