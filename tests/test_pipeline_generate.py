"""`lake generate`: deterministic rendering, `--check`, `--upgrade` (lake_assets/pipelines/).

Each test works on a copy of the repository's specs in tmp_path (a git repository where history
matters); no Spark, no Dagster."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest

from lake_assets.cli.main import main
from lake_assets.config import parse_yaml
from lake_assets.pipelines import render
from lake_assets.pipelines.spec import PipelineSpec
from lake_assets.pipelines.stamp import Generation, body_of, read_stamp, stamped
from lake_assets.pipelines.upgrade import merge

REPO_ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ("card_transactions", "crm_contacts", "customers", "fx_rates", "order_events")
FILES_PER_PIPELINE = 6
INDEX_FILES = 2
KINDS = (
    "OUTDATED TEMPLATE",
    "EDITED BY HAND",
    "SPEC CHANGED",
    "MISSING",
    "ORPHANED",
    "UNVERSIONED EDIT",
)


def _repository(tmp_path: Path, monkeypatch) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "pipelines", root / "pipelines")
    if (REPO_ROOT / "lake_hooks").is_dir():  # first-party there, so job.py sorts its imports alike
        shutil.copytree(REPO_ROOT / "lake_hooks", root / "lake_hooks")
    monkeypatch.setenv("LAKE_SPECS_DIR", str(root / "pipelines"))
    return root


def _generate(capsys, *args: str) -> tuple[int, list[str]]:
    code = main(["generate", *args])
    return code, capsys.readouterr().out.splitlines()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for folder in ("lake_pipelines", "terraform")
        for p in sorted((root / folder).rglob("*"))
        if p.is_file()
    }


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_generate_needs_no_settings_nor_dagster_and_a_rerun_writes_nothing(
    tmp_path, monkeypatch, capsys
):
    root = _repository(tmp_path, monkeypatch)
    # The settings cannot load (a broken sources file): generate is what repairs such files, so
    # it must run without them, and without importing Dagster or Spark.
    broken = tmp_path / "sources.yaml"
    broken.write_text("sources: [not, a, mapping\n")
    script = (
        "import sys\nfrom lake_assets.cli.main import main\ncode = main(['generate'])\n"
        "heavy = sorted({'dagster', 'pyspark'} & set(sys.modules))\n"
        "assert not heavy, heavy\nsys.exit(code)\n"
    )
    env = {"LAKE_SOURCES_FILE": str(broken), "LAKE_SPECS_DIR": str(root / "pipelines")}
    first = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    assert "32 written" in first.stdout, first.stdout
    before = _tree(root)
    assert len(before) == len(PIPELINES) * FILES_PER_PIPELINE + INDEX_FILES
    mtimes = {p: (root / p).stat().st_mtime_ns for p in before}

    code, out = _generate(capsys)
    assert code == 0
    assert out == ["lake generate: 0 written, 0 removed, 32 unchanged"]
    assert _tree(root) == before
    assert {p: (root / p).stat().st_mtime_ns for p in before} == mtimes  # not even rewritten

    # The repository's own generated files are these bytes (what `make test`'s --check checks).
    for path, data in before.items():
        committed = REPO_ROOT / path
        if committed.is_file():
            assert committed.read_bytes() == data, path

    # One new spec, generated alone: its files and the two indexes, nothing else.
    specs = root / "pipelines"
    for path in (specs / "fx_rates.yaml", specs / "contracts" / "fx_rates.yaml"):
        text = path.read_text().replace("fx_rates", "fx_rates_eod")
        path.with_name("fx_rates_eod.yaml").write_text(text)
    code, out = _generate(capsys, "--config", str(root / "pipelines" / "fx_rates_eod.yaml"))
    assert code == 0
    written = sorted(line.split()[1] for line in out if line.startswith("wrote"))
    assert written == sorted(
        [p.as_posix() for p in render.pipeline_paths("fx_rates_eod")]
        + [p.as_posix() for p in render.INDEX_PATHS]
    )
    assert '"fx_rates_eod",' in (root / "lake_pipelines" / "__init__.py").read_text()

    # Its spec deleted: its generated files go, folders and all, and the indexes follow.
    (specs / "fx_rates_eod.yaml").unlink()
    code, out = _generate(capsys)
    assert code == 0
    assert out[-1] == "lake generate: 2 written, 6 removed, 30 unchanged"
    assert _tree(root) == before
    assert not (root / "lake_pipelines" / "fx_rates_eod").exists()
    assert not (root / "terraform" / "pipelines" / "fx_rates_eod").exists()


def test_a_spec_not_named_name_yaml_is_refused_naming_the_file(tmp_path, monkeypatch, capsys):
    root = _repository(tmp_path, monkeypatch)
    spec = root / "pipelines" / "fx_rates_eod.yml"
    shutil.copy(root / "pipelines" / "fx_rates.yaml", spec)
    assert main(["generate", "--config", str(spec)]) == 2
    assert capsys.readouterr().err == (
        f"lake: error: {spec}: -: not a spec: a spec is <name>.yaml directly in the specs "
        f"directory {root / 'pipelines'}\n"
    )
    assert not (root / "lake_pipelines").exists()  # nothing generated


def test_check_lists_every_kind_of_drift(tmp_path, monkeypatch, capsys):
    root = _repository(tmp_path, monkeypatch)
    assert _generate(capsys)[0] == 0
    assert _generate(capsys, "--check") == (
        0,
        ["lake generate --check: 32 generated files current"],
    )

    # Generated from an older template (a pristine file: its body matches its stamp).
    job = root / "lake_pipelines" / "card_transactions" / "job.py"
    stamp = read_stamp(job.read_text())
    job.write_text(
        stamped(
            body_of(job.read_text()),
            Generation(0, stamp.generation.spec_hash),
            "pipelines/card_transactions.yaml",
        )
    )
    # Edited by hand.
    contract = root / "lake_pipelines" / "fx_rates" / "contract.yaml"
    contract.write_text(
        contract.read_text().replace("max_staleness_hours: 100.0", "max_staleness_hours: 200.0")
    )
    # A spec changed since generation.
    spec = root / "pipelines" / "customers.yaml"
    spec.write_text(spec.read_text().replace("deadline_hours: 4", "deadline_hours: 5"))
    # Rendered differently under the same template version and spec (a template edited
    # without a version bump): pristine, yet not what the templates render now.
    glue = root / "lake_pipelines" / "crm_contacts" / "glue_table.yaml"
    glue_stamp = read_stamp(glue.read_text())
    glue.write_text(
        stamped(
            body_of(glue.read_text()).replace("EXTERNAL_TABLE", "MANAGED_TABLE"),
            glue_stamp.generation,
            "pipelines/crm_contacts.yaml",
        )
    )
    # A generated file deleted, and a pipeline whose spec was deleted.
    (root / "terraform" / "pipelines" / "order_events" / "main.tf").unlink()
    shutil.copytree(root / "lake_pipelines" / "crm_contacts", root / "lake_pipelines" / "old_feed")
    before = _tree(root)

    code, out = _generate(capsys, "--check")
    assert code == 1
    kinds = set()
    for line in out:
        kind = next(k for k in KINDS if line.startswith(k))
        kinds.add((kind, *line[len(kind) :].split()[:2]))
    assert (
        "OUTDATED TEMPLATE",
        "card_transactions",
        "lake_pipelines/card_transactions/job.py",
    ) in kinds
    assert ("EDITED BY HAND", "fx_rates", "lake_pipelines/fx_rates/contract.yaml") in kinds
    assert ("SPEC CHANGED", "customers", "pipelines/customers.yaml") in kinds
    assert ("MISSING", "order_events", "terraform/pipelines/order_events/main.tf") in kinds
    assert ("ORPHANED", "old_feed", "lake_pipelines/old_feed/job.py") in kinds
    assert (
        "UNVERSIONED EDIT",
        "crm_contacts",
        "lake_pipelines/crm_contacts/glue_table.yaml",
    ) in kinds
    assert [line for line in out if f"template 0, current {render.TEMPLATE_VERSION}" in line]
    assert _tree(root) == before  # --check writes nothing


def test_upgrade_refuses_a_hand_edit_with_the_diff_then_forces_or_merges(
    tmp_path, monkeypatch, capsys
):
    root = _repository(tmp_path, monkeypatch)
    assert _generate(capsys)[0] == 0
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "generated")
    job = root / "lake_pipelines" / "customers" / "job.py"
    edited = job.read_text() + "# tuned by hand for the month-end load\n"
    job.write_text(edited)

    # A new template version whose job template also changed (its docstring).
    templates = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES_DIR, templates)
    template = templates / "job.py.j2"
    template.write_text(template.read_text().replace("with this pipeline's hooks.", "and hooks."))
    monkeypatch.setattr(render, "TEMPLATES_DIR", templates)
    current = render.TEMPLATE_VERSION
    monkeypatch.setattr(render, "TEMPLATE_VERSION", current + 1)
    render._environment.cache_clear()
    try:
        # Without --upgrade nothing moves to the new template.
        code, out = _generate(capsys)
        assert code == 1
        assert any(
            line.startswith("OUTDATED TEMPLATE  lake_pipelines/fx_rates/job.py") for line in out
        )
        assert (
            read_stamp(
                (root / "lake_pipelines/fx_rates/job.py").read_text()
            ).generation.template_version
            == current
        )

        code, out = _generate(capsys, "--upgrade")
        assert code == 1
        text = "\n".join(out)
        assert "EDITED BY HAND     lake_pipelines/customers/job.py: not overwritten" in text
        assert f"--- lake_pipelines/customers/job.py (template {current + 1})" in text
        assert "+# tuned by hand for the month-end load" in text
        assert "-Spark job of pipeline customers: the lake's promotion and hooks." not in text
        assert job.read_text() == edited  # refused: untouched
        fx_job = (root / "lake_pipelines/fx_rates/job.py").read_text()
        assert read_stamp(fx_job).generation.template_version == current + 1
        assert "and hooks." in fx_job

        # --merge: the hand edit, merged onto the new render (base: the committed generation).
        code, out = _generate(capsys, "--upgrade", "--merge")
        assert code == 0, out
        merged = job.read_text()
        assert "and hooks." in merged and "# tuned by hand for the month-end load" in merged
        assert read_stamp(merged).generation.template_version == current + 1
        code, out = _generate(capsys, "--check")
        assert out[0].startswith("EDITED BY HAND     customers"), out  # until it is a hook

        # --force: overwritten, the discarded edit printed.
        code, out = _generate(capsys, "--upgrade", "--force")
        assert code == 0
        assert "+# tuned by hand for the month-end load" in "\n".join(out)
        assert "tuned by hand" not in job.read_text()
    finally:
        render._environment.cache_clear()


def _spec(**hooks: str) -> PipelineSpec:
    return PipelineSpec.model_validate(
        {
            "owner": "o",
            "source": {"format": "json"},
            "event_time_field": "at",
            "tags": {"domain": "payments", "cost_centre": "${centre}"},
            "contract": {"version": 1, "schema": [{"name": "at", "type": "timestamp"}]},
            "hooks": hooks,
        }
    )


@pytest.mark.parametrize(
    "hooks",
    [
        {},
        {"record_transform": "lake_hooks.examples:trim_text"},
        {
            "record_transform": "lake_hooks.examples:trim_text",
            "frame_transform": "lake_hooks.examples:flag_rows",
            "partitioner": "bank_shared.calendars.business_days_of_the_malaysian_exchange:partition_of_an_event_time_in_myt",
        },
    ],
    ids=["no hooks", "one hook", "first and third party"],
)
def test_rendered_python_passes_ruff_and_terraform_parses(hooks):
    files = render.render_pipeline(_spec(**hooks), "synthetic", REPO_ROOT / "pipelines", "0" * 16)
    files |= render.render_index({"synthetic": _spec(**hooks)}, {"synthetic": "0" * 16})
    ruff = Path(sys.executable).parent / "ruff"
    for path, text in files.items():
        if path.suffix == ".py":
            for command in (["check"], ["format", "--check"]):
                result = subprocess.run(
                    [ruff, *command, "--stdin-filename", str(path), "-"],
                    input=text,
                    cwd=REPO_ROOT,
                    capture_output=True,
                    text=True,
                )
                assert result.returncode == 0, f"{path}: ruff {command}\n{result.stdout}\n{text}"
            imported = {
                (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
                for node in ast.walk(ast.parse(text))
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in node.names
            }
            assert not {m for m in imported if m.split(".")[0] in ("dagster", "jinja2")}, imported
        elif path.suffix == ".tf":
            parsed = hcl2.loads(text)
            assert parsed, path
    module = hcl2.loads(files[Path("terraform/pipelines/synthetic/main.tf")])
    # python-hcl2 keeps the quotes of labels and string literals.
    stamp_object = module["resource"][0]['"aws_s3_object"']['"pipeline_stamp"']
    assert stamp_object["key"] == '"_pipelines/synthetic.json"'
    assert stamp_object["kms_key_id"] == "${var.kms_key_arn}"
    index = files[Path("terraform/pipelines.tf")]
    assert '"cost_centre" = "$${centre}"' in index  # a tag is a literal, never a template
    if shutil.which("terraform"):
        for path, text in files.items():
            if path.suffix == ".tf":
                fmt = subprocess.run(
                    ["terraform", "fmt", "-check", "-"], input=text, capture_output=True, text=True
                )
                assert fmt.returncode == 0, f"{path} is not terraform fmt-clean:\n{fmt.stdout}"


def test_names_yaml_reads_as_booleans_or_null_come_back_as_written():
    # YAML 1.1 (PyYAML, `lake deploy`'s reader) reads on, no, yes, off and null as booleans and
    # None: unquoted, such a column or pipeline would reach Glue as True or None.
    words = ["on", "no", "yes", "off", "null"]
    spec = _spec().model_copy(
        update={
            "contract": {
                "version": 1,
                "schema": [{"name": "at", "type": "timestamp"}]
                + [{"name": word, "type": "string"} for word in words],
            }
        }
    )
    files = render.render_pipeline(spec, "on", REPO_ROOT / "pipelines", "0" * 16)
    package = Path("lake_pipelines/on")
    glue = parse_yaml(body_of(files[package / "glue_table.yaml"]))
    assert glue["Name"] == "on"
    assert [column["Name"] for column in glue["StorageDescriptor"]["Columns"]][:6] == ["at", *words]
    assert list(parse_yaml(body_of(files[package / "source.yaml"]))["sources"]) == ["on"]
    contract = parse_yaml(body_of(files[package / "contract.yaml"]))
    assert (contract["dataset"], [c["name"] for c in contract["schema"]]) == ("on", ["at", *words])


def test_a_template_edit_comes_with_a_new_template_version():
    assert render.templates_digest() == render.TEMPLATES_DIGEST, (
        "lake_assets/pipelines/templates/ changed: bump TEMPLATE_VERSION in render.py and set "
        f'TEMPLATES_DIGEST = "{render.templates_digest()}"'
    )


def test_a_merge_marks_what_both_sides_changed():
    merged, conflicts = merge("x = 1\nhand = 1\n", "x = 1\ny = 2\n", "x = 1\ny = 3\n", 2)
    assert conflicts == 1
    assert merged.splitlines() == [
        "x = 1",
        "<<<<<<< on disk",
        "hand = 1",
        "||||||| as generated",
        "y = 2",
        "=======",
        "y = 3",
        ">>>>>>> template 2",
    ]
