"""The history in the asset graph: customers CSV snapshots landed, profiled, promoted and applied
by `history/customers`, a re-delivered day as a correction, a late day under each policy, and
`lake scd` on the command line."""

from __future__ import annotations

import dataclasses

from lake_harness import failure_message

from lake_assets.cli.main import main
from lake_assets.cli.runs import materialize_partitions
from lake_assets.history.apply import WHOLE_TABLE, current_history, history_dataset
from lake_assets.history.assets import history_key_of
from lake_assets.history.merge import as_of

HEADER = "customer_id,full_name,email,phone,segment,date_of_birth,risk_score,snapshot_date\n"
MON, TUE, WED = "2026-03-02", "2026-03-03", "2026-03-04"


def snapshot(day: str, segments: dict[str, str]) -> str:
    return HEADER + "".join(
        f"{customer},Nur Tan,{customer.lower()}@example.my,+60121234567,{segment},1980-01-01,50,{day}\n"
        for customer, segment in segments.items()
    )


def land(lake, day: str, segments: dict[str, str], name: str | None = None) -> None:
    lake.deliver("customers", day, name or f"customers_{day}.csv", snapshot(day, segments))
    assert lake.profile("customers", day).success
    promoted = lake.promote("customers", day)
    assert promoted.success, failure_message(promoted)


def apply(lake, first: str, last: str | None = None):
    return materialize_partitions(
        lake.settings,
        [history_key_of("customers")],
        first,
        last,
        resources=lake.resources,
        instance=lake.instance,
    )


def segments_on(lake, spark, day: str, known_at: str | None = None) -> dict[str, str]:
    history = current_history(spark, lake.catalog, lake.storage, "customers")
    known = known_at or "2999-01-01T00:00:00"
    return {r["customer_id"]: r["segment"] for r in as_of(history, day, known).collect()}


def test_snapshots_flow_into_history_and_a_redelivery_is_a_correction(lake, spark):
    land(lake, MON, {"C00001": "retail", "C00002": "sme"})
    land(lake, TUE, {"C00001": "premier"})
    result = apply(lake, MON, TUE)  # one run over both days, applied in date order
    assert result.success, failure_message(result)
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    [check] = result.get_asset_check_evaluations()
    assert check.check_name == "valid_intervals_disjoint" and check.passed
    # Two versions of C00001 and the soft-closed C00002, all recorded at once: nothing superseded.
    assert metadata["recorded"].value == 3 and metadata["superseded"].value == 0
    assert segments_on(lake, spark, MON) == {"C00001": "retail", "C00002": "sme"}
    assert segments_on(lake, spark, TUE) == {"C00001": "premier"}  # C00002 soft-deleted
    before = lake.catalog.current(history_dataset("customers"), WHOLE_TABLE).published_at

    # Monday is delivered again, corrected: the new file replaces the first in curated...
    land(lake, MON, {"C00001": "private", "C00002": "sme"}, name="customers_fixed.csv")
    curated = {
        r["customer_id"]: r["segment"] for r in lake.rows(spark, "customers", [MON]).collect()
    }
    assert curated == {"C00001": "private", "C00002": "sme"}
    # ...and applying Monday again amends the past version; Tuesday's stays as recorded.
    corrected = apply(lake, MON)
    assert corrected.success, failure_message(corrected)
    metadata = corrected.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["corrected"].value == [MON]
    assert segments_on(lake, spark, MON) == {"C00001": "private", "C00002": "sme"}
    assert segments_on(lake, spark, MON, known_at=before) == {"C00001": "retail", "C00002": "sme"}
    assert segments_on(lake, spark, TUE) == {"C00001": "premier"}

    # Lineage: the history version traces back to the curated snapshot it applied.
    runs = [r for r in lake.lineage.runs() if r.job == "history/customers"]
    latest = max((r for r in runs if r.state == "COMPLETE"), key=lambda r: r.started_at)
    # Correcting Monday re-read Tuesday too: both snapshots are inputs of the new version.
    assert latest.inputs == (f"customers[{MON}]", f"customers[{TUE}]")
    assert any(o.startswith("curated/customers_history/run=") for o in latest.outputs)
    # ...column by column, so access restrictions follow it (issue 14).
    assert latest.column_lineage["segment"][0]["input"] == "customers.segment"
    assert latest.column_lineage["valid_from"][0]["input"] == "customers.snapshot_date"


def test_late_snapshot_rejected_with_an_alert_or_resequenced(lake, spark):
    land(lake, MON, {"C00001": "retail"})
    land(lake, WED, {"C00001": "private"})
    assert apply(lake, MON).success and apply(lake, WED).success
    land(lake, TUE, {"C00001": "premier"})

    source = lake.settings.sources["customers"]
    rejecting = dataclasses.replace(
        source, history=dataclasses.replace(source.history, out_of_order="reject")
    )
    lake.resources["settings"] = lake.settings = dataclasses.replace(
        lake.settings, sources={**lake.settings.sources, "customers": rejecting}
    )
    refused = apply(lake, TUE)
    assert not refused.success
    assert "2026-03-03 arrived after 2026-03-04" in failure_message(refused)
    alert = lake.notifier.alerts()[-1]
    assert alert.kind == "history.out_of_order" and alert.detail["late"] == [TUE]
    assert segments_on(lake, spark, TUE) == {"C00001": "retail"}  # nothing changed

    lake.resources["settings"] = lake.settings = dataclasses.replace(
        lake.settings, sources={**lake.settings.sources, "customers": source}
    )
    resequenced = apply(lake, TUE)
    assert resequenced.success, failure_message(resequenced)
    assert segments_on(lake, spark, TUE) == {"C00001": "premier"}
    assert segments_on(lake, spark, WED) == {"C00001": "private"}


def test_lake_scd_as_of_and_apply_on_the_command_line(lake, spark, monkeypatch, capsys):
    monkeypatch.setenv("LAKE_ROOT", str(lake.root))
    monkeypatch.setenv("LAKE_CONTRACTS_DIR", str(lake.settings.contracts_dir))
    land(lake, MON, {"C00001": "retail", "C00002": "sme"})
    land(lake, TUE, {"C00001": "premier", "C00002": "sme"})
    assert main(["scd", "apply", "customers", "--date", MON, "--to", TUE]) == 0
    applied = capsys.readouterr().out
    assert applied.count("applied 2026-03-02, 2026-03-03 from 2026-03-02") == 1

    assert main(["scd", "as-of", "customers", "--valid-at", MON, "--key", "C00001"]) == 0
    out = capsys.readouterr().out
    assert "1 rows" in out and "\tretail\t" in out and "premier" not in out
    assert main(["scd", "as-of", "customers", "--valid-at", TUE]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("customers as true on 2026-03-03") and "2 rows" in lines[0]
    assert [line.split("\t")[0] for line in lines[2:]] == ["C00001", "C00002"]
    # Known before anything was applied: nothing was believed yet.
    assert main(["scd", "as-of", "customers", "--valid-at", TUE, "--known-at", "2000-01-01"]) == 0
    assert "0 rows" in capsys.readouterr().out
    assert main(["scd", "as-of", "card_transactions", "--valid-at", TUE]) == 2
    assert "card_transactions keeps no history" in capsys.readouterr().err
