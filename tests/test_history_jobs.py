"""The history's Spark jobs run through Dagster Pipes (the path EMR Serverless takes) give what
the in-process runner gives: the same history rows, counts and check, the same as-of rows."""

from __future__ import annotations

from functools import partial

from test_history import MON, TUE, History

from lake_assets.history.apply import apply_snapshots, history_as_of
from lake_assets.runtime.jobs import run_job
from resources.spark_runner import PipesSubprocessRunner, run_standalone


def apply_and_ask(history: History, run):
    """Two snapshots applied in one run, then what was true on Tuesday as known now."""
    history.deliver(MON, {"C1": "retail", "C2": "sme", "C3": "retail"})
    history.deliver(TUE, {"C1": "premier", "C3": "retail"})
    applied = apply_snapshots(
        run,
        history.catalog,
        history.storage,
        history.source,
        [MON, TUE],
        run_id="apply-1",
        clock=lambda: history.clock,  # the same commit instant in both lakes
    )
    return applied, history_as_of(
        run, history.catalog, history.storage, history.source, TUE, history.clock
    )


def test_apply_and_as_of_over_pipes_match_the_in_process_jobs(tmp_path, spark):
    in_process, piped = History(tmp_path / "local", spark), History(tmp_path / "pipes", spark)
    local, local_answer = apply_and_ask(in_process, partial(run_job, spark))
    remote, remote_answer = apply_and_ask(piped, partial(run_standalone, PipesSubprocessRunner()))

    assert (remote.rows, remote.recorded, remote.superseded) == (4, 4, 0)
    assert (local.rows, local.recorded, local.superseded) == (4, 4, 0)
    assert remote.overlapping_versions == local.overlapping_versions == 0
    assert remote.published.columns == local.published.columns

    def stored(history: History) -> list[dict]:
        return sorted(history.rows(), key=lambda r: (r["customer_id"], str(r["valid_from"])))

    assert stored(piped) == stored(in_process)
    # The as-of rows travel as JSON values: dates and instants as text, as `lake` prints them.
    assert remote_answer == local_answer
    assert [(r["customer_id"], r["segment"], r["valid_from"]) for r in remote_answer] == [
        ("C1", "premier", TUE),
        ("C3", "retail", MON),
    ]
