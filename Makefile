# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TOOLS := .venv-tools
# Spark jobs also run on the Spark of EMR 7.x (3.5): its own small venv, built from one file.
SPARK35 := .venv-spark35
JOB_PYTHON ?= python3.11
CHECKOV_VERSION := 3.3.30
export DAGSTER_HOME := $(CURDIR)/.dagster

.PHONY: install spark-classes dagster-home demo test dev lint format bench checkov chromium postgres aws-calls lock clean

# Reinstall only when the dependency list or its pinned versions change. Every package is held
# at the version constraints.txt names, the set the suite last passed with (ADR-0136).
$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

install: $(BIN)/.installed

# Each local Spark JVM (a `lake` command, a run, a Pipes subprocess job) maps Spark's classes from
# an archive dumped once, instead of loading them from the jars (lake_assets/runtime/class_archive.py).
# A speed-up only: should the dump fail, it says why and everything runs without it.
spark-classes: install
	-$(BIN)/python -m lake_assets.runtime.class_archive

# Telemetry off and at most two runs in flight (lake_assets/cli/runs.py), added to an existing
# dagster.yaml too, so a home an older checkout created gets the run cap before `make dev`.
dagster-home: install
	$(BIN)/lake setup-home

demo: install spark-classes dagster-home
	$(BIN)/lake demo --reset

# checkov pins libraries that clash with dagster's, so it lives in its own venv.
$(TOOLS)/bin/checkov:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)

checkov: $(TOOLS)/bin/checkov
	$(TOOLS)/bin/checkov -d terraform --config-file .checkov.yaml
	$(TOOLS)/bin/checkov -f deploy/dagster/Dockerfile --framework dockerfile --skip-download --compact --quiet

# The dashboard's browser test (tests/test_slo_dashboard.py) drives Debian's chromium through
# Playwright, never a browser `playwright install` downloads. The package lists are refreshed
# only when the install cannot find the package with the lists it has.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
APT_INSTALL := $(SUDO) apt-get install -y --no-install-recommends chromium
$(CHROMIUM):
	$(APT_INSTALL) || { $(SUDO) apt-get update && $(APT_INSTALL); }

chromium: $(CHROMIUM)

# Dagster's instance on PostgreSQL is tested against a server the tests start (tests/postgres.py)
# from Debian's server binaries, installed the same way where missing; their folder names the
# major version, so the target checks for any.
PG_CTL := $(firstword $(wildcard /usr/lib/postgresql/*/bin/pg_ctl))
APT_INSTALL_POSTGRES := $(SUDO) apt-get install -y --no-install-recommends postgresql
postgres:
	$(if $(PG_CTL),@true,$(APT_INSTALL_POSTGRES) || { $(SUDO) apt-get update && $(APT_INSTALL_POSTGRES); })

# Re-records terraform/tests/aws_calls.json, the AWS calls the code makes, from every test file
# that uses the moto server (tests/aws_calls.py); terraform/iam.tf must then grant exactly those.
AWS_CALL_TESTS = $(shell grep -l -E 'aws_endpoint|moto_server|emr_lake' tests/test_*.py)
aws-calls: install
	LAKE_RECORD_AWS_CALLS=1 $(BIN)/pytest -q $(AWS_CALL_TESTS)

$(SPARK35)/.installed: requirements-spark35.txt constraints-spark35.txt
	rm -rf $(SPARK35)
	$(JOB_PYTHON) -m venv $(SPARK35)
	$(SPARK35)/bin/pip install --quiet -c constraints-spark35.txt -r requirements-spark35.txt
	touch $@

# Re-resolves both environments to the newest versions their declarations allow, in scratch
# venvs, and pins what it got; `make test` then says whether the suite still passes with them.
LOCK_VENV := .venv-lock
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet -e '.[test]'
	{ head -1 constraints.txt; $(LOCK_VENV)/bin/pip freeze --exclude-editable; } > constraints.txt.new
	rm -rf $(LOCK_VENV) && $(JOB_PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet -r requirements-spark35.txt
	{ head -1 constraints-spark35.txt; $(LOCK_VENV)/bin/pip freeze; } > constraints-spark35.txt.new
	rm -rf $(LOCK_VENV)
	mv constraints.txt.new constraints.txt && mv constraints-spark35.txt.new constraints-spark35.txt

# Its three environments, the browser and PostgreSQL built side by side (from a fresh clone, pip waits on downloads and the
# disk more than on the CPU); then four pytest workers on the two cores (ADR-0188: a fourth
# keeps the cores busy while the long files wait on their subprocesses), each test file kept on one worker
# (its module fixtures, one SparkSession per worker), the slowest files first
# (tests/conftest.py SLOWEST_FIRST). `lake generate --check` fails on generated pipelines that are
# behind their specs or templates, or edited by hand.
test:
	$(MAKE) --no-print-directory -j3 install checkov $(SPARK35)/.installed chromium postgres
	$(BIN)/ruff check .
	$(BIN)/lake generate --check
	$(BIN)/pytest -n 4 --dist loadfile --no-loadscope-reorder

dev: install spark-classes dagster-home
	$(BIN)/dagster dev -w workspace.yaml

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install spark-classes
	$(BIN)/python -m benchmarks

clean:
	rm -rf lake crm.sqlite .dagster bench-data spark-warehouse
