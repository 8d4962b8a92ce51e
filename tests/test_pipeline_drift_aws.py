"""Drift of a generated pipeline down to what is deployed: the comparison itself (pure), then on
the moto server a stale Glue stamp found by the `generated_code_current` check as Dagster runs
it, fixed by `lake deploy --config`, and the deploy's refusal naming everything missing.

The repository is a tiny one in tmp_path (one pipeline, fx_rates, its spec copied from
pipelines/), so the deploy builds a small wheel rather than the project's."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from aws_lake import REGION, open_aws_lake
from dagster import AssetMaterialization, AssetSpec, DagsterInstance, Definitions
from dagster._core.definitions.data_version import CODE_VERSION_TAG

from lake_assets.cli.main import main
from lake_assets.ingestion.asset_keys import curated_key_of
from lake_assets.pipelines.checks import current_spec_hash, current_template_version
from lake_assets.pipelines.definitions import pipelines_definitions
from lake_assets.pipelines.deploy import glue_table_input
from lake_assets.pipelines.drift import (
    DEPLOYED_OUTDATED,
    EDITED_BY_HAND,
    GLUE_PREFIX,
    LOADED_OUTDATED,
    MISSING,
    NOT_DEPLOYED,
    OUTDATED_TEMPLATE,
    RUNS_OUTDATED,
    SPEC_CHANGED,
    DeployedStamp,
    GeneratedFile,
    Repository,
    compare,
    read_repository,
    repository_findings,
)
from lake_assets.pipelines.stamp import Generation, body_of, digest, read_stamp, stamped
from lake_assets.runtime.deploy import require_deployed_code

REPO_ROOT = Path(__file__).resolve().parents[1]
NAME = "fx_rates"
SPEC = f"pipelines/{NAME}.yaml"
OLD = Generation(1, "0123456789abcdef")


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repository with the fx_rates spec, its generated files and what `lake deploy` builds
    the code from (a pyproject shipping lake_pipelines, the entry script, the image folder)."""
    root = tmp_path / "repo"
    for path in (SPEC, f"pipelines/contracts/{NAME}.yaml", "lake_assets/runtime/entry.py"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / path, root / path)
    shutil.copytree(REPO_ROOT / "deploy", root / "deploy")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "lakehouse"\nversion = "0.0.1"\n'
        '[tool.setuptools.packages.find]\ninclude = ["lake_pipelines*"]\n'
    )
    # The pipeline's generated files as `lake generate` wrote them into the repository.
    for folder in (f"lake_pipelines/{NAME}", f"terraform/pipelines/{NAME}"):
        shutil.copytree(REPO_ROOT / folder, root / folder)
    return root


def _file(path: str, text: str) -> GeneratedFile:
    return GeneratedFile(path, read_stamp(text), digest(body_of(text)))


def test_each_kind_of_drift_is_found_and_named():
    now = Generation(2, "feedfacefeedface")
    source = f"lake_pipelines/{NAME}/source.yaml"
    job = f"lake_pipelines/{NAME}/job.py"
    repository = Repository(
        NAME,
        (
            _file(source, stamped("sources: {}\n", OLD, SPEC)),
            _file(job, stamped("x = 1\n", OLD, SPEC) + "y = 2\n"),
        ),
        spec_hash=now.spec_hash,
        template_version=now.template_version,
    )
    assert repository.generation == OLD
    deployed = [
        DeployedStamp("glue table lake.fx_rates", now),
        DeployedStamp("s3://lake/_code/deploy.json", None),
        DeployedStamp("s3://lake/_pipelines/fx_rates.json", OLD),
    ]
    findings = compare(repository, now, deployed, "t0-0000")
    assert sorted((f.kind, f.artifact) for f in findings) == [
        (DEPLOYED_OUTDATED, "glue table lake.fx_rates"),
        (EDITED_BY_HAND, job),
        (LOADED_OUTDATED, "code location"),
        (NOT_DEPLOYED, "s3://lake/_code/deploy.json"),
        (OUTDATED_TEMPLATE, job),
        (OUTDATED_TEMPLATE, source),
        (RUNS_OUTDATED, f"curated/{NAME} latest materialization"),
        (SPEC_CHANGED, SPEC),
    ]
    assert findings[-1].line() == (
        f"{RUNS_OUTDATED} curated/{NAME} latest materialization: t0-0000, expected "
        f"{OLD.code_version}"
    )
    current = Repository(NAME, (_file(source, stamped("{}\n", now, SPEC)),), now.spec_hash, 2)
    assert compare(current, now, [DeployedStamp("glue", now)], now.code_version) == []


@pytest.fixture
def aws_repo(aws_endpoint, tmp_path, repo, monkeypatch):
    env = {"LAKE_PIPELINES_DIR": str(repo / "lake_pipelines")}
    settings, resources, _ = open_aws_lake(aws_endpoint, tmp_path, env)
    variables = {
        "LAKE_PROFILE": "aws",
        "LAKE_ROOT": str(tmp_path / "unused"),
        "LAKE_AWS_ENDPOINT_URL": aws_endpoint,
        "LAKE_S3_BUCKET": "lake",
        "LAKE_ALERT_TOPIC_ARN": settings.aws.alert_topic_arn,
        "LAKE_EMR_APPLICATION_ID": "00fakeapp",
        "LAKE_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/promotion",
        **env,
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return settings, resources, repo


def _check(settings, resources, instance=None) -> tuple[bool, str]:
    """The drift check as the `pipeline_drift` job runs it: passed, and its findings."""
    defs = Definitions.merge(
        pipelines_definitions(settings),
        Definitions(assets=[AssetSpec(curated_key_of(NAME))], resources=resources),
    )
    result = defs.resolve_job_def("pipeline_drift").execute_in_process(
        instance=instance or DagsterInstance.ephemeral()
    )
    [evaluation] = result.get_asset_check_evaluations()
    return evaluation.passed, evaluation.metadata["findings"].value


def test_a_stale_glue_stamp_is_drift_until_lake_deploy_config_stamps_it(
    aws_repo, aws_endpoint, monkeypatch, tmp_path, capsys
):
    settings, resources, repo = aws_repo
    assert settings.sources[NAME].generation is not None  # loaded from the generated stamp
    glue = boto3.client("glue", endpoint_url=aws_endpoint, region_name=REGION)
    glue.create_table(
        DatabaseName=settings.aws.glue_database,
        TableInput={
            "Name": NAME,
            "Parameters": {
                "lake_pipeline.template_version": "1",
                "lake_pipeline.spec_hash": OLD.spec_hash,
                "lake_superseded": "[]",
            },
            "StorageDescriptor": {"Columns": [{"Name": "rate", "Type": "double"}]},
        },
    )

    # The latest materialization ran the code of an older generation.
    instance = DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        AssetMaterialization(curated_key_of(NAME), tags={CODE_VERSION_TAG: OLD.code_version})
    )
    passed, findings = _check(settings, resources, instance)
    assert not passed
    assert f"{RUNS_OUTDATED} curated/{NAME} latest materialization: {OLD.code_version}" in findings
    table = f"glue table {settings.aws.glue_database}.{NAME}"
    assert f"{DEPLOYED_OUTDATED} {table}: {OLD.code_version}" in findings
    assert f"{NOT_DEPLOYED} s3://lake/_code/deploy.json" in findings
    assert f"{NOT_DEPLOYED} s3://lake/_pipelines/{NAME}.json" in findings

    monkeypatch.setenv("PATH", str(tmp_path / "no-terraform"))  # the deploy without terraform
    assert main(["deploy", "--config", str(repo / SPEC)]) == 1
    out = capsys.readouterr().out
    assert f"{table}: stamped" in out
    assert f"terraform not installed: terraform/pipelines/{NAME} not planned" in out
    parameters = glue.get_table(DatabaseName=settings.aws.glue_database, Name=NAME)["Table"][
        "Parameters"
    ]
    assert parameters["lake_superseded"] == "[]"  # the orchestrator's parameters are kept
    # Deployed again: nothing to stamp. A table no publish created yet is created from the
    # generated TableInput, in the lake's location.
    catalog = resources["catalog"]
    table_input = glue_table_input(repo, read_repository(repo, NAME, None, 0))
    assert catalog.ensure_table(table_input, GLUE_PREFIX) == "unchanged"
    assert catalog.ensure_table({**table_input, "Name": "fx_new"}, GLUE_PREFIX) == "created"
    created = catalog.table("fx_new")
    assert created["StorageDescriptor"]["Location"] == "s3://lake/curated/fx_new/"
    assert created["Parameters"]["lake_pipeline.spec_hash"] == parameters["lake_pipeline.spec_hash"]
    # The pipeline's EMR job runs are tagged with the deployed code's generation.
    current = settings.sources[NAME].generation
    assert require_deployed_code(resources["storage"], f"pipeline.{NAME}") == {
        "lake_pipeline": NAME,
        "lake_template_version": str(current.template_version),
        "lake_spec_hash": current.spec_hash,
    }
    assert require_deployed_code(resources["storage"], "promote") == {}

    # What the applied module writes (terraform/pipelines/<name>/main.tf): the stamp object.
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name=REGION)
    stamp = {
        "pipeline": NAME,
        "spec_hash": current.spec_hash,
        "template_version": current.template_version,
    }
    s3.put_object(Bucket="lake", Key=f"_pipelines/{NAME}.json", Body=json.dumps(stamp).encode())
    assert _check(settings, resources) == (True, "none")

    # With terraform (a stand-in noting its arguments) and an initialised terraform/, the deploy
    # applies the pipeline's module and the notification its prefix joins.
    bin_dir, calls = tmp_path / "bin", tmp_path / "terraform-calls"
    bin_dir.mkdir()
    (bin_dir / "terraform").write_text(f'#!/bin/sh\necho "$PWD $*" >> {calls}\n')
    (bin_dir / "terraform").chmod(0o755)
    (repo / "terraform" / ".terraform").mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    variables = repo / "terraform" / "env" / "prod.tfvars"  # the environment's variables
    argv = ["deploy", "--config", str(repo / SPEC), "--apply", "--var-file", str(variables)]
    assert main(argv) == 2  # the file is missing: refused, nothing run
    assert f"no variables file {variables}" in capsys.readouterr().err
    assert not calls.exists()
    variables.parent.mkdir(exist_ok=True)
    variables.write_text('environment = "prod"\n')
    assert main(argv) == 0
    assert f"terraform/pipelines/{NAME} applied" in capsys.readouterr().out
    assert calls.read_text().split() == [
        str(repo / "terraform"),
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        f"-var-file={variables}",
        f"-target=module.pipeline_{NAME}",
        "-target=aws_s3_bucket_notification.lake",
    ]


def test_lake_deploy_config_refuses_naming_everything_missing(repo, monkeypatch, tmp_path, capsys):
    job = repo / f"lake_pipelines/{NAME}/__init__.py"
    job.write_text(job.read_text() + "EDITED = True\n")
    monkeypatch.setenv("LAKE_PROFILE", "local")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("PATH", str(tmp_path / "no-terraform"))
    assert main(["deploy", "--config", str(repo / SPEC)]) == 2
    refusal = capsys.readouterr().err
    assert f"refusing to deploy pipeline {NAME}; missing:" in refusal
    for missing in (
        "- LAKE_PROFILE=aws",
        f"- a clean `lake generate --check` of {NAME}: {EDITED_BY_HAND} lake_pipelines/{NAME}/__init__.py",
        "- AWS credentials",
        f"- terraform not installed: terraform/pipelines/{NAME} not planned",
    ):
        assert missing in refusal


def test_a_deleted_generated_file_is_drift_and_refuses_the_deploy(repo, monkeypatch, capsys):
    spec = repo / SPEC

    def findings() -> list[tuple[str, str]]:
        repository = read_repository(
            repo, NAME, current_spec_hash(spec), current_template_version()
        )
        return [(finding.kind, finding.artifact) for finding in repository_findings(repository)]

    assert findings() == []
    # Deleted files leave no stamp behind: only the list of what is generated shows them.
    job, module = f"lake_pipelines/{NAME}/job.py", f"terraform/pipelines/{NAME}/main.tf"
    (repo / job).unlink()
    (repo / module).unlink()
    assert findings() == [(MISSING, job), (MISSING, module)]

    monkeypatch.setenv("LAKE_PROFILE", "local")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert main(["deploy", "--config", str(spec)]) == 2
    refusal = capsys.readouterr().err
    for path in (job, module):
        assert f"- a clean `lake generate --check` of {NAME}: {MISSING} {path}: absent" in refusal
