"""The platform Dagster itself runs on: `instance` says what every Dagster home of the lake
decides (telemetry, the run queue) and renders the production instance (PostgreSQL, runs as ECS
tasks, compute logs on S3) from Terraform's outputs; `cli` is `lake platform instance`. The
image that runs it is deploy/dagster/Dockerfile.
"""
