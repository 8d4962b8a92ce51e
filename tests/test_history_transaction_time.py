"""Transaction time is commit time: an answer "as known at T" never changes after T.

A reader polls "as known now" while applies publish; each publish of the history is held until
the reader has asked during it, so the window between writing a version and making it visible
is exercised every time, without timing. Afterwards every recorded instant is asked again.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from functools import partial

from test_history import MON, TUE, WED, History

from lake_assets.history.apply import apply_snapshots, current_history, history_dataset
from lake_assets.history.merge import as_of
from lake_assets.runtime.jobs import run_job
from resources.catalog import SQLiteCatalog

DATASET = history_dataset("customers")


class HeldPublish:
    """Wraps the writer's catalog: every publish of the history waits until the reader has
    asked a question that started after the publish began (while the new version is written
    but not yet switched in, or switched in and not yet committed)."""

    def __init__(self, catalog: SQLiteCatalog):
        self.catalog = catalog
        self.turn = threading.Condition()
        self.requested = self.answered = 0
        self.closed = False

    def __getattr__(self, name):
        return getattr(self.catalog, name)

    def publish(self, entry, expected_run_id=None):
        if entry.dataset == DATASET:
            with self.turn:
                self.requested += 1
                asked = self.requested
                self.turn.notify_all()
                self.turn.wait_for(lambda: self.answered >= asked)
        return self.catalog.publish(entry, expected_run_id)

    def next_question(self) -> int | None:
        """Block until a publish waits for a question; None once the writer is done."""
        with self.turn:
            self.turn.wait_for(lambda: self.closed or self.requested > self.answered)
            return None if self.closed else self.requested

    def answered_up_to(self, request: int) -> None:
        with self.turn:
            self.answered = request
            self.turn.notify_all()

    def close(self) -> None:
        with self.turn:
            self.closed = True
            self.turn.notify_all()


def apply(history: History, day: str) -> None:
    """Apply on the real clock: the reader compares its own clock with transaction times."""
    history.deliveries += 1
    apply_snapshots(
        partial(run_job, history.spark),
        history.catalog,
        history.storage,
        history.source,
        [day],
        run_id=f"apply-{history.deliveries}",
    )


def segments(frame) -> dict[str, str]:
    return {r["customer_id"]: r["segment"] for r in frame.collect()}


def test_an_answer_as_of_an_instant_never_changes_after_it(tmp_path, spark):
    history = History(tmp_path / "lake", spark)
    writer = HeldPublish(history.catalog)
    history.catalog = writer
    # The reader has a catalog of its own on the same store, as another process would.
    reader_catalog = SQLiteCatalog(tmp_path / "lake" / "_state" / "catalog.db")
    answers: list[tuple[datetime, str, dict]] = []
    failures: list[BaseException] = []

    def read_as_known_now() -> None:
        while (request := writer.next_question()) is not None:
            try:
                for day in (MON, TUE):
                    now = datetime.now(UTC)
                    try:
                        frame = current_history(spark, reader_catalog, history.storage, "customers")
                    except LookupError:  # nothing applied yet
                        answers.append((now, day, {}))
                        continue
                    answers.append((now, day, segments(as_of(frame, day, now))))
            except BaseException as error:  # surfaced by the main thread
                failures.append(error)
            writer.answered_up_to(request)

    reader = threading.Thread(target=read_as_known_now)
    reader.start()
    try:
        history.deliver(MON, {"C1": "retail", "C2": "sme"})
        apply(history, MON)
        history.deliver(TUE, {"C1": "premier", "C2": "sme"})
        apply(history, TUE)
        history.deliver(MON, {"C1": "private", "C2": "sme"})  # a correction of Monday
        apply(history, MON)
        history.deliver(WED, {"C1": "premier"})
        apply(history, WED)
    finally:
        writer.close()
        reader.join()
    assert not failures, failures
    assert writer.answered >= 4  # at least one question during each apply's publish
    final = current_history(spark, reader_catalog, history.storage, "customers")
    assert segments(as_of(final, MON, datetime.now(UTC))) == {"C1": "private", "C2": "sme"}
    changed = [
        (now.isoformat(), day, seen, again)
        for now, day, seen in answers
        if (again := segments(as_of(final, day, now))) != seen
    ]
    assert changed == [], f"{len(changed)} of {len(answers)} answers changed: {changed[:3]}"
