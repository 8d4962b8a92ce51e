"""Pipelines generated from YAML specs (issue 15, seed 000 project 10).

A data engineer writes `pipelines/<name>.yaml`; `lake generate` renders, from versioned Jinja2
templates, everything the lake needs to run it (its source declaration, contract, Spark job with
hook points, Glue table definition and Terraform); the code location loads the generated files,
never the specs. Every generated file carries a stamp (template version, spec hash, its own
content hash), so drift is visible in the repository (`lake generate --check`), on what is
deployed and on the runs (an asset check per pipeline).

Modules (the functional core is Dagster-free):
- stamp.py     the header of a generated file, its hashes, `Generation` and the paths
               generated for a pipeline (pure)
- spec.py      PipelineSpec: the YAML schema, validated with file, line, key and reason
- hooks.py     the extension points a spec names by dotted path (runs on EMR: no Dagster)
- render.py    spec -> {path: text}, from templates/ (the only module that imports Jinja2)
- generate.py  compare what is on disk with what the specs render; write; --check
- upgrade.py   re-render onto a new template; refuse (with the diff) or merge hand edits
- drift.py     repository vs deployed vs runs -> findings (pure)
- checks.py, definitions.py   the per-pipeline drift asset check and its schedule
- deploy.py    `lake deploy --config`: code, Glue table, Terraform; refuses naming what is missing
- cli.py       `lake generate`
"""
