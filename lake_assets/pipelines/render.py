"""Spec -> the text of every file generated for it, from the versioned templates in templates/.

Pure and deterministic: the same spec (and contract) renders the same bytes on any machine, so a
rerun of `lake generate` writes nothing and `--check` can compare. Nothing from the clock, the
environment, the user or an absolute path reaches a template; mappings are emitted in sorted
key order (the spec hash ignores key order, so the output must too), lists in their declared
order (the order of a contract's rules is the order of its checks). This is the only module
that imports Jinja2: neither the code location nor the Spark jobs load it.

A template edit changes what every pipeline renders, so it must come with a new
TEMPLATE_VERSION: tests/test_pipeline_generate.py compares the templates with TEMPLATES_DIGEST,
and `lake generate --check` reports files that render differently under an unchanged version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import jinja2
import yaml
from pydantic import TypeAdapter

from lake_assets.cost.model import team_of_owner
from lake_assets.ingestion.curated_columns import LINEAGE_COLUMNS
from lake_assets.pipelines import spec as specs
from lake_assets.pipelines.spec import PipelineSpec
from lake_assets.pipelines.stamp import Generation, data_hash, pipeline_paths, stamped
from lake_assets.settings import SourceConfig
from lake_assets.tables.locations import PARTITION
from lake_assets.tables.types import GLUE_TYPES

TEMPLATE_VERSION = 3
# sha256 over the template files (sorted by name): a test fails when they change and this does
# not, with the digest to set once TEMPLATE_VERSION is bumped.
TEMPLATES_DIGEST = "7a8e1a4fead636e2"
TEMPLATES_DIR = Path(__file__).parent / "templates"
# The spec path an index file names in its header: it is generated from every spec.
INDEX_SOURCE = "pipelines/*.yaml"


def templates_digest(directory: Path = TEMPLATES_DIR) -> str:
    """The hash of the template set, names and bytes."""
    sha = hashlib.sha256()
    for path in sorted(directory.glob("*.j2")):
        sha.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:16]


INDEX_PATHS: dict[Path, str] = {
    Path("lake_pipelines") / "__init__.py": "index.py.j2",
    Path("terraform") / "pipelines.tf": "pipelines.tf.j2",
}


def spec_path_of(name: str, specs_dir: Path) -> str:
    """How a header names the spec: relative to the repository, never an absolute path."""
    return f"{specs_dir.name}/{name}.yaml"


def render_pipeline(
    spec: PipelineSpec, name: str, specs_dir: Path, spec_hash: str | None = None
) -> dict[Path, str]:
    """Every file of pipeline `name`, stamped; `spec_hash` when the caller has computed it."""
    generation = Generation(TEMPLATE_VERSION, spec_hash or specs.spec_hash(spec, specs_dir))
    contract = spec.contract_document(name, specs_dir)
    spec_path = spec_path_of(name, specs_dir)
    origin = (
        f"{specs_dir.name}/{spec.contract.file}"
        if isinstance(spec.contract, specs.ContractRef)
        else f"{spec_path} (inline)"
    )
    source = _plain(_source_document(spec, name))
    values = {
        "name": name,
        "spec_path": spec_path,
        "spec_hash": generation.spec_hash,
        "template_version": TEMPLATE_VERSION,
        "description": spec.description,
        "owner": spec.owner,
        "team": team_of_owner(spec.owner),
        "source": source,
        "contract": _plain(contract),
        "contract_origin": origin,
        "columns": _glue_columns(contract),
        "hooks": _hooks(spec),
        "import_sections": _job_imports(spec, specs_dir.parent),
    }
    return {
        path: stamped(_render(template, values), generation, spec_path)
        for path, template in pipeline_paths(name).items()
    }


def render_index(
    specs_by_name: Mapping[str, PipelineSpec], hashes: Mapping[str, str]
) -> dict[Path, str]:
    """The files generated once for the whole set: the package index and the Terraform modules'
    index. Their spec hash is the hash of every pipeline's name and spec hash."""
    names = sorted(specs_by_name)
    generation = Generation(TEMPLATE_VERSION, index_hash(hashes))
    values = {
        "names": names,
        "width": max((len(name) for name in names), default=0),
        "tags": {name: specs_by_name[name].tags for name in names},
    }
    return {
        path: stamped(_render(template, values), generation, INDEX_SOURCE)
        for path, template in INDEX_PATHS.items()
    }


def index_hash(hashes: Mapping[str, str]) -> str:
    return data_hash(dict(sorted(hashes.items())))


def _source_document(spec: PipelineSpec, name: str) -> dict:
    # What SourcesFile validates under the source's id: no id (the key is the id) and no
    # generation (the loader reads it from the stamp); unset optional blocks are left out.
    declared = spec.source_config(name)
    document = TypeAdapter(SourceConfig).dump_python(declared, mode="json", exclude_none=True)
    for key in ("source_id", "generation"):
        document.pop(key, None)
    return document


def _glue_columns(contract: dict) -> list[tuple[str, str]]:
    declared = {column["name"]: column["type"] for column in contract.get("schema", [])}
    columns = {**declared, **LINEAGE_COLUMNS}
    return [(name, GLUE_TYPES[kind]) for name, kind in columns.items() if name != PARTITION]


def _hooks(spec: PipelineSpec) -> list[tuple[str, str]]:
    """(point, function name) of each hook the spec names, in the order of the hook points."""
    hooks = spec.hooks.model_dump()
    return [(point, path.split(":")[1]) for point, path in hooks.items() if path]


def _job_imports(spec: PipelineSpec, root: Path) -> list[list[tuple[str, list[str]]]]:
    """job.py's imports in the sections and order ruff's isort keeps: third-party modules,
    then first-party ones (importable from the repository root, as ruff decides)."""
    modules: dict[str, set[str]] = {
        "lake_assets.ingestion.promotion": {"promotion_job"},
        "lake_assets.pipelines.hooks": {"PipelineHooks"},
    }
    # The spec refuses two hooks of one function name from different modules (PipelineSpec).
    for path in spec.hooks.model_dump().values():
        if not path:
            continue
        module, function = path.split(":")
        modules.setdefault(module, set()).add(function)

    def first_party(module: str) -> bool:
        top = module.split(".")[0]
        return top == "lake_assets" or (root / top).is_dir() or (root / f"{top}.py").is_file()

    sections = [
        [(m, sorted(n, key=_isort_name)) for m, n in sorted(modules.items()) if not first_party(m)],
        [(m, sorted(n, key=_isort_name)) for m, n in sorted(modules.items()) if first_party(m)],
    ]
    return [section for section in sections if section]


def _isort_name(name: str) -> tuple[int, str]:
    # isort's order-by-type: CONSTANTS, then Classes, then functions.
    kind = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name


def _render(template: str, values: dict) -> str:
    return _normalised(_environment().get_template(template).render(values))


def _normalised(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip("\n") + "\n"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        undefined=jinja2.StrictUndefined,  # a misspelt value fails instead of rendering ""
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        newline_sequence="\n",
        auto_reload=False,
    )
    environment.filters.update(yaml=_yaml, yaml_scalar=_yaml_scalar, hcl=_hcl)
    return environment


def _plain(data: object) -> object:
    """JSON-like data: tuples as lists, so YAML dumps them as plain sequences."""
    if isinstance(data, Mapping):
        return {str(key): _plain(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_plain(value) for value in data]
    return data


def _yaml(data: object) -> str:
    return yaml.safe_dump(
        data, sort_keys=True, default_flow_style=False, allow_unicode=True, width=100
    )


def _yaml_scalar(value: str) -> str:
    # A JSON string is a YAML double-quoted scalar: one line, every character escaped alike.
    return json.dumps(value, ensure_ascii=False)


def _hcl(value: object) -> str:
    """A Terraform literal: a string (with its template sequences escaped) or a map of them."""
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_hcl(k)} = {_hcl(v)}" for k, v in sorted(value.items())) + " }"
    text = json.dumps(str(value), ensure_ascii=False)
    return text.replace("${", "$${").replace("%{", "%%{")
