"""`lake deploy` against the moto server, the runner's refusal of a job whose code is missing, and
the job runtime (EMR release, Python, image packages) declared alike in code, image and Terraform.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import boto3
import hcl2
import pytest
from dagster import asset, materialize

from lake_assets.cli.main import main
from lake_assets.runtime.deploy import (
    EMR_RELEASE,
    ENTRY_SCRIPT_KEY,
    JOB_PYTHON,
    MANIFEST_KEY,
    PACKAGE_KEY,
    CodeNotDeployed,
    require_deployed_code,
    runtime_image_tag,
)
from lake_assets.settings import load_settings
from resources import build_resources

REPO_ROOT = Path(__file__).resolve().parents[1]
REGION = "eu-west-1"
RUNTIME_IMAGE = REPO_ROOT / "deploy" / "emr"


@pytest.fixture
def aws_env(aws_endpoint, tmp_path, monkeypatch):
    """The aws profile's environment over moto: a versioned lake bucket and an EMR Serverless
    application of the release the code expects."""
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name=REGION)
    s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket="lake", VersioningConfiguration={"Status": "Enabled"})
    emr = boto3.client("emr-serverless", endpoint_url=aws_endpoint, region_name=REGION)
    application = emr.create_application(name="lake", releaseLabel=EMR_RELEASE, type="SPARK")
    env = {
        "LAKE_PROFILE": "aws",
        "LAKE_ROOT": str(tmp_path / "unused"),
        "AWS_DEFAULT_REGION": REGION,
        "LAKE_AWS_ENDPOINT_URL": aws_endpoint,
        "LAKE_S3_BUCKET": "lake",
        "LAKE_ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:123456789012:schema-drift-alerts",
        "LAKE_EMR_APPLICATION_ID": application["applicationId"],
        "LAKE_EMR_EXECUTION_ROLE_ARN": "arn:aws:iam::123456789012:role/promotion",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return s3, emr, application["applicationId"]


def _object(s3, key: str) -> bytes:
    return s3.get_object(Bucket="lake", Key=key)["Body"].read()


def _versions(s3, key: str) -> int:
    listed = s3.list_object_versions(Bucket="lake", Prefix=key).get("Versions", [])
    return sum(1 for version in listed if version["Key"] == key)


def test_lake_deploy_uploads_the_code_once_and_the_runner_finds_it(aws_env, capsys):
    s3, _, _ = aws_env
    assert main(["deploy"]) == 0
    first = capsys.readouterr().out
    for key in (PACKAGE_KEY, ENTRY_SCRIPT_KEY, MANIFEST_KEY):
        assert f"uploaded s3://lake/{key} " in first

    manifest = json.loads(_object(s3, MANIFEST_KEY))
    assert manifest["emr_release"] == EMR_RELEASE and manifest["python"] == JOB_PYTHON
    assert manifest["runtime_image_tag"] == runtime_image_tag()
    assert f"job runtime image tag: {runtime_image_tag()}" in first
    for name, key in (("entry_point", ENTRY_SCRIPT_KEY), ("package", PACKAGE_KEY)):
        recorded, data = manifest["artifacts"][name], _object(s3, key)
        assert recorded["key"] == key and recorded["bytes"] == len(data)
        assert recorded["sha256"] == hashlib.sha256(data).hexdigest()
    # The entry point is the local script; the package is this project's wheel, built from the
    # local sources, and a zip whose root holds the packages (what --py-files puts on the path).
    entry = REPO_ROOT / "lake_assets" / "runtime" / "entry.py"
    assert _object(s3, ENTRY_SCRIPT_KEY) == entry.read_bytes()
    wheel = zipfile.ZipFile(io.BytesIO(_object(s3, PACKAGE_KEY)))
    assert manifest["artifacts"]["package"]["source"] == (
        f"lakehouse-{manifest['version']}-py3-none-any.whl"
    )
    for module in ("lake_assets/runtime/jobs.py", "lake_assets/ingestion/promotion.py"):
        assert wheel.read(module) == (REPO_ROOT / module).read_bytes()
    assert f"lakehouse-{manifest['version']}.dist-info/WHEEL" in wheel.namelist()

    # The same sources again: the same bytes, so nothing is uploaded (one version of each key).
    assert main(["deploy"]) == 0
    second = capsys.readouterr().out
    assert "uploaded" not in second.replace("nothing uploaded", "")
    assert "nothing uploaded: s3://lake/_code/ already holds lakehouse" in second
    assert [_versions(s3, key) for key in (PACKAGE_KEY, ENTRY_SCRIPT_KEY, MANIFEST_KEY)] == [
        1,
        1,
        1,
    ]

    storage = build_resources(load_settings())["storage"]
    require_deployed_code(storage, "promote")  # the code is there: no refusal
    s3.delete_object(Bucket="lake", Key=PACKAGE_KEY)
    with pytest.raises(CodeNotDeployed, match="s3://lake/_code/lakehouse.zip is missing") as raised:
        require_deployed_code(storage, "promote")
    assert "entry.py" not in str(raised.value) and "lake deploy" in str(raised.value)


def test_a_job_whose_code_is_missing_is_refused_before_submission(aws_env):
    _, emr, application_id = aws_env
    runner = build_resources(load_settings())["spark_runner"]

    @asset
    def curated(context) -> None:
        runner.run(context, "promote", {"source": "card_transactions"})

    result = materialize([curated], raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    message = failure.step_failure_data.error.to_string()  # with its cause, as the run log shows
    assert "refusing to submit the Spark job 'promote'" in message
    assert "Run `lake deploy`" in message
    for key in (MANIFEST_KEY, ENTRY_SCRIPT_KEY, PACKAGE_KEY):
        assert f"s3://lake/{key} is missing" in message
    assert _job_runs(emr, application_id) == []
    # The listing does see a submission, so the empty list above means none was made.
    emr.start_job_run(
        applicationId=application_id,
        executionRoleArn="arn:aws:iam::123456789012:role/promotion",
        jobDriver={"sparkSubmit": {"entryPoint": f"s3://lake/{ENTRY_SCRIPT_KEY}"}},
    )
    assert len(_job_runs(emr, application_id)) == 1


def _job_runs(emr, application_id: str) -> list[dict]:
    emr.get_application(applicationId=application_id)  # the application exists
    try:
        return emr.list_job_runs(applicationId=application_id)["jobRuns"]
    except emr.exceptions.ResourceNotFoundException:  # moto: no run was ever started on it
        return []


# --------------------------------------------------------------------------------------------
# The job runtime: one release, one Python, every imported package in the image
# --------------------------------------------------------------------------------------------

# Run in a fresh interpreter, so only what the jobs import is in sys.modules: the entry point and
# every registered job module, as EMR imports them.
_IMPORT_CLOSURE = textwrap.dedent(
    """
    import importlib, json, sys
    started_with = set(sys.modules)  # the interpreter's own start-up, not the jobs' imports
    import lake_assets.runtime.entry
    from lake_assets.runtime.jobs import JOBS
    for target in JOBS.values():
        importlib.import_module(target.split(":")[0])
    files = {name.split(".")[0]: getattr(module, "__file__", None)
             for name, module in list(sys.modules.items()) if name not in started_with}
    print(json.dumps(files))
    """
)
PACKAGES = ("lake_assets", "resources", "partitions")
# EMR's Spark puts these on the path; the image must not install them.
PROVIDED_BY_EMR = {"pyspark", "py4j"}


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _image_requirements() -> dict[str, str]:
    pins = {}
    for line in (RUNTIME_IMAGE / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_normalised(name)] = version
    return pins


def test_the_job_runtime_image_holds_every_package_the_jobs_import():
    import importlib.metadata
    import sysconfig

    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_CLOSURE], capture_output=True, text=True, check=True
    )
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    distributions = importlib.metadata.packages_distributions()
    third_party = set()
    for top, file in json.loads(done.stdout).items():
        path = Path(file).resolve() if file else None
        # The project's own packages (not its .venv, which may live inside the checkout).
        ours = path is not None and any(path.is_relative_to(REPO_ROOT / p) for p in PACKAGES)
        if path is None or ours or path.is_relative_to(stdlib):
            continue  # built in, this project, or the standard library
        assert top in distributions, f"{top} ({path}) comes from no installed distribution"
        third_party.update(_normalised(name) for name in distributions[top])
    pins = _image_requirements()
    missing = third_party - PROVIDED_BY_EMR - set(pins)
    assert not missing, (
        f"the Spark jobs import {sorted(missing)}, which deploy/emr/requirements.txt does not "
        "install in the job runtime image: add them (pinned, with their dependencies) or drop "
        "the import from the job's modules"
    )
    assert {"pyarrow", "pydantic-core"} <= third_party  # the native wheels --py-files cannot carry
    assert not PROVIDED_BY_EMR & set(pins), "pyspark would shadow the EMR release's own Spark"


def _labelled(path: Path, kind: str) -> dict:
    """{label: body} of a .tf file's `kind` blocks (python-hcl2 keeps the labels' quotes)."""
    with path.open() as handle:
        blocks = hcl2.load(handle)[kind]
    return {label.strip('"'): body for block in blocks for label, body in block.items()}


def test_one_emr_release_and_one_python_in_code_image_and_terraform():
    dockerfile = (RUNTIME_IMAGE / "Dockerfile").read_text()
    assert re.search(rf"^ARG EMR_RELEASE={re.escape(EMR_RELEASE)}$", dockerfile, re.M)
    assert "FROM public.ecr.aws/emr-serverless/spark/${EMR_RELEASE}:latest" in dockerfile
    assert f"PYSPARK_PYTHON=/usr/bin/python{JOB_PYTHON}" in dockerfile
    assert f"python{JOB_PYTHON} -m pip install" in dockerfile
    variables = _labelled(REPO_ROOT / "terraform" / "variables.tf", "variable")
    assert variables["emr_release_label"]["default"].strip('"') == EMR_RELEASE
    assert EMR_RELEASE.startswith("emr-7.")  # Spark 3.5: the job code's second target
    resources = _labelled(REPO_ROOT / "terraform" / "emr.tf", "resource")
    [image] = resources["aws_emrserverless_application"]['"spark"']["image_configuration"]
    assert image["image_uri"].strip('"') == (
        "${aws_ecr_repository.job_runtime.repository_url}:${var.emr_runtime_image_tag}"
    )
    # The tag names the folder's content: any change to the image's inputs changes it.
    assert re.fullmatch(rf"{re.escape(EMR_RELEASE)}-[0-9a-f]{{12}}", runtime_image_tag())
