"""What `terraform destroy` (or a stray edit) may take with it: nothing holding data goes
without a deliberate change to these files. Read from the HCL, as the other terraform tests."""

from __future__ import annotations

from terraform_config import (
    BOOTSTRAP_FILES,
    PIPELINE_MODULES,
    SHARED_MODULES,
    TF_DIR,
    one,
    parse_hcl,
    resources_of,
    terraform_config,
    variables_of,
)


def _resources(path) -> list[tuple[str, str, dict]]:
    return [
        (type_, name, body)
        for entry in parse_hcl(path).get("resource", [])
        for type_, named in entry.items()
        for name, body in named.items()
    ]


def test_no_bucket_is_emptied_by_a_destroy_and_the_state_bucket_cannot_be_destroyed():
    files = [*sorted(TF_DIR.glob("*.tf")), *BOOTSTRAP_FILES, *PIPELINE_MODULES, *SHARED_MODULES]
    buckets = [(path, name, body) for path in files for t, name, body in _resources(path)
               if t == "aws_s3_bucket"]  # fmt: skip
    assert len(buckets) >= 2  # the lake's and the state's, at least
    # force_destroy would let a destroy delete every object, every version: never set.
    assert [(p.name, name) for p, name, body in buckets if body.get("force_destroy")] == []
    [state] = [body for path in BOOTSTRAP_FILES for t, name, body in _resources(path)
               if t == "aws_s3_bucket" and name == "state"]  # fmt: skip
    assert one(state["lifecycle"])["prevent_destroy"] is True


def test_production_keeps_deletion_protection_and_only_dev_may_drop_it():
    variable = variables_of(terraform_config())["deletion_protection"]
    assert variable["default"] is True  # a stack without a tfvars file is protected
    settings = {
        path.stem: parse_hcl(path).get("deletion_protection")
        for path in sorted((TF_DIR / "env").glob("*.tfvars"))
    }
    assert settings["prod"] is True
    assert {env for env, value in settings.items() if value is False} <= {"dev"}
    database = resources_of(terraform_config(), "aws_db_instance")["dagster"]
    assert database["deletion_protection"] == "${var.deletion_protection}"
    assert database["skip_final_snapshot"] == "${!var.deletion_protection}"
    table = resources_of(terraform_config(), "aws_dynamodb_table")["lake"]
    assert table["deletion_protection_enabled"] is True
