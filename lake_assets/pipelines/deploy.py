"""`lake deploy --config pipelines/<name>.yaml`: deploy what `lake generate` rendered for one
pipeline, each artifact stamped with its generation (the drift check reads the stamps back):

1. the Spark jobs' code (runtime/deploy.py `deploy_code`; the manifest records every generated
   pipeline's generation in `pipelines`);
2. its Glue table (`GlueCatalog.ensure_table` from lake_pipelines/<name>/glue_table.yaml:
   created when absent, else only its `lake_pipeline.*` parameters merged, because the
   orchestrator owns the table's evolution);
3. its Terraform module and the bucket's notification (`terraform plan
   -target=module.pipeline_<name> -target=aws_s3_bucket_notification.lake`, `apply` with
   --apply): the stamp object `_pipelines/<name>.json` and the raw/ prefix announced.

A preflight names everything missing at once. Without what the code and the table need (the aws
profile, a clean generation, credentials) nothing is deployed; without terraform (or an
initialised terraform/) steps 1 and 2 run and the deploy ends with exit 1, so nobody mistakes
it for a full deploy.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lake_assets.config import ConfigError, parse_yaml
from lake_assets.pipelines.checks import current_spec_hash, current_template_version
from lake_assets.pipelines.drift import (
    GLUE_PREFIX,
    Repository,
    glue_parameters,
    read_repository,
    repository_findings,
)
from lake_assets.pipelines.stamp import body_of
from lake_assets.runtime.deploy import deploy_code
from lake_assets.settings import Settings

GLUE_TABLE_FILE = "lake_pipelines/{name}/glue_table.yaml"
TERRAFORM_MODULE = "terraform/pipelines/{name}"


class DeployRefused(RuntimeError):
    """Nothing was deployed; `missing` names each thing to fix."""

    def __init__(self, name: str, missing: list[str]):
        self.missing = missing
        super().__init__(
            f"refusing to deploy pipeline {name}; missing:\n" + "\n".join(f"- {m}" for m in missing)
        )


@dataclass(frozen=True)
class Preflight:
    refusals: list[str]  # without these nothing is deployed
    terraform: list[str]  # without these the Terraform step is skipped (exit 1)
    repository: Repository


@dataclass
class PipelineDeploy:
    lines: list[str] = field(default_factory=list)
    complete: bool = True  # False: a step was skipped or failed (exit 1)


def _has_credentials() -> bool:
    import boto3

    return boto3.Session().get_credentials() is not None  # no API call


def preflight(settings: Settings, spec: Path, root: Path) -> Preflight:
    """Everything a deploy of the pipeline of `spec` (in `root`/pipelines/) would miss."""
    name = spec.stem
    refusals = []
    if settings.profile != "aws":
        refusals.append(
            "LAKE_PROFILE=aws and the variables of `terraform output lake_env` (the local "
            "profile runs the code in place: there is nothing to deploy)"
        )
    try:
        spec_hash = current_spec_hash(spec)
    except ConfigError as error:
        refusals.append(f"a valid spec: {error}")
        spec_hash = None
    if spec_hash is None and not spec.is_file():
        refusals.append(f"the spec {spec}")
    repository = read_repository(root, name, spec_hash, current_template_version())
    # A clean generation: all of its files there (a deleted job.py or main.tf is MISSING), none
    # edited or behind the spec and templates.
    refusals += [
        f"a clean `lake generate --check` of {name}: {finding.line()}"
        for finding in repository_findings(repository)
    ]
    if not _has_credentials():
        refusals.append("AWS credentials (none found by boto3: environment, profile, role)")
    terraform = []
    if shutil.which("terraform") is None:
        terraform.append(
            f"terraform not installed: {TERRAFORM_MODULE.format(name=name)} not planned"
        )
    elif not (root / "terraform" / ".terraform").is_dir():
        terraform.append(
            f"terraform/ not initialised (run `terraform init` there): "
            f"{TERRAFORM_MODULE.format(name=name)} not planned"
        )
    return Preflight(refusals, terraform, repository)


def glue_table_input(root: Path, repository: Repository) -> dict:
    """The generated TableInput, with the stamps of the generation the repository holds."""
    text = (root / GLUE_TABLE_FILE.format(name=repository.name)).read_text(encoding="utf-8")
    table_input = parse_yaml(body_of(text))
    parameters = {**table_input.get("Parameters", {}), **glue_parameters(repository.generation)}
    return {**table_input, "Parameters": parameters}


def _terraform(
    root: Path, name: str, apply: bool, var_file: Path | None
) -> subprocess.CompletedProcess:
    # The module, and the bucket's notification, whose rules come from every pipeline's raw prefix.
    targets = [f"-target=module.pipeline_{name}", "-target=aws_s3_bucket_notification.lake"]
    command = ["apply", "-auto-approve"] if apply else ["plan"]
    # The root module's variables without defaults (the VPC, the certificate, ...) come from the
    # environment's file (terraform/env/<env>.tfvars), as `terraform apply` gets them.
    variables = [f"-var-file={var_file.resolve()}"] if var_file else []
    return subprocess.run(
        ["terraform", *command, "-input=false", "-no-color", *variables, *targets],
        cwd=root / "terraform",
        capture_output=True,
        text=True,
        check=False,
    )


def deploy_pipeline(
    settings: Settings,
    resources: Mapping[str, Any],
    spec: Path,
    apply: bool = False,
    var_file: Path | None = None,
) -> PipelineDeploy:
    """Deploy the pipeline of `spec` (pipelines/<name>.yaml in the repository whose root is
    the spec's grandparent). Raises DeployRefused before doing anything when a step could not
    run."""
    spec = spec.resolve()
    root, name = spec.parent.parent, spec.stem
    checked = preflight(settings, spec, root)
    if var_file is not None and not var_file.is_file():
        checked.refusals.append(f"no variables file {var_file} (terraform/env/<env>.tfvars)")
    if checked.refusals:
        raise DeployRefused(name, checked.refusals + checked.terraform)
    storage, catalog = resources["storage"], resources["catalog"]
    done = PipelineDeploy()
    done.lines += deploy_code(storage, root).lines(storage)
    outcome = catalog.ensure_table(glue_table_input(root, checked.repository), GLUE_PREFIX)
    done.lines.append(
        f"glue table {catalog.database}.{name}: {outcome} "
        f"({checked.repository.generation.code_version})"
    )
    if checked.terraform:
        done.lines += checked.terraform
        done.complete = False
        return done
    result = _terraform(root, name, apply, var_file)
    done.lines += [result.stdout.rstrip(), result.stderr.rstrip()]
    verb = "applied" if apply else "planned"
    if result.returncode == 0:
        done.lines.append(f"{TERRAFORM_MODULE.format(name=name)} {verb}")
    else:
        done.lines.append(f"terraform failed: {TERRAFORM_MODULE.format(name=name)} not {verb}")
        done.complete = False
    return done
