"""Alerts go out at least once: a send that fails (SNS in an outage) is made again by the next
pass over the payload, and one that succeeded is not repeated (ADR-0131)."""

from __future__ import annotations

import json

import pytest
from lake_harness import card

from lake_assets.ingestion.intake import land_payload, pending_objects, profile_objects
from resources.notifier import Alert, Notifier

DAY = "2026-03-02"
CARDS = "card_transactions"


class FlakyNotifier(Notifier):
    """Fails its first `failures` sends; hands the others to the lake's notifier."""

    def __init__(self, inner: Notifier, failures: int = 1):
        self.inner, self.failures = inner, failures

    def send(self, alert: Alert) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("SNS is unavailable")
        self.inner.send(alert)


def _profile_pending(lake, notifier):
    settings, res = lake
    pending = pending_objects(res["storage"], res["registry"], CARDS)
    return profile_objects(
        res["storage"], res["registry"], notifier, settings.source(CARDS), pending
    )


def _land(lake, tmp_path, name: str, text: str) -> None:
    settings, res = lake
    (tmp_path / name).write_text(text)
    land_payload(res["storage"], settings.source(CARDS), tmp_path / name, DAY)


def _lines(numbers, renamed: bool) -> str:
    return "".join(json.dumps(card(n, DAY, renamed)) + "\n" for n in numbers)


def _kinds(lake) -> list[str]:
    return [alert.kind for alert in lake[1]["notifier"].alerts()]


def test_a_dead_letter_alert_that_failed_is_sent_by_the_next_pass(local_lake, tmp_path):
    _land(local_lake, tmp_path, "garbage.json", "{not json at all\n")
    flaky = FlakyNotifier(local_lake[1]["notifier"])
    with pytest.raises(ConnectionError):
        _profile_pending(local_lake, flaky)
    assert _kinds(local_lake) == []

    # The file was not recorded: the next pass (a sensor tick) dead-letters it and alerts.
    [outcome] = _profile_pending(local_lake, flaky).outcomes
    assert outcome.status == "DEAD_LETTER"
    assert _kinds(local_lake) == ["payload.dead_lettered"]
    assert _profile_pending(local_lake, flaky).outcomes == []
    assert _kinds(local_lake) == ["payload.dead_lettered"]


def test_a_breaking_schema_alert_that_failed_is_sent_by_the_next_payload(local_lake, tmp_path):
    registry = local_lake[1]["registry"]
    _land(local_lake, tmp_path, "day.json", _lines(range(0, 20), renamed=False))
    _profile_pending(local_lake, local_lake[1]["notifier"])
    _land(local_lake, tmp_path, "renamed.json", _lines(range(20, 40), renamed=True))
    flaky = FlakyNotifier(local_lake[1]["notifier"])
    with pytest.raises(ConnectionError):
        _profile_pending(local_lake, flaky)
    breaking = registry.versions(CARDS)[-1]
    assert breaking.status == "BREAKING" and breaking.alerted_at is None
    assert _kinds(local_lake) == []

    # The same file again (the file was not recorded): the version exists, its alert goes out.
    [outcome] = _profile_pending(local_lake, flaky).outcomes
    assert outcome.version == breaking.version
    assert _kinds(local_lake) == ["schema.breaking"]
    assert registry.versions(CARDS)[-1].alerted_at is not None
    # Another payload of the same shape joins the version and alerts no more.
    _land(local_lake, tmp_path, "renamed-2.json", _lines(range(40, 50), renamed=True))
    [outcome] = _profile_pending(local_lake, flaky).outcomes
    assert outcome.version == breaking.version and _kinds(local_lake) == ["schema.breaking"]
