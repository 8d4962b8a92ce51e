"""Pulled sources (lake_assets/pull/): an incremental extract from the CRM's database, landed in
the raw zone through the intake, with a watermark that moves only after the landing. No Spark:
what lands is checked in raw, the registry and the profiler's schema."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
import sqlalchemy as sa
from aws_lake import REGION, open_aws_lake
from dagster import RunRequest, build_schedule_context

import lake_assets.pull.service as service
from lake_assets.circuit import CLOSED, Breaker, after_failure
from lake_assets.cli.main import main
from lake_assets.definitions import build_definitions
from lake_assets.demo.crm_database import contacts, play_crm_day
from lake_assets.demo.demo_data import customers_snapshot
from lake_assets.ingestion.intake import pending_objects, profile_objects
from lake_assets.instants import format_instant
from lake_assets.pull.credentials import MissingCredentials, connection_url
from lake_assets.pull.model import Credentials
from lake_assets.pull.service import CircuitOpen, PullFailed, pull_declared_source
from lake_assets.pull.watermark import read_state, state_key
from lake_assets.settings import AwsSettings, ConfigError, load_sources

START = date(2026, 11, 26)
SOURCE = "crm_contacts"


def evening(day_index: int) -> datetime:
    return datetime(2026, 11, 26, 23, 30, tzinfo=UTC) + timedelta(days=day_index)


@pytest.fixture
def crm(local_lake, tmp_path, monkeypatch):
    """The demo's CRM as the configured URL finds it (sqlite:///crm.sqlite, from the working
    directory), with small keyset pages so that a page ends inside a run of equal stamps."""
    monkeypatch.chdir(tmp_path)
    settings, resources = local_lake
    source = settings.source(SOURCE)
    source = replace(source, pull=replace(source.pull, page_size=4))
    settings = replace(settings, sources={**settings.sources, SOURCE: source})
    return settings, resources, tmp_path / "crm.sqlite"


def pull(settings, resources, day_index):
    return pull_declared_source(settings, resources, SOURCE, environ={}, now=evening(day_index))


def landed_lines(resources, key):
    return [json.loads(line) for line in resources["storage"].get_bytes(key).splitlines()]


def database_rows(path):
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = connection.execute(sa.select(contacts.c.contact_id, contacts.c.updated_at))
        return {(r.contact_id, r.updated_at) for r in rows}


def test_pulls_land_what_changed_after_the_watermark_nested_and_then_advance_it(crm, capsys):
    settings, resources, path = crm
    assert play_crm_day(path, START, 0) == 30
    first = pull(settings, resources, 0)
    lines = landed_lines(resources, first.landed.key)
    assert first.rows == len(lines) == 30  # across eight pages of four
    assert len({line["contact_id"] for line in lines}) == 30
    # The CRM's JSON text nested: the raw file is the nested export the source's consumers know.
    assert all(set(line["name"]) == {"first", "last"} for line in lines)
    assert all(isinstance(line["emails"], list) for line in lines)
    assert {"05000"} & {line["address"]["postcode"] for line in lines}  # text, zero kept
    assert [line["updated_at"] for line in lines] == sorted(line["updated_at"] for line in lines)
    last = lines[-1]
    assert read_state(resources["storage"], SOURCE).watermark.key == last["contact_id"]
    summary = profile_objects(
        resources["storage"],
        resources["registry"],
        resources["notifier"],
        settings.source(SOURCE),
        pending_objects(resources["storage"], resources["registry"], SOURCE),
    )
    assert summary.count("PROFILED") == 1
    [schema] = resources["registry"].versions(SOURCE)
    assert {"name.first", "address.postcode", "emails"} <= set(schema.fields)
    assert schema.fields["address.postcode"] == "string" and schema.fields["emails"] == "json"

    changed = play_crm_day(path, START, 1)
    # A change stamped within the safety lag is left for a later pull (a transaction that
    # stamped it may not have committed yet).
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(
            contacts.update()
            .where(contacts.c.contact_id == "K000001")
            .values(updated_at=evening(1).replace(tzinfo=None) - timedelta(seconds=60))
        )
    second = pull(settings, resources, 1)
    assert second.rows == changed  # the day's changes only, K000001 not yet
    assert "K000001" not in {
        line["contact_id"] for line in landed_lines(resources, second.landed.key)
    }
    assert main(["pull", SOURCE]) == 0  # now: the lag has long passed
    out = capsys.readouterr().out
    assert f"{SOURCE}: landed 1 row: raw/source={SOURCE}/" in out
    assert f"{SOURCE}: watermark updated_at=2026-11-27T23:29:00+00:00, contact_id=K000001" in out
    assert main(["pull", SOURCE]) == 0
    assert f"{SOURCE}: nothing changed up to" in capsys.readouterr().out


def test_the_pull_job_pulls_as_lake_pull_does_and_says_what_it_landed(crm):
    settings, resources, path = crm
    play_crm_day(path, START, 0)
    job = build_definitions(settings, resources).get_job_def("pull_crm_contacts")
    result = job.execute_in_process()
    assert result.success
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = {k: v.value for k, v in output.event_specific_data.metadata.items()}
    assert metadata["rows"] == 30 and metadata["raw_key"].startswith(f"raw/source={SOURCE}/")
    assert metadata["watermark"] == {
        "updated_at": format_instant(read_state(resources["storage"], SOURCE).watermark.at),
        "contact_id": "K000030",
    }


class CrashBefore:
    """Stands in for the process dying at one write of a pull."""

    def __init__(self, monkeypatch, where: str):
        self.where = where
        if where == "landing":
            monkeypatch.setattr(service, "land_payload", self._die)
        else:
            original = service.write_state

            def write_state(storage, source_id, state):
                if state.pending is None and state.watermark is not None:
                    self._die()
                original(storage, source_id, state)

            monkeypatch.setattr(service, "write_state", write_state)

    def _die(self, *args, **kwargs):
        raise KeyboardInterrupt(f"killed before {self.where}")


@pytest.mark.parametrize("where", ["landing", "the watermark write"])
def test_a_pull_killed_before_landing_or_before_its_watermark_loses_and_doubles_nothing(
    crm, monkeypatch, where
):
    settings, resources, path = crm
    play_crm_day(path, START, 0)
    with monkeypatch.context() as dying, pytest.raises(KeyboardInterrupt):
        crash = CrashBefore(dying, where)
        pull(settings, resources, 0)
    assert read_state(resources["storage"], SOURCE).watermark is None
    play_crm_day(path, START, 1)

    recovered = pull(settings, resources, 1)  # finishes the interrupted pull first
    after_landing = crash.where != "landing"
    assert recovered.recovered is not None
    assert (recovered.recovered.duplicate_of is not None) == after_landing
    assert pull(settings, resources, 2).landed is None

    profile_objects(
        resources["storage"],
        resources["registry"],
        resources["notifier"],
        settings.source(SOURCE),
        pending_objects(resources["storage"], resources["registry"], SOURCE),
    )
    index = resources["registry"].raw_files(SOURCE)
    assert [r.status for r in index].count("DUPLICATE") == int(after_landing)
    promotable = [r.key for r in index if r.status == "PROFILED"]
    landed = {
        (line["contact_id"], line["updated_at"])
        for key in promotable
        for line in landed_lines(resources, key)
    }
    rows = sum(r.row_count for r in index if r.status == "PROFILED")
    assert rows == len(landed)  # no row twice
    # No row lost: the database's current rows are among what landed.
    current = {(k, f"{at.isoformat()}+00:00") for k, at in database_rows(path)}
    assert current <= landed


def test_on_aws_the_watermark_is_in_the_bucket_and_credentials_come_from_secrets_manager(
    aws_endpoint, tmp_path, monkeypatch, caplog
):
    monkeypatch.chdir(tmp_path)
    settings, resources, _ = open_aws_lake(aws_endpoint, tmp_path)
    play_crm_day(tmp_path / "crm.sqlite", START, 0)
    result = pull(settings, resources, 0)
    assert result.rows == 30 and result.landed.key.startswith(f"raw/source={SOURCE}/")
    assert resources["storage"].exists(state_key(SOURCE))  # in the bucket, under _state/
    assert read_state(resources["storage"], SOURCE).watermark == result.watermark

    secrets = boto3.client("secretsmanager", endpoint_url=aws_endpoint, region_name=REGION)
    secrets.create_secret(
        Name="lakehouse/crm-db",
        SecretString=json.dumps({"username": "lake_reader", "password": "sm-s3cret"}),
    )
    source = settings.source(SOURCE)
    aws = AwsSettings(region=REGION, endpoint_url=aws_endpoint)

    def pulled_with(credentials, url="postgresql+psycopg2://crm-db.internal:5432/crm"):
        return replace(source.pull, url=url, credentials=credentials)

    from_env = connection_url(
        pulled_with(Credentials(env="CRM_DB_PASSWORD")), {"CRM_DB_PASSWORD": "env-s3cret"}
    )
    assert from_env.password == "env-s3cret"
    from_secret = connection_url(
        pulled_with(Credentials(aws_secret_id="lakehouse/crm-db")), {}, aws
    )
    assert (from_secret.username, from_secret.password) == ("lake_reader", "sm-s3cret")
    with pytest.raises(MissingCredentials, match="CRM_DB_PASSWORD is not set"):
        connection_url(pulled_with(Credentials(env="CRM_DB_PASSWORD")), {})
    with pytest.raises(MissingCredentials, match="'lakehouse/other': ResourceNotFoundException"):
        connection_url(pulled_with(Credentials(aws_secret_id="lakehouse/other")), {}, aws)

    # A pull whose database refuses it: the message and the log show the URL, not the secret.
    caplog.set_level(logging.INFO)  # what `lake -v` and the Dagster run log show
    refusing = replace(
        source,
        pull=pulled_with(Credentials(aws_secret_id="lakehouse/crm-db"), "sqlite:///crm.sqlite"),
    )
    settings = replace(settings, sources={**settings.sources, SOURCE: refusing})
    with pytest.raises(PullFailed) as failure:
        pull_declared_source(settings, resources, SOURCE, environ={})
    assert "lake_reader:***@" in str(failure.value)
    assert "sm-s3cret" not in str(failure.value) + caplog.text


BASE = """sources:
  crm_contacts:
    format: json
    event_time_field: updated_at
    pull:
      kind: sql
      url: sqlite:///crm.sqlite
      table: contacts
      watermark: {column: updated_at, tie_breaker: contact_id}
"""


@pytest.mark.parametrize(
    "old, new, key, reason",
    [
        (
            "url: sqlite:///crm.sqlite",
            "url: postgresql://reader:hunter2@crm/crm",
            "sources.crm_contacts.pull.url",
            "must not hold a password",
        ),
        (
            "url: sqlite:///crm.sqlite",
            "url: crm.sqlite",
            "sources.crm_contacts.pull.url",
            "must be a SQLAlchemy URL",
        ),
        (
            "table: contacts",
            "table: contacts\n      query: SELECT * FROM contacts",
            "sources.crm_contacts.pull.table",
            "declare exactly one of table, query",
        ),
        (
            "table: contacts",
            "table: contacts\n      credentials: {env: CRM_DB_PASSWORD, aws_secret_id: crm}",
            "sources.crm_contacts.pull.credentials",
            "declare exactly one of env, aws_secret_id",
        ),
        (
            "table: contacts",
            "table: contacts\n      json_columns: [name, updated_at]",
            "sources.crm_contacts.pull.json_columns",
            "must not name the watermark column",
        ),
        (
            "table: contacts",
            "table: contacts\n      password: x",
            "sources.crm_contacts.pull.password",
            "unknown key",
        ),
        (
            "table: contacts",
            "table: contacts\n      breaker: {cooldown_minutes: 60, max_cooldown_minutes: 30}",
            "sources.crm_contacts.pull.breaker.max_cooldown_minutes",
            "must be at least cooldown_minutes",
        ),
        ("format: json", "format: csv", "sources.crm_contacts.pull", "declare format: json"),
    ],
)
def test_a_pull_block_s_mistakes_name_file_key_and_reason(tmp_path, old, new, key, reason):
    path = tmp_path / "sources.yaml"
    assert old in BASE
    path.write_text(BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as error:
        load_sources(path)
    assert (error.value.file, error.value.key) == (str(path), key)
    assert reason in error.value.reason
    assert "hunter2" not in str(error.value)


def test_the_demo_crm_changes_daily_with_leads_conversions_and_merges(tmp_path):
    path = tmp_path / "crm.sqlite"
    changed = [play_crm_day(path, START, day) for day in range(4)]
    assert changed[0] == 30 and all(0 < n < 10 for n in changed[1:])
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = {r.contact_id: r for r in connection.execute(sa.select(contacts))}
    masters = {row["customer_id"] for row in customers_snapshot(START, 0)}
    assert {r.customer_ref for r in rows.values() if r.customer_ref} <= masters
    assert any(r.customer_ref is None and r.lifecycle_stage == "lead" for r in rows.values())
    assert (rows["K000025"].customer_ref, rows["K000025"].lifecycle_stage) == ("C00031", "customer")
    # A customer's duplicate merged into its contact (one customer), and two leads merged.
    assert rows["K000101"].merged_into == "K000003"
    assert rows["K000101"].customer_ref == rows["K000003"].customer_ref == "C00003"
    assert rows["K000027"].merged_into == "K000026" and rows["K000027"].customer_ref is None
    for day in range(4):
        play_crm_day(tmp_path / "again.sqlite", START, day)
    assert database_rows(tmp_path / "again.sqlite") == database_rows(path)  # deterministic


def test_the_breaker_opens_after_failures_in_a_row_and_doubles_its_cooldown_to_a_cap():
    breaker = Breaker(failures=3, cooldown_minutes=15, max_cooldown_minutes=40)
    start = evening(0)
    circuit = CLOSED
    for n in (1, 2):
        circuit = after_failure(circuit, breaker, "down", start)
        assert circuit.failures == n and not circuit.is_open(start)
    circuit = after_failure(circuit, breaker, "down", start)
    assert circuit.open_until == start + timedelta(minutes=15) and circuit.is_open(start)
    trial = start + timedelta(minutes=15)
    assert not circuit.is_open(trial)  # the first pull after the cooldown is let through
    circuit = after_failure(circuit, breaker, "still down", trial)
    assert circuit.open_until == trial + timedelta(minutes=30)
    circuit = after_failure(circuit, breaker, "still down", trial + timedelta(minutes=30))
    assert circuit.open_until == trial + timedelta(minutes=70)  # 60 capped at 40
    assert circuit.last_error == "still down" and circuit.opened == 3


def test_a_database_that_keeps_failing_is_left_alone_until_its_cooldown_ends(crm, monkeypatch):
    """Seed 003's circuit breakers for external calls: the CRM's database is missing (its file
    not created yet), so each pull fails; after three the circuit opens, alerts once, refuses
    without connecting and the schedule skips; a failed trial reopens it for twice as long; a
    forced pull once the database is back closes it."""
    settings, resources, path = crm
    start = evening(0)
    for _ in range(3):
        with pytest.raises(PullFailed, match="unable to open database file"):
            pull_declared_source(settings, resources, SOURCE, environ={}, now=start)
    [opened] = [a for a in resources["notifier"].alerts() if a.kind == "pull.circuit_open"]
    assert opened.detail["failures"] == 3
    assert opened.detail["open_until"] == format_instant(start + timedelta(minutes=15))

    connects = []
    create_engine = service.sa.create_engine
    monkeypatch.setattr(service.sa, "create_engine", lambda *a, **k: connects.append(a))
    later = start + timedelta(minutes=5)
    with pytest.raises(CircuitOpen, match="circuit is open after 3 failed pulls in a row"):
        pull_declared_source(settings, resources, SOURCE, environ={}, now=later)
    assert connects == []
    monkeypatch.setattr(service.sa, "create_engine", create_engine)

    schedule = build_definitions(settings, resources).get_schedule_def("pull_crm_contacts_schedule")

    def tick(at):
        context = build_schedule_context(
            scheduled_execution_time=at, resources={"storage": resources["storage"]}
        )
        return schedule(context)

    assert "circuit is open" in tick(later).skip_message
    trial = start + timedelta(minutes=15)
    assert isinstance(tick(trial), RunRequest)
    with pytest.raises(PullFailed, match="unable to open database file"):
        pull_declared_source(settings, resources, SOURCE, environ={}, now=trial)
    circuit = read_state(resources["storage"], SOURCE).circuit
    assert circuit.open_until == trial + timedelta(minutes=30)

    play_crm_day(path, START, 0)  # the database is back
    forced = pull_declared_source(
        settings, resources, SOURCE, environ={}, now=trial + timedelta(minutes=1), force=True
    )
    assert forced.rows == 30
    assert read_state(resources["storage"], SOURCE).circuit == CLOSED
    kinds = [a.kind for a in resources["notifier"].alerts() if a.kind.startswith("pull.")]
    assert kinds == ["pull.circuit_open", "pull.circuit_open", "pull.circuit_closed"]
