"""Dead-lettered payloads: reasons that name locations, not values; list and replay, once."""

from __future__ import annotations

import json

import pytest

from lake_assets.cli.main import main
from lake_assets.ingestion.event_dates import partition_rows
from lake_assets.ingestion.intake import land_payload, profile_objects

DAY = "2026-03-02"
EMAIL, PHONE = "jane.doe@example.com", "+60 12-345 6789"


def _land(settings, res, tmp_path, source_id: str, name: str, content: str, source=None):
    source = source or settings.source(source_id)
    path = tmp_path / name
    path.write_text(content)
    info = land_payload(res["storage"], source, path, DAY)
    return profile_objects(res["storage"], res["registry"], res["notifier"], source, [info])


@pytest.mark.parametrize(
    ("source_id", "name", "content", "where"),
    [
        # A CSV row with more fields than its header: pyarrow's message quotes the whole row.
        ("customers", "c.csv", f"customer_id,email\nC1,{EMAIL},{PHONE}\n", "line 2"),
        # An unterminated quote swallows the rest of the file into one field.
        ("customers", "q.csv", f'customer_id,email,phone\nC1,"{EMAIL},{PHONE}\n', "line 2"),
        ("card_transactions", "j.json", f'{{"email": "{EMAIL}", "phone": {PHONE}}}\n', "line 1"),
        # JSON lines sent to a CSV source: a wrong format, not a schema with odd field names.
        (
            "customers",
            "j.csv",
            f'{{"email": "{EMAIL}", "phone": "{PHONE}"}}\n' * 2,
            "line 1 is JSON",
        ),
        # Keys that are one column to Spark, Glue and Athena (ADR-0186): named, not their values.
        (
            "card_transactions",
            "k.json",
            f'{{"email": "{EMAIL}", "Email": "{PHONE}"}}\n',
            "fields 'Email' and 'email': one column (email)",
        ),
    ],
)
def test_dead_letter_reasons_name_the_place_not_the_values(
    local_lake, tmp_path, source_id, name, content, where
):
    settings, res = local_lake
    [outcome] = _land(settings, res, tmp_path, source_id, name, content).outcomes
    assert outcome.status == "DEAD_LETTER"

    record = res["registry"].get_raw_file(source_id, outcome.key)
    reason_file = res["storage"].get_bytes(outcome.dead_letter_key + ".reason.json").decode()
    [alert] = [a.to_json() for a in res["notifier"].alerts()]
    for text in (record.reason, reason_file, alert, outcome.reason):
        # Fragments, not just whole values; none that a timestamp or key could hold by chance.
        for value in (EMAIL, PHONE, "jane", "12-345"):
            assert value not in text
    assert where in record.reason  # the location is kept
    assert outcome.key in alert and outcome.key in reason_file  # and the file


def test_dead_letters_list_and_replay_once_after_the_config_is_fixed(
    local_lake, tmp_path, monkeypatch, capsys
):
    settings, res = local_lake
    sources = tmp_path / "sources.yaml"
    declared = {
        "format": "json",
        "event_time_field": "transaction_date",
        "max_payload_bytes": 100,
    }
    sources.write_text(json.dumps({"sources": {"card_transactions": declared}}))
    monkeypatch.setenv("LAKE_SOURCES_FILE", str(sources))
    # The shipped dependency rules name customers, which this lake does not declare.
    (tmp_path / "dependencies.yaml").write_text("rules: []\n")
    monkeypatch.setenv("LAKE_DEPENDENCIES_FILE", str(tmp_path / "dependencies.yaml"))
    lines = "".join(
        json.dumps(
            {"transaction_id": f"T{i}", "amount": 2.5, "transaction_date": f"{DAY}T10:00:00Z"}
        )
        + "\n"
        for i in range(5)
    )
    (tmp_path / "big.json").write_text(lines)
    ingest = ["ingest", "--source", "card_transactions", "--ingest-date", DAY]
    assert main([*ingest, str(tmp_path / "big.json")]) == 0
    assert main(["profile"]) == 0
    [key] = [i.key for i in res["storage"].list("raw/source=card_transactions/")]
    capsys.readouterr()

    assert main(["dead-letters", "list", "--source", "card_transactions"]) == 0
    listed = capsys.readouterr().out
    assert key in listed and "over the 100-byte limit" in listed
    # Replayed while the cause is still there: it stays a dead letter.
    assert main(["dead-letters", "replay", "card_transactions", key]) == 1
    assert "still dead-lettered" in capsys.readouterr().out

    sources.write_text(
        json.dumps({"sources": {"card_transactions": {**declared, "max_payload_bytes": 10_000}}})
    )
    assert main(["dead-letters", "replay", "card_transactions", key]) == 0
    out = capsys.readouterr().out
    assert "profiled" in out and "5 rows" in out and DAY in out
    record = res["registry"].get_raw_file("card_transactions", key)
    rows_by_date = partition_rows(record, "transaction_date")
    assert (record.status, record.row_count, rows_by_date) == ("PROFILED", 5, {DAY: 5})
    assert record.replayed_at is not None
    assert main(["dead-letters", "replay", "card_transactions", key]) == 0
    assert "nothing to replay" in capsys.readouterr().out
    assert main(["dead-letters", "replay", "card_transactions", "--all"]) == 0
    assert "nothing to replay" in capsys.readouterr().out
    assert res["registry"].get_raw_file("card_transactions", key) == record
    assert main(["dead-letters", "list"]) == 0
    assert key not in capsys.readouterr().out


def test_dead_letters_help_says_which_dead_letters(capsys):
    with pytest.raises(SystemExit):
        main(["dead-letters", "--help"])
    assert "lake events dead-letters" in capsys.readouterr().out
