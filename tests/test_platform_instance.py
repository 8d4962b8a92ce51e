"""Dagster's production instance: dagster.yaml rendered from Terraform's outputs by
`lake platform instance`, loaded with Dagster's own validation, and run on PostgreSQL (a server
the tests start, tests/postgres.py) with the ECS run launcher and S3 compute logs on the moto
server, as the daemon, webserver and runs would load it from DAGSTER_HOME."""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
import yaml

from lake_assets.cli.main import main
from lake_assets.config import ConfigError
from lake_assets.platform.instance import (
    LOCAL_MAX_CONCURRENT_RUNS,
    PG_PASSWORD_ENV,
    PG_USERNAME_ENV,
    PRODUCTION_MAX_CONCURRENT_RUNS,
    load_instance_output,
)

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0a1b2c-AbCdEf"
TASK_DEFINITION = "lakehouse-dagster-run"
CLUSTER = "lakehouse-dagster"
LOGS_BUCKET = "lakehouse-dagster-logs"


def instance_output(hostname="lakehouse-dagster.c0ffee.eu-west-1.rds.amazonaws.com", port=5432):
    """The `dagster_instance` output as terraform/outputs.tf declares it."""
    return {
        "region": "eu-west-1",
        "postgres": {
            "hostname": hostname,
            "port": port,
            "db_name": "dagster",
            "secret_arn": SECRET_ARN,
        },
        "run_launcher": {
            "cluster": CLUSTER,
            "task_definition": TASK_DEFINITION,
            "container_name": "run",
            "subnets": ["subnet-0aaa", "subnet-0bbb"],
            "security_groups": ["sg-0run"],
        },
        "compute_logs": {"bucket": LOGS_BUCKET, "prefix": "compute-logs"},
        "webserver_url": "https://dagster.lake.example.bank",
    }


def write_outputs(path: Path, value: dict | None) -> Path:
    """A file as `terraform output -json` writes it, with another output beside ours."""
    outputs = {"lake_env": {"sensitive": False, "type": "object", "value": {"LAKE_PROFILE": "aws"}}}
    if value is not None:
        outputs["dagster_instance"] = {"sensitive": False, "type": "object", "value": value}
    path.write_text(json.dumps(outputs, indent=2))
    return path


def render(tmp_path: Path, value: dict) -> Path:
    """`lake platform instance --outputs ... --out <home>/dagster.yaml`; the home's folder."""
    home = tmp_path / "dagster_home"
    outputs = write_outputs(tmp_path / "outputs.json", value)
    assert main(["platform", "instance", "--outputs", str(outputs), "--out", str(home / "dagster.yaml")]) == 0  # fmt: skip
    return home


def test_the_rendered_instance_passes_dagsters_validation_with_its_classes(tmp_path, monkeypatch):
    from dagster._config import process_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._core.instance.ref import InstanceRef
    from dagster._serdes.config_class import class_from_code_pointer

    home = render(tmp_path, instance_output())
    config, custom_class = dagster_instance_config(str(home))  # what DagsterInstance.get() runs
    assert custom_class is None
    ref = InstanceRef.from_dir(str(home))
    classes = {
        "storage": ref.storage_data,
        "run_launcher": ref.run_launcher_data,
        "run_coordinator": ref.run_coordinator_data,
        "compute_logs": ref.compute_logs_data,
    }
    resolved = {name: f"{data.module_name}.{data.class_name}" for name, data in classes.items()}
    assert resolved == {
        "storage": "dagster_postgres.DagsterPostgresStorage",
        "run_launcher": "dagster_aws.ecs.EcsRunLauncher",
        "run_coordinator": "dagster._core.run_coordinator.QueuedRunCoordinator",
        "compute_logs": "dagster_aws.s3.compute_log_manager.S3ComputeLogManager",
    }
    # Each class's own config schema, as Dagster applies it when it builds the class; the
    # credentials' variables must be set by then (ECS sets them from the secret).
    monkeypatch.setenv(PG_USERNAME_ENV, "dagster")
    monkeypatch.setenv(PG_PASSWORD_ENV, "from-the-secret")
    for data in classes.values():
        klass = class_from_code_pointer(data.module_name, data.class_name)
        checked = process_config(klass.config_type(), yaml.safe_load(data.config_yaml))
        assert checked.success, (data.class_name, checked.errors)

    launcher = config["run_launcher"]["config"]
    assert launcher["task_definition"] == TASK_DEFINITION  # Terraform's; none registered
    assert launcher["use_current_ecs_task_config"] is False
    assert launcher["run_task_kwargs"]["networkConfiguration"]["awsvpcConfiguration"] == {
        "subnets": ["subnet-0aaa", "subnet-0bbb"],
        "securityGroups": ["sg-0run"],
        "assignPublicIp": "DISABLED",
    }
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == PRODUCTION_MAX_CONCURRENT_RUNS
    assert config["telemetry"] == {"enabled": False}
    assert config["run_monitoring"]["enabled"] is True

    # The credentials are named, never written: the file holds no secret value.
    text = (home / "dagster.yaml").read_text()
    postgres = yaml.safe_load(text)["storage"]["postgres"]["postgres_db"]
    assert postgres["username"] == {"env": PG_USERNAME_ENV}
    assert postgres["password"] == {"env": PG_PASSWORD_ENV}
    assert "password:" not in text.replace("password:\n        env:", "")


def test_the_production_instance_retries_a_run_whose_worker_died_but_not_a_failed_asset(tmp_path):
    """Dagster's own retry decision, on an instance with the rendered `run_retries`: a run
    whose Fargate task stopped under it is launched again; a run whose asset failed is not."""
    from dagster import DagsterInstance, DagsterRunStatus
    from dagster._core.events import RunFailureReason
    from dagster._core.execution.retries import auto_reexecution_should_retry_run
    from dagster._core.test_utils import create_run_for_test

    production = yaml.safe_load((render(tmp_path, instance_output()) / "dagster.yaml").read_text())
    with DagsterInstance.local_temp(
        str(tmp_path), overrides={"run_retries": production["run_retries"]}
    ) as instance:
        run = create_run_for_test(instance, job_name="curated", status=DagsterRunStatus.FAILURE)
        # The worker stopped mid-run, or its task never started (run monitoring's timeout).
        for died in (RunFailureReason.UNEXPECTED_TERMINATION, RunFailureReason.START_TIMEOUT):
            assert auto_reexecution_should_retry_run(instance, run, died)
        assert not auto_reexecution_should_retry_run(instance, run, RunFailureReason.STEP_FAILURE)
        assert instance.run_retries_max_retries == 2


def test_a_local_home_and_the_production_instance_share_their_settings(tmp_path):
    from lake_assets.cli.runs import set_up_dagster_home

    local_home = tmp_path / "local"
    assert set_up_dagster_home(local_home) == ["telemetry", "concurrency"]
    local = yaml.safe_load((local_home / "dagster.yaml").read_text())
    production = yaml.safe_load((render(tmp_path, instance_output()) / "dagster.yaml").read_text())
    assert local["telemetry"] == production["telemetry"]
    assert local["concurrency"] == {"runs": {"max_concurrent_runs": LOCAL_MAX_CONCURRENT_RUNS}}
    assert production["concurrency"]["runs"].keys() == local["concurrency"]["runs"].keys()
    assert "storage" not in local  # the embedded default stays SQLite


def test_the_command_prints_the_instance_without_out(tmp_path, capsys):
    outputs = write_outputs(tmp_path / "outputs.json", instance_output())
    assert main(["platform", "instance", "--outputs", str(outputs)]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["run_launcher"]["class"] == "EcsRunLauncher"


@pytest.mark.parametrize(
    ("value", "key", "reason"),
    [
        (None, "dagster_instance", "required: the output terraform/outputs.tf declares"),
        (
            {k: v for k, v in instance_output().items() if k != "compute_logs"},
            "dagster_instance.value.compute_logs",
            "required",
        ),
        (
            {
                **instance_output(),
                "run_launcher": {**instance_output()["run_launcher"], "subnets": []},
            },
            "dagster_instance.value.run_launcher.subnets",
            "must not be empty",
        ),
        (
            {**instance_output(), "postgres": {**instance_output()["postgres"], "port": "5432"}},
            "dagster_instance.value.postgres.port",
            "must be a whole number",
        ),
    ],
)
def test_outputs_without_what_the_instance_needs_are_refused_naming_the_key(
    tmp_path, capsys, value, key, reason
):
    outputs = write_outputs(tmp_path / "outputs.json", value)
    with pytest.raises(ConfigError) as raised:
        load_instance_output(outputs)
    assert (raised.value.file, raised.value.key) == (str(outputs), key)
    assert raised.value.reason.startswith(reason)
    # The command says the same and writes nothing.
    out = tmp_path / "dagster.yaml"
    assert main(["platform", "instance", "--outputs", str(outputs), "--out", str(out)]) == 2
    assert f"{outputs}: {key}: {reason}" in capsys.readouterr().err
    assert not out.exists()


def provision_dagster_aws(endpoint: str) -> dict:
    """What Terraform creates for the instance, on the moto server: the private subnets and the
    runs' security group, the ECS cluster, the run task definition with its "run" container, the
    compute logs' bucket; the `dagster_instance` output's networking for them."""
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="eu-west-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    # As the bank's VPC has it for its interface endpoints (and moto's ECS needs it for awsvpc).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"]
        for i in (1, 2)
    ]
    group = ec2.create_security_group(GroupName="dagster-run", Description="runs", VpcId=vpc)
    ecs = boto3.client("ecs", endpoint_url=endpoint, region_name="eu-west-1")
    ecs.create_cluster(clusterName=CLUSTER)
    ecs.register_task_definition(
        family=TASK_DEFINITION,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="1024",
        memory="4096",
        # Container-level cpu and memory as well: moto sums them when it places a task.
        containerDefinitions=[
            {"name": "run", "image": "lakehouse-dagster:test", "cpu": 1024, "memory": 4096}
        ],
    )
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="eu-west-1")
    s3.create_bucket(
        Bucket=LOGS_BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return {"subnets": subnets, "security_groups": [group["GroupId"]]}


@pytest.fixture
def production_home(tmp_path, postgres_server, aws_endpoint, monkeypatch):
    """DAGSTER_HOME holding the rendered dagster.yaml, pointed at the local PostgreSQL server
    (credentials in the environment, as ECS sets them) and the moto server (AWS_ENDPOINT_URL,
    which boto3 honours, as Dagster's own AWS classes build their clients)."""
    network = provision_dagster_aws(aws_endpoint)
    output = instance_output(postgres_server.host, postgres_server.port)
    output["run_launcher"].update(network)
    home = render(tmp_path, output)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv(PG_USERNAME_ENV, postgres_server.username)
    monkeypatch.setenv(PG_PASSWORD_ENV, postgres_server.password)
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_endpoint)
    return home


def test_the_postgresql_instance_records_a_lake_materialization(
    production_home, postgres_server, local_lake, tmp_path
):
    from dagster import DagsterInstance, DagsterRunStatus
    from dagster_aws.ecs import EcsRunLauncher
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    from lake_assets.cli.runs import materialize_partitions
    from lake_assets.ingestion.asset_keys import raw_key_of, registry_key_of
    from lake_assets.ingestion.intake import land_payload

    settings, resources = local_lake
    payload = tmp_path / "cards.json"
    payload.write_text(
        json.dumps({"transaction_id": "T1", "amount": 1.5, "transaction_date": "2026-03-02"}) + "\n"
    )
    land_payload(resources["storage"], settings.source("card_transactions"), payload, "2026-03-02")
    key = registry_key_of("card_transactions")

    # As a `lake` command records its runs: the instance of DAGSTER_HOME, from that very file.
    result = materialize_partitions(settings, [key], "2026-03-02", resources=resources)
    assert result.success

    # In PostgreSQL: the run, succeeded, and its materialization of the day's partition.
    with postgres_server.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status FROM runs WHERE run_id = %s", (result.run_id,))
        assert cursor.fetchall() == [("SUCCESS",)]
        cursor.execute(
            "SELECT asset_key, partition FROM event_logs"
            " WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'",
            (result.run_id,),
        )
        # The profiling run materializes the day's raw payloads and their registry profile.
        assert sorted(cursor.fetchall()) == [
            (raw_key_of("card_transactions").to_string(), "2026-03-02"),
            (key.to_string(), "2026-03-02"),
        ]

    # Reopened from DAGSTER_HOME, as the webserver and daemon open it: the classes the file
    # names, built against PostgreSQL and the moto server.
    instance = DagsterInstance.get()
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert instance.get_run_by_id(result.run_id).status == DagsterRunStatus.SUCCESS
    [latest] = instance.fetch_materializations(key, limit=1).records
    assert latest.run_id == result.run_id and latest.partition_key == "2026-03-02"
    launcher = instance.run_launcher
    assert isinstance(launcher, EcsRunLauncher)
    assert launcher.task_definition.endswith(f":task-definition/{TASK_DEFINITION}:1")
    assert isinstance(instance.compute_log_manager, S3ComputeLogManager)


def test_the_ecs_run_launcher_starts_a_run_as_a_task_of_terraforms_definition(
    production_home, aws_endpoint, local_lake
):
    """The daemon's launch of a queued run, through the rendered launcher against moto's ECS:
    one task of the "run" task definition, in the cluster of the output, whose "run"
    container's command executes that run; no task definition registered. Then the test plays
    ECS, as tests/emr_fake.py plays EMR: it runs that command, and the run worker records the
    run in PostgreSQL and ships its step's output to the compute logs' bucket."""
    import subprocess
    import sys

    from dagster import AssetCheckKey, DagsterInstance, DagsterRunStatus
    from dagster._core.test_utils import create_run_for_test, in_process_test_workspace
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    from lake_assets.ingestion.asset_keys import registry_key_of
    from lake_assets.ingestion.intake import land_payload

    settings, resources = local_lake
    payload = Path(os.environ["LAKE_ROOT"]).parent / "cards.json"
    payload.write_text(
        json.dumps({"transaction_id": "T1", "amount": 1.5, "transaction_date": "2026-03-02"}) + "\n"
    )
    land_payload(resources["storage"], settings.source("card_transactions"), payload, "2026-03-02")
    instance = DagsterInstance.get()
    code = LoadableTargetOrigin(
        executable_path=sys.executable,
        module_name="lake_assets.definitions",
        working_directory=str(Path(__file__).resolve().parents[1]),
    )
    with in_process_test_workspace(instance, code) as workspace:
        [location_name] = workspace.code_location_names
        location = workspace.get_code_location(location_name)
        [repository] = location.get_repositories().values()
        job = repository.get_full_job("profile")
        # A day's profiling, as the arrivals sensor requests it.
        run = create_run_for_test(
            instance,
            job_name="profile",
            tags={"dagster/partition": "2026-03-02"},
            asset_selection=frozenset({registry_key_of("card_transactions")}),
            asset_check_selection=frozenset(
                {AssetCheckKey(registry_key_of("card_transactions"), "schema_compatible")}
            ),
            remote_job_origin=job.get_remote_origin(),
            job_code_origin=job.get_python_origin(),
        )
        instance.launch_run(run.run_id, workspace)

    ecs = boto3.client("ecs", endpoint_url=aws_endpoint, region_name="eu-west-1")
    [task_arn] = ecs.list_tasks(cluster=CLUSTER)["taskArns"]
    [task] = ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn], include=["TAGS"])["tasks"]
    assert task["taskDefinitionArn"].endswith(f":task-definition/{TASK_DEFINITION}:1")
    assert ecs.list_task_definitions()["taskDefinitionArns"] == [task["taskDefinitionArn"]]
    [container] = task["overrides"]["containerOverrides"]
    assert container["name"] == "run"
    command = container["command"]
    # The `dagster` console script of the image (tests/test_dockerfile.py checks it is one).
    assert command[:3] == ["dagster", "api", "execute_run"]
    assert run.run_id in command[3]
    assert {"key": "dagster/run_id", "value": run.run_id} in task["tags"]
    assert task["launchType"] == "FARGATE" and task["clusterArn"].endswith(f"/{CLUSTER}")
    # The run records where it runs, for run monitoring and termination.
    tags = instance.get_run_by_id(run.run_id).tags
    assert tags["ecs/task_arn"] == task_arn

    # Playing ECS: the run container executes exactly that command, in the environment its
    # task definition gives it (the instance's variables, the lake's settings).
    done = subprocess.run(
        [str(Path(sys.executable).parent / command[0]), *command[1:]],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    events = [
        (e.message, str(e.dagster_event.event_specific_data)[:2000] if e.dagster_event else "")
        for e in instance.all_logs(run.run_id)
    ]
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS, events
    [latest] = instance.fetch_materializations(
        registry_key_of("card_transactions"), limit=1
    ).records
    assert latest.run_id == run.run_id and latest.partition_key == "2026-03-02"
    # The run worker's step output went to the compute logs' bucket.
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name="eu-west-1")
    logs = s3.list_objects_v2(Bucket=LOGS_BUCKET, Prefix="compute-logs/").get("Contents", [])
    assert any(run.run_id in item["Key"] for item in logs), [item["Key"] for item in logs]
