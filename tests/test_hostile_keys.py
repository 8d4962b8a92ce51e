"""Keys built from what users and producers hand us: a path is never a date, a source id or a
file name; an object whose date is not in the calendar is held and reported, never a crash."""

from __future__ import annotations

import json

import boto3
import pytest
from dagster import build_sensor_context
from lake_harness import failure_message

from lake_assets.cli.main import main
from lake_assets.ingestion.intake import land_payload
from lake_assets.settings import ConfigError, load_sources
from resources.storage import LocalStorage

CARDS = "card_transactions"


def _use_lake(monkeypatch, lake) -> None:
    """`lake` commands in this process see the harness's lake."""
    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    monkeypatch.delenv("LAKE_PROFILE", raising=False)


def _forged_payload(tmp_path):
    path = tmp_path / "forged.json"
    row = {"transaction_id": "FORGED", "amount": 1e6, "transaction_date": "2026-03-02T01:00:00Z"}
    path.write_text(json.dumps(row) + "\n")
    return path


def _published_lake(lake):
    lake.deliver_cards("2026-03-02", range(0, 5))
    assert lake.profile(CARDS, "2026-03-02").success
    result = lake.promote(CARDS, "2026-03-02")
    assert result.success, failure_message(result)
    return lake.catalog.current(CARDS, "2026-03-02")


def test_an_ingest_date_that_is_a_path_plants_nothing_in_a_published_partition(
    lake, spark, tmp_path, monkeypatch, capsys
):
    published = _published_lake(lake)
    _use_lake(monkeypatch, lake)
    # The SQLite stores under _state/ change their own files; the rest of the lake must not.
    before = sorted(i.key for i in lake.storage.list("") if not i.key.startswith("_state/"))
    forged = _forged_payload(tmp_path)
    # raw/source=card_transactions/ingest_date=<this>/<name>: four levels up is the lake root.
    for target in (published.location, "_state/", "quarantine/card_transactions/"):
        attack = f"2026-03-05/../../../{target}"
        with pytest.raises(SystemExit) as exited:
            main(["ingest", "--source", CARDS, "--ingest-date", attack, str(forged)])
        assert exited.value.code == 2
        assert "--ingest-date" in capsys.readouterr().err

    keys = sorted(i.key for i in lake.storage.list(""))
    assert [k for k in keys if not k.startswith("_state/")] == before
    assert not [k for k in keys if "forged" in k]
    rows = lake.rows(spark, CARDS)
    assert rows.count() == 5 and rows.filter("transaction_id = 'FORGED'").count() == 0


def test_landing_refuses_every_key_part_outside_its_grammar(lake, tmp_path):
    source = lake.settings.source(CARDS)
    forged = _forged_payload(tmp_path)
    for bad_date in ("2026-03-05/../../../curated", "2026-13-45", "2026-3-8", "notadate", ""):
        with pytest.raises(ValueError, match="ingest date"):
            land_payload(lake.storage, source, forged, bad_date)
    assert not [i.key for i in lake.storage.list("") if not i.key.startswith("_state/")]


def test_a_stray_file_in_a_published_folder_is_not_read(lake, spark, tmp_path):
    published = _published_lake(lake)
    # Whoever wrote it, a file the manifest does not list is not part of the version.
    [data] = [i.key for i in lake.storage.list(published.location) if i.key.endswith(".parquet")]
    lake.storage.copy(data, published.location + "stray.parquet")
    assert lake.rows(spark, CARDS).count() == 5


def test_a_missing_listed_file_fails_the_read_naming_it(lake, spark):
    published = _published_lake(lake)
    manifest = json.loads(lake.storage.get_bytes(published.location + "_manifest.json"))
    missing = published.location + manifest["files"][0]
    LocalStorage(lake.root)._path(missing).unlink()
    with pytest.raises(FileNotFoundError, match=manifest["files"][0]):
        lake.rows(spark, CARDS).count()


@pytest.mark.parametrize(
    "key",
    [
        "raw/../curated/x.parquet",
        "raw/./x.json",
        "raw//x.json",
        "/raw/x.json",
        "raw\\x.json",
        "raw/source=a/..",
        "",
    ],
)
def test_storage_refuses_a_key_that_is_not_normalised(key, tmp_path, request):
    from test_store_contracts import BUCKET, REGION, _bucket

    from resources.aws.s3 import S3Storage

    endpoint = request.getfixturevalue("aws_endpoint")
    _bucket(endpoint)
    backends = [
        LocalStorage(tmp_path / "lake"),
        S3Storage(BUCKET, "lake", endpoint_url=endpoint, region=REGION),
    ]
    for storage in backends:
        with pytest.raises(ValueError, match="key"):
            storage.put_bytes(key, b"x")
        with pytest.raises(ValueError, match="key"):
            storage.get_bytes(key)
    assert list(backends[0].list("")) == []
    # Seen through a client of the test's own: listing the whole bucket is no call of the code's
    # (tests/aws_calls.py records what the code calls).
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_a_source_id_that_is_a_path_fails_at_load(tmp_path):
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  ../../evil:\n    format: json\n    event_time_field: ts\n")
    with pytest.raises(ConfigError) as error:
        load_sources(path)
    assert error.value.file == str(path)
    assert error.value.key == "sources.../../evil"
    assert "source id" in error.value.reason


@pytest.mark.parametrize("day", ["2026-13-45", "2026-3-8", "notadate", "2099-01-01", "2019-01-01"])
def test_lake_ingest_refuses_a_date_that_is_not_in_the_calendar(day, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.delenv("LAKE_PROFILE", raising=False)
    payload = _forged_payload(tmp_path)
    try:
        code = main(["ingest", "--source", CARDS, "--ingest-date", day, str(payload)])
    except SystemExit as exited:
        code = exited.code
    assert code == 2
    assert day in capsys.readouterr().err
    assert not (tmp_path / "lake" / "raw").exists()


def _put_raw(storage, day: str, name: str = "cards.json", source: str = CARDS) -> str:
    key = f"raw/source={source}/ingest_date={day}/{name}"
    line = {"transaction_id": "T1", "amount": 2.5, "transaction_date": "2026-03-02T01:00:00Z"}
    storage.put_bytes(key, (json.dumps(line) + "\n").encode())
    return key


ODD_DAYS = ["2099-01-01", "2026-13-45", "2026-3-8", "notadate", "2019-06-30"]


def test_the_sensor_holds_odd_dates_and_still_serves_valid_ones(lake):
    from lake_assets.definitions import build_definitions

    for day in ODD_DAYS:
        _put_raw(lake.storage, day)
    valid = _put_raw(lake.storage, "2026-03-02", source="customers", name="customers.csv")
    defs = build_definitions(lake.settings, lake.resources)
    sensor = defs.resolve_sensor_def("raw_arrivals")
    context = build_sensor_context(
        resources={k: lake.resources[k] for k in ("arrivals", "registry", "notifier", "storage")},
        definitions=defs,
        instance=lake.instance,
    )
    result = sensor.evaluate_tick(context)
    assert [r.partition_key for r in result.run_requests] == ["2026-03-02"]
    assert result.run_requests[0].tags["lake/source"] == "customers"
    assert valid.startswith("raw/source=customers/")
    [alert] = [a for a in lake.notifier.alerts() if a.kind == "raw.held"]
    held = {h["raw_key"]: h["reason"] for h in alert.detail["held"]}
    assert len(held) == len(ODD_DAYS)
    assert "after today" in held[f"raw/source={CARDS}/ingest_date=2099-01-01/cards.json"]
    assert (
        "not a real calendar day" in held[f"raw/source={CARDS}/ingest_date=2026-13-45/cards.json"]
    )
    assert "before" in held[f"raw/source={CARDS}/ingest_date=2019-06-30/cards.json"]


def test_lake_profile_holds_odd_dates_and_goes_on_to_the_next_source(lake, monkeypatch, capsys):
    _use_lake(monkeypatch, lake)
    for day in ODD_DAYS:
        _put_raw(lake.storage, day)
    _put_raw(lake.storage, "2026-03-02")  # a valid card file beside them
    lake.storage.put_bytes(
        "raw/source=customers/ingest_date=2026-03-02/customers.csv",
        b"customer_id,name,snapshot_date\nC1,Ann,2026-03-02\n",
    )
    assert main(["profile"]) == 0
    out = capsys.readouterr().out
    assert f"{CARDS}: 1 profiled, 0 dead-lettered, 1 new versions, 5 held" in out
    assert "customers: 1 profiled" in out
    assert "ingest_date=notadate/cards.json: ingest date 'notadate' is not a date" in out
    indexed = {r.key for r in lake.registry.raw_files(CARDS)}
    assert indexed == {f"raw/source={CARDS}/ingest_date=2026-03-02/cards.json"}
    assert any(a.kind == "raw.held" for a in lake.notifier.alerts())
    # Every byte stays in raw.
    assert len(list(lake.storage.list(f"raw/source={CARDS}/"))) == len(ODD_DAYS) + 1
