"""File-level lineage: tracing through hops, fan-in, fan-out and reruns; stores; OpenLineage."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import UTC

import pytest
from http_receiver import http_receiver

from lake_assets.lineage.cli import add_lineage_commands
from lake_assets.lineage.emitter import LineageEmitter, default_transport, openlineage_run_id
from lake_assets.lineage.graph import impact, render, supersedes_for, to_json, trace
from lake_assets.lineage.model import LineageRun, partition_address, partition_outputs
from resources.aws.dynamo_lineage import DynamoLineageStore
from resources.lineage_store import SQLiteLineageStore

DATASET = "card_transactions"
DAY = "2025-01-01"
ADDRESS = partition_address(DATASET, DAY)


def at(minute: int) -> str:
    return f"2025-01-02T00:{minute:02d}:00+00:00"


def done(run_id, job, inputs, outputs, ended, partition=None, **extra) -> LineageRun:
    return LineageRun(
        run_id=run_id,
        job=job,
        partition=partition,
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        started_at=at(ended - 1),
        ended_at=at(ended),
        state="COMPLETE",
        **extra,
    )


def raw(i: int) -> str:
    return f"raw/source=cards/ingest_date={DAY}/part-{i:03d}.json"


def curated(run_id: str) -> tuple[str, ...]:
    location = f"curated/{DATASET}/run={run_id}/_zone=published/event_date={DAY}/"
    return partition_outputs(DATASET, DAY, location, ["part-0.parquet", "part-1.parquet"])


@pytest.fixture
def fan_in() -> list[LineageRun]:
    """200 raw files staged in 15 batch runs, then one partition built from the 15 batches."""
    batches = []
    for b in range(15):
        files = [raw(i) for i in range(200) if i % 15 == b]
        batches.append(done(f"batch-{b}", "staging/cards", files, [f"staging/batch-{b}/"], 1))
    partition = done(
        "run-1",
        f"curated/{DATASET}",
        [f"staging/batch-{b}/" for b in range(15)],
        curated("run-1"),
        5,
        DAY,
    )
    # START records of the same runs must not count as producers.
    starts = [LineageRun("run-1", f"curated/{DATASET}", DAY, ("x",), curated("run-1"), at(4))]
    return [*batches, partition, *starts]


def test_fan_in_traces_a_partition_to_all_200_raw_files(fan_in):
    tree = trace(fan_in, ADDRESS)
    assert tree.run_id == "run-1"
    assert len(tree.children) == 15
    assert all(child.run_id.startswith("batch-") for child in tree.children)
    assert tree.leaves() == {raw(i) for i in range(200)}
    # A curated file and its partition folder trace to the same raw files.
    file_key = curated("run-1")[1]
    assert trace(fan_in, file_key).leaves() == tree.leaves()
    folder = file_key.rsplit("/", 1)[0] + "/"
    assert trace(fan_in, folder).leaves() == tree.leaves()


def test_fan_out_and_impact_forwards():
    shared = raw(1)
    runs = [
        done(f"run-{t}", f"curated/{t}", [shared, raw(10 + n)], [f"{t}[{DAY}]"], 2 + n, DAY)
        for n, t in enumerate(("cards", "accounts", "fraud"))
    ]
    report = done("rep", "marts/risk", ["fraud[2025-01-01]"], ["marts/risk[2025-01-01]"], 9)
    runs.append(report)
    tree = impact(runs, shared)
    assert {child.key for child in tree.children} == {
        f"{t}[{DAY}]" for t in ("cards", "accounts", "fraud")
    }
    assert tree.leaves() == {"cards[2025-01-01]", "accounts[2025-01-01]", "marts/risk[2025-01-01]"}
    # Each table traces back only to its own raw files plus the shared one.
    assert trace(runs, f"accounts[{DAY}]").leaves() == {shared, raw(11)}
    assert json.loads(json.dumps(to_json(tree)))["leaves"] == sorted(tree.leaves())


def test_multi_hop_trace_renders_every_level():
    runs = [
        done("a", "bronze/x", [raw(1)], ["bronze/x/1"], 1),
        done("b", "silver/x", ["bronze/x/1"], ["silver/x/1"], 2),
        done("c", "gold/x", ["silver/x/1", raw(2)], ["gold/x[d]"], 3, "d"),
    ]
    tree = trace(runs, "gold/x[d]")
    assert tree.leaves() == {raw(1), raw(2)}
    text = render(tree)
    lines = text.splitlines()
    assert lines[0].startswith("gold/x[d]  <- run c (gold/x d)")
    assert f"      {raw(1)}" in lines  # three hops down: gold -> silver -> bronze -> raw
    assert "    bronze/x/1  <- run a (bronze/x)" in lines


def test_rerun_supersedes_the_old_run_and_as_of_answers_for_it():
    first = done("run-1", f"curated/{DATASET}", [raw(1), raw(2)], curated("run-1"), 1, DAY)
    runs = [first]
    link = supersedes_for(runs, curated("run-2"))
    assert link == "run-1"
    # The rerun reads a corrected file and drops raw(2); it republishes the same address.
    rerun = done(
        "run-2", f"curated/{DATASET}", [raw(1), raw(3)], curated("run-2"), 2, DAY, supersedes=link
    )
    runs.append(rerun)
    now = trace(runs, ADDRESS)
    assert (now.run_id, now.supersedes) == ("run-2", "run-1")
    assert now.leaves() == {raw(1), raw(3)}
    assert "supersedes run-1" in render(now)
    assert trace(runs, ADDRESS, as_of_run="run-1").leaves() == {raw(1), raw(2)}
    # Impact follows current producers only: raw(2) feeds nothing published now.
    assert impact(runs, raw(2)).children == ()
    # A file of the replaced version still traces through the run that wrote it.
    assert trace(runs, curated("run-1")[1]).run_id == "run-1"
    assert supersedes_for(runs, [ADDRESS]) == "run-2"
    with pytest.raises(KeyError):
        trace(runs, ADDRESS, as_of_run="nope")


def test_superseded_run_is_ignored_even_if_it_finished_later():
    # An old backfill that finished after the rerun was explicitly superseded by it.
    old = done("old", "j", [raw(1)], ["t[d]"], 9)
    new = done("new", "j", [raw(2)], ["t[d]"], 3, supersedes="old")
    failed = LineageRun("bad", "j", None, (raw(3),), ("t[d]",), at(10), at(11), "FAIL")
    assert trace([old, new, failed], "t[d]").leaves() == {raw(2)}


def test_cycles_terminate():
    runs = [
        done("a", "j", ["k2", raw(1)], ["k1"], 1),
        done("b", "j", ["k1"], ["k2"], 2),
    ]
    tree = trace(runs, "k1")
    assert tree.leaves() == {raw(1)}
    assert "(cycle)" in render(tree)
    assert impact(runs, "k1").children[0].children[0].cycle


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return SQLiteLineageStore(tmp_path / "lineage.db")
    endpoint = request.getfixturevalue("aws_endpoint")
    return DynamoLineageStore.create_table(
        "lake-lineage", endpoint_url=endpoint, region="eu-west-1"
    )


def test_stores_round_trip_and_upsert(store, fan_in):
    column = {
        "amount_eur": [
            {"input": "raw/cards.amount", "transformation": "TRANSFORMATION", "masking": False}
        ]
    }
    start = LineageRun("run-9", "j", DAY, (raw(1),), ("t[d]",), at(1), column_lineage=column)
    for run in [*fan_in, start, start]:
        store.put_run(run)
    store.put_run(start.finished("COMPLETE", at(2)))
    runs = store.runs()
    assert len(runs) == len(fan_in) + 2  # START and COMPLETE of run-9, no duplicates
    assert start in runs and start.finished("COMPLETE", at(2)) in runs
    assert trace(runs, ADDRESS).leaves() == {raw(i) for i in range(200)}
    assert {r.run_id for r in store.runs_touching(raw(1))} == {"batch-1", "run-9"}
    assert store.breaker_state() is None
    store.put_breaker_state({"circuit": {"failures": 2}, "missed_since": at(1)})
    store.put_breaker_state({"circuit": {"failures": 3}, "missed_since": at(1)})
    assert store.breaker_state() == {"circuit": {"failures": 3}, "missed_since": at(1)}
    assert len(store.runs()) == len(fan_in) + 2  # the breaker's state is no run


def _events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_emitter_file_transport_writes_start_and_complete(tmp_path, monkeypatch):
    monkeypatch.delenv("LAKE_OPENLINEAGE_URL", raising=False)
    column = {
        "card_number_masked": [
            {"input": "raw/cards.card_number", "transformation": "TRANSFORMATION", "masking": True}
        ],
        "daily_total": [
            {"input": "raw/cards.amount", "transformation": "AGGREGATION", "masking": False}
        ],
    }
    start = LineageRun(
        "run-1",
        f"curated/{DATASET}",
        DAY,
        (raw(1),),
        curated("run-1"),
        at(1),
        code_version="abc123",
        schema_version="v3",
        supersedes="run-0",
        column_lineage=column,
    )
    emitter = LineageEmitter(default_transport(tmp_path), "file:///lake")
    emitter.emit(start)
    emitter.emit(start.finished("COMPLETE", at(2)))
    events = _events(tmp_path / "lineage" / "events.jsonl")
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert len({e["run"]["runId"] for e in events}) == 1
    facet = events[1]["run"]["facets"]["lakehouse"]
    assert facet["codeVersion"] == "abc123" and facet["schemaVersion"] == "v3"
    assert facet["supersedes"] == openlineage_run_id("run-0")
    assert [i["name"] for i in events[1]["inputs"]] == [raw(1)]
    address = next(o for o in events[1]["outputs"] if o["name"] == ADDRESS)
    fields = address["facets"]["columnLineage"]["fields"]
    masked = fields["card_number_masked"]["inputFields"][0]
    assert (masked["name"], masked["field"]) == ("raw/cards", "card_number")
    assert masked["transformations"] == [
        {"type": "DIRECT", "subtype": "TRANSFORMATION", "masking": True}
    ]
    assert fields["daily_total"]["inputFields"][0]["transformations"][0]["subtype"] == "AGGREGATION"
    assert events[1]["eventTime"] == at(2)


def test_emitter_http_transport_posts_to_a_lineage_server(tmp_path, monkeypatch):
    with http_receiver(201) as (url, posted):
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("LAKE_OPENLINEAGE_URL", url)
        emitter = LineageEmitter(default_transport(tmp_path), "s3://lakehouse")
        start = LineageRun("run-1", "curated/x", DAY, (raw(1),), ("x[d]",), at(1))
        emitter.emit(start)
        emitter.emit(start.finished("FAIL", at(2)))
    received = [{"path": p.path, "event": json.loads(p.body)} for p in posted]
    assert [r["path"] for r in received] == ["/api/v1/lineage"] * 2
    assert [r["event"]["eventType"] for r in received] == ["START", "FAIL"]
    assert received[0]["event"]["run"]["runId"] == received[1]["event"]["run"]["runId"]
    assert not (tmp_path / "lineage").exists()


def test_cli_trace_and_impact(tmp_path, capsys, fan_in):
    from resources.storage import LocalStorage

    store = SQLiteLineageStore(tmp_path / "lineage.db")
    for run in fan_in:
        store.put_run(run)
    storage = LocalStorage(tmp_path / "lake")
    top = argparse.ArgumentParser()
    add_lineage_commands(
        top.add_subparsers(dest="command"), lambda s: {"lineage": store, "storage": storage}
    )

    args = top.parse_args(["lineage", "trace", storage.uri(curated("run-1")[1]), "--json"])
    assert args.run(args, None) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run_id"] == "run-1" and len(out["leaves"]) == 200

    args = top.parse_args(["lineage", "impact", raw(7)])
    assert args.run(args, None) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == raw(7)
    assert any(line.strip().startswith(f"{ADDRESS}  <- run run-1") for line in lines)


def test_rerun_of_one_partition_keeps_the_range_run_for_the_others():
    both = done("range", "j", [raw(1), raw(2)], ["t[a]", "t[b]"], 1)
    rerun = done("again", "j", [raw(3)], ["t[a]"], 2, supersedes="range")
    runs = [both, rerun]
    assert trace(runs, "t[a]").leaves() == {raw(3)}
    assert trace(runs, "t[b]").leaves() == {raw(1), raw(2)}
    assert {c.key for c in impact(runs, raw(1)).children} == {"t[b]"}


def test_recorder_tracks_a_rerun_and_a_failure(tmp_path, monkeypatch):
    from lake_assets.lineage.emitter import LineageRecorder

    monkeypatch.delenv("LAKE_OPENLINEAGE_URL", raising=False)
    store = SQLiteLineageStore(tmp_path / "lineage.db")
    recorder = LineageRecorder(store, LineageEmitter(default_transport(tmp_path), "file:///lake"))
    for run_id, inputs in (("run-1", [raw(1), raw(2)]), ("run-2", [raw(1), raw(3)])):
        run = LineageRun(run_id, f"curated/{DATASET}", DAY, tuple(inputs), (ADDRESS,), at(1))
        with recorder.track(run) as outputs:
            outputs.extend(curated(run_id))
    with (
        pytest.raises(RuntimeError),
        recorder.track(
            LineageRun("run-3", f"curated/{DATASET}", DAY, (raw(4),), (ADDRESS,), at(5))
        ),
    ):
        raise RuntimeError("audit failed")

    runs = store.runs()
    assert {(r.run_id, r.state) for r in runs} == {
        ("run-1", "START"),
        ("run-1", "COMPLETE"),
        ("run-2", "START"),
        ("run-2", "COMPLETE"),
        ("run-3", "START"),
        ("run-3", "FAIL"),
    }
    tree = trace(runs, ADDRESS)
    assert (tree.run_id, tree.supersedes, tree.leaves()) == ("run-2", "run-1", {raw(1), raw(3)})
    events = _events(tmp_path / "lineage" / "events.jsonl")
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"] * 2 + ["START", "FAIL"]


def test_an_interrupted_run_is_aborted_and_a_lineage_server_down_fails_nothing(tmp_path):
    """A run stopped from outside (Dagster's interruption is a BaseException, as is Ctrl-C)
    ends ABORT, not FAIL; an OpenLineage server that refuses every event loses none of it:
    the store has the run, and the publish the run wraps goes on."""
    from dagster._core.errors import DagsterExecutionInterruptedError

    from lake_assets.lineage.emitter import LineageRecorder

    class Unreachable:
        def emit(self, run):
            raise ConnectionError("lineage server down")

    store = SQLiteLineageStore(tmp_path / "lineage.db")
    recorder = LineageRecorder(store, Unreachable())
    run = LineageRun("run-1", f"curated/{DATASET}", DAY, (raw(1),), (ADDRESS,), at(1))
    with pytest.raises(DagsterExecutionInterruptedError), recorder.track(run) as outputs:
        outputs.extend(curated("run-1"))
        raise DagsterExecutionInterruptedError()
    published = []
    with recorder.track(replace(run, run_id="run-2")) as outputs:
        outputs.extend(curated("run-2"))
        published.append("run-2")
    assert published == ["run-2"]
    assert {(r.run_id, r.state) for r in store.runs()} == {
        ("run-1", "START"),
        ("run-1", "ABORT"),
        ("run-2", "START"),
        ("run-2", "COMPLETE"),
    }


def test_events_a_lineage_server_missed_are_sent_again_from_the_store(
    tmp_path, monkeypatch, caplog, capsys
):
    """The server is down while a run is recorded: the warning says how to send it again, and
    `lake lineage resend --since` does, in order, leaving out runs that started before."""
    from types import SimpleNamespace

    from lake_assets.lineage.emitter import LineageRecorder
    from resources.storage import LocalStorage

    class Unreachable:
        def emit(self, run):
            raise ConnectionError("lineage server down")

    store = SQLiteLineageStore(tmp_path / "lineage.db")
    store.put_run(done("earlier", "j", [raw(9)], ["t[a]"], 1))  # started at(0)
    recorder = LineageRecorder(store, Unreachable())
    with recorder.track(LineageRun("missed", "j", DAY, (raw(1),), (ADDRESS,), at(1))) as out:
        out.append(ADDRESS)
    assert f"`lake lineage resend --since {at(1)}` sends it again" in caplog.text

    top = argparse.ArgumentParser()
    storage = LocalStorage(tmp_path / "lake")
    add_lineage_commands(
        top.add_subparsers(dest="command"), lambda s: {"lineage": store, "storage": storage}
    )
    args = top.parse_args(["lineage", "resend", "--since", at(1)])
    with http_receiver(201) as (url, posted):
        monkeypatch.delenv("LAKE_OPENLINEAGE_URL", raising=False)
        with pytest.raises(ValueError, match="LAKE_OPENLINEAGE_URL is not set"):
            args.run(args, SimpleNamespace(state_dir=tmp_path))
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("LAKE_OPENLINEAGE_URL", url)
        assert args.run(args, SimpleNamespace(state_dir=tmp_path)) == 0
    received = [json.loads(p.body) for p in posted]
    assert [(e["eventType"], e["run"]["runId"]) for e in received] == [
        ("START", openlineage_run_id("missed")),
        ("COMPLETE", openlineage_run_id("missed")),
    ]
    assert received[1]["outputs"]  # the complete run claims what it published
    assert f"sent 2 events of 1 runs started since {at(1)}" in capsys.readouterr().out


def test_a_lineage_server_that_keeps_failing_is_left_alone_then_gets_what_it_missed(
    tmp_path, monkeypatch, caplog
):
    """ADR-0153: through the HTTP transport runs use, a server answering 503 fails a run's two
    events and opens the circuit: the runs recorded during the cooldown never call it (nothing
    posted), even once it is back; the first run after the cooldown sends, in order, every
    event the server missed before its own, and the circuit closes."""
    from datetime import datetime, timedelta

    from lake_assets.lineage.emitter import LineageRecorder

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    answer = {"status": 503}
    store = SQLiteLineageStore(tmp_path / "lineage.db")
    now = [datetime(2025, 1, 2, tzinfo=UTC)]
    with http_receiver(lambda: answer["status"]) as (url, posted):
        emitter = LineageEmitter(default_transport(tmp_path, url), "file:///lake")
        recorder = LineageRecorder(store, emitter, clock=lambda: now[0])

        def run(n: int) -> None:
            started = LineageRun(f"run-{n}", "j", DAY, (raw(n),), (ADDRESS,), at(n))
            with recorder.track(started) as outputs:
                outputs.append(ADDRESS)

        run(1)  # START and COMPLETE fail: the circuit opens for 10 minutes
        tried = len(posted)
        assert tried == 2 * 3  # each event tried three times (two retries)
        assert store.breaker_state()["missed_since"] == at(1)
        now[0] += timedelta(minutes=1)
        run(2)
        answer["status"] = 201  # back, but the circuit is still open: left alone
        now[0] += timedelta(minutes=5)
        run(3)
        assert len(posted) == tried
        assert "not sent: the circuit is open after 2 failed lineage events" in caplog.text
        now[0] += timedelta(minutes=5)  # the cooldown is over: the next event is the trial
        run(4)
    received = [json.loads(p.body) for p in posted[tried:]]
    assert [(e["eventType"], e["run"]["runId"]) for e in received] == [
        (state, openlineage_run_id(f"run-{n}"))
        for n in (1, 2, 3, 4)
        for state in ("START", "COMPLETE")
    ]
    assert store.breaker_state() == {
        "circuit": {"failures": 0, "opened": 0, "open_until": None, "last_error": ""}
    }


def test_recorder_claims_no_outputs_when_nothing_was_published(tmp_path, monkeypatch):
    from lake_assets.lineage.emitter import LineageRecorder

    monkeypatch.delenv("LAKE_OPENLINEAGE_URL", raising=False)
    store = SQLiteLineageStore(tmp_path / "lineage.db")
    recorder = LineageRecorder(store, LineageEmitter(default_transport(tmp_path), "file:///lake"))
    with recorder.track(LineageRun("blocked", "j", DAY, (raw(1),), (ADDRESS,), at(1))):
        pass  # every partition blocked by a contract
    complete = next(r for r in store.runs() if r.state == "COMPLETE")
    assert complete.outputs == () and trace(store.runs(), ADDRESS).run_id is None


def test_a_window_run_traces_each_partition_to_its_own_inputs():
    """A daily run re-publishes several days; each day's lineage is its own raw files."""
    from lake_assets.lineage.graph import impact, trace
    from lake_assets.lineage.model import LineageRun, partition_address, partition_outputs

    day1, day2 = ("raw/d1/a.json", "raw/d1/b.json"), ("raw/d2/c.json",)
    run = LineageRun(
        run_id="window",
        job="curated/cards",
        partition="2026-03-01..2026-03-02",
        inputs=day1 + day2,
        outputs=(
            *partition_outputs("cards", "2026-03-01", "curated/cards/w/d1/", ["p1.parquet"]),
            *partition_outputs("cards", "2026-03-02", "curated/cards/w/d2/", ["p2.parquet"]),
        ),
        started_at="2026-03-03T00:00:00+00:00",
        ended_at="2026-03-03T00:01:00+00:00",
        state="COMPLETE",
        partition_inputs={
            partition_address("cards", "2026-03-01"): day1,
            partition_address("cards", "2026-03-02"): day2,
        },
    )
    assert trace([run], "cards[2026-03-01]").leaves() == set(day1)
    assert trace([run], "curated/cards/w/d2/p2.parquet").leaves() == set(day2)
    assert impact([run], "raw/d2/c.json").leaves() == {
        "cards[2026-03-02]",
        "curated/cards/w/d2/p2.parquet",
    }
    assert LineageRun.from_dict(run.to_dict()) == run


def test_a_year_of_backfill_records_its_lineage_on_either_store(store):
    """A year's backfill of a source delivering eight files a day names some 3,000 raw keys,
    twice (inputs, and per partition): 460 KB of JSON, past DynamoDB's 400 KB item. The run
    failed after it had published, and every drain after tried the same record again."""
    from datetime import date, datetime, timedelta

    from lake_assets.lineage.emitter import LineageRecorder

    class Quiet:
        def emit(self, run):
            return run

    days = [(date(2025, 1, 1) + timedelta(n)).isoformat() for n in range(365)]
    raw = {
        d: tuple(
            f"raw/card_transactions/ingest_date={d}/cards_{d}_{h:02d}00.json"
            for h in range(0, 24, 3)
        )
        for d in days
    }
    per_partition = {partition_address("card_transactions", d): raw[d] for d in days}
    started = LineageRun(
        "0b8c9d2e-1111-4a4a-9b9b-123456789abc", "curated/card_transactions",
        f"{days[0]}..{days[-1]}", tuple(k for d in days for k in raw[d]), tuple(per_partition),
        datetime.now(UTC).isoformat(), partition_inputs=per_partition,
    )  # fmt: skip
    assert len(json.dumps(started.to_dict())) > 400_000
    with LineageRecorder(store, Quiet()).track(started) as outputs:
        for d in days:
            folder = f"curated/card_transactions/run={started.run_id}/event_date={d}"
            outputs.extend(partition_outputs("card_transactions", d, folder, ["part-0.parquet"]))
    address = partition_address("card_transactions", days[100])
    assert trace(store.runs(), address).leaves() == set(raw[days[100]])


def test_an_event_of_a_run_that_started_before_the_first_miss_is_sent_when_the_server_answers(
    tmp_path,
):
    """One event failed (the circuit still closed) and marked what is owed from its run's
    start. A longer run that started before it then finished: the resend from that mark left
    out the finishing run's own event and closed the breaker, so the server never heard the
    run complete."""
    from datetime import datetime

    from lake_assets.lineage.emitter import LineageRecorder

    class FailsOnce:
        def __init__(self):
            self.sent, self.fail_next = [], 0

        def emit(self, run):
            if self.fail_next:
                self.fail_next -= 1
                raise ConnectionError("server down")
            self.sent.append((run.run_id, run.state))
            return run

    store, emitter = SQLiteLineageStore(tmp_path / "l.db"), FailsOnce()
    recorder = LineageRecorder(store, emitter, clock=lambda: datetime(2026, 3, 3, 12, tzinfo=UTC))
    long = LineageRun("long", "j", "d", ("raw/a",), ("ds[d]",), "2026-03-03T10:00:00+00:00")
    recorder.record(long)
    short = LineageRun("short", "j", "d2", ("raw/b",), ("ds[d2]",), "2026-03-03T10:05:00+00:00")
    emitter.fail_next = 1
    recorder.record(short)
    recorder.record(long.finished("COMPLETE", "2026-03-03T10:30:00+00:00"))
    assert ("long", "COMPLETE") in emitter.sent and ("short", "START") in emitter.sent


def test_a_complete_record_only_grows_whoever_writes_it_and_in_whatever_order(store):
    """The run completes its record with every partition it published, and the sensor's drain
    of its outbox (another process) with the one it drained, from what it read before. The
    later write replaced the record: the drain's stale one dropped a published partition's
    producer for good (the outbox entries were gone)."""
    p1 = partition_outputs("ds", "2026-03-01", "curated/ds/run=X/event_date=2026-03-01", ["a"])
    p2 = partition_outputs("ds", "2026-03-02", "curated/ds/run=X/event_date=2026-03-02", ["b"])
    start = LineageRun(
        "X", "curated/ds", "2026-03-01..2026-03-02", ("raw/1", "raw/2"),
        ("ds[2026-03-01]", "ds[2026-03-02]"), at(0),
        partition_inputs={"ds[2026-03-01]": ("raw/1",), "ds[2026-03-02]": ("raw/2",)},
    )  # fmt: skip
    store.put_run(start)
    by_the_run = replace(start, outputs=(*p1, *p2)).finished("COMPLETE", at(2))
    by_the_drain = replace(start, outputs=p1).finished("COMPLETE", at(1))
    assert store.put_run(by_the_run).outputs == (*p1, *p2)
    assert store.put_run(by_the_drain).outputs == (*p1, *p2)  # stale, and merged
    [complete] = [r for r in store.runs() if r.state == "COMPLETE"]
    assert complete.outputs == (*p1, *p2)
    assert trace(store.runs(), "ds[2026-03-02]").leaves() == {"raw/2"}


def test_on_dynamodb_a_merged_write_that_lost_the_race_reads_again(aws_endpoint, monkeypatch):
    """Two writers of one record: the one whose read is stale (it read before the other's
    write) fails its conditional put, reads again and merges with what won."""
    store = DynamoLineageStore.create_table(
        "lake-lineage", endpoint_url=aws_endpoint, region="eu-west-1"
    )
    p1, p2 = ("ds[1]", "curated/ds/1/a"), ("ds[2]", "curated/ds/2/b")
    start = LineageRun("X", "curated/ds", None, ("raw/1", "raw/2"), ("ds[1]", "ds[2]"), at(0))
    store.put_run(replace(start, outputs=(*p1, *p2)).finished("COMPLETE", at(2)))
    get_item, reads = store._dynamo.get_item, []

    def read_before_the_winner(**request):
        reads.append(request["Key"]["state"]["S"])
        return {} if len(reads) == 1 else get_item(**request)

    monkeypatch.setattr(store._dynamo, "get_item", read_before_the_winner)
    kept = store.put_run(replace(start, outputs=p1).finished("COMPLETE", at(1)))
    assert reads == ["COMPLETE", "COMPLETE"] and kept.outputs == (*p1, *p2)


def test_a_rerun_over_the_ranges_of_two_runs_retires_what_it_rewrote_of_each(tmp_path):
    """R1 published days 1-2, R2 days 3-4; R3 reruns days 2-3, day 3 from raw/3b (raw/3 set
    aside). R3 supersedes one run (R1): R2's day 3 stayed current, so `impact(raw/3)` named a
    replaced file as fed today and a trace of the table's folder reached the set-aside raw/3."""
    runs = []
    for run_id, minute, inputs_of in (
        ("R1", 0, {"1": "raw/1", "2": "raw/2"}),
        ("R2", 1, {"3": "raw/3", "4": "raw/4"}),
        ("R3", 2, {"2": "raw/2", "3": "raw/3b"}),
    ):
        outputs = tuple(
            key
            for day in inputs_of
            for key in partition_outputs(
                "ds", day, f"curated/ds/run={run_id}/event_date={day}", ["p"]
            )
        )
        pins = {partition_address("ds", day): (raw,) for day, raw in inputs_of.items()}
        started = LineageRun(
            run_id, "curated/ds", None, tuple(inputs_of.values()), outputs, at(minute),
            partition_inputs=pins, supersedes=supersedes_for(runs, outputs),
        )  # fmt: skip
        runs.append(started.finished("COMPLETE", at(minute + 1)))
    assert runs[-1].supersedes == "R1"
    assert trace(runs, "ds[3]").leaves() == {"raw/3b"}
    assert impact(runs, "raw/3").leaves() == {"raw/3"}  # feeds nothing published
    assert trace(runs, "curated/ds/").leaves() == {"raw/1", "raw/2", "raw/3b", "raw/4"}
