"""The local Spark JVM's class archive (lake_assets/runtime/class_archive.py): a session built by
the lake takes it when it is there, never over options someone else set, and never leaves it
behind for a process started later; a dump appears whole, under its final name, or not at all.
"""

from __future__ import annotations

import os
import re

import pytest

from lake_assets.runtime import class_archive
from lake_assets.runtime.class_archive import SUBMIT_OPTS, classes_from_archive


@pytest.fixture
def archive(tmp_path, monkeypatch):
    """The archive of the default flags, at a path of the test's own (absent at first)."""
    path = tmp_path / "archives" / "default.jsa"
    monkeypatch.setattr(class_archive, "archive_path", lambda flags="": path)
    monkeypatch.delenv(SUBMIT_OPTS, raising=False)
    return path


def test_a_session_takes_the_archive_only_while_it_starts(archive):
    with classes_from_archive():
        assert SUBMIT_OPTS not in os.environ  # no archive yet: the JVM starts as it would
    archive.parent.mkdir()
    archive.write_bytes(b"archived classes")
    with classes_from_archive():
        opts = os.environ[SUBMIT_OPTS]
    assert f"-XX:SharedArchiveFile={archive}" in opts
    assert "-Xlog:cds=off" in opts  # an archive another Java cannot map is skipped silently
    assert SUBMIT_OPTS not in os.environ  # a later subprocess (another Spark) starts without it


def test_options_someone_else_set_are_kept(archive, monkeypatch):
    archive.parent.mkdir()
    archive.write_bytes(b"archived classes")
    monkeypatch.setenv(SUBMIT_OPTS, "-XX:+UseSerialGC")
    with classes_from_archive():
        assert os.environ[SUBMIT_OPTS] == "-XX:+UseSerialGC"
    assert os.environ[SUBMIT_OPTS] == "-XX:+UseSerialGC"


# Stands in for the JVM: writes the archive where -XX:ArchiveClassesAtExit names it, as the JVM
# does when it exits, and checks that nothing is at the final name meanwhile.
FAKE_JVM = """
import os, re, sys
final = sys.argv[2]
assert not os.path.exists(final), "the archive appeared before the dump ended"
at = re.search(r"-XX:ArchiveClassesAtExit=(\\S+)", os.environ["SPARK_SUBMIT_OPTS"]).group(1)
open(at, "wb").write(b"archived classes")
"""


def test_a_dump_lands_whole_under_its_final_name(archive, monkeypatch):
    monkeypatch.setattr(
        class_archive, "WORKLOAD", FAKE_JVM.replace("sys.argv[2]", repr(str(archive)))
    )
    assert class_archive.dump("-XX:+UseSerialGC") == archive
    assert archive.read_bytes() == b"archived classes"
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]  # no dump folder left
    archive.write_bytes(b"kept")
    class_archive.dump()  # there already: not dumped again
    assert archive.read_bytes() == b"kept"


def test_a_jvm_that_writes_no_archive_is_an_error(archive, monkeypatch):
    monkeypatch.setattr(class_archive, "WORKLOAD", "pass")
    with pytest.raises(RuntimeError, match=re.escape("wrote no class archive")):
        class_archive.dump()
    assert not archive.exists()


def test_a_failed_dump_says_why_and_that_jvms_start_without_it(archive, monkeypatch, capsys):
    monkeypatch.setattr(class_archive, "WORKLOAD", "import sys; sys.exit('no Java here')")
    assert class_archive.main("") == 1
    said = capsys.readouterr().out
    assert "Spark JVMs start without one" in said and "no Java here" in said
    assert not archive.exists()
