"""A reader holding the build database: one line naming the file, and where readers belong."""
from __future__ import annotations

import subprocess
import sys

import pytest

from raw import db


def hold(settings):
    """A reader process with a read-only connection on the build database, as a notebook would hold."""
    reader = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               f"reader = duckdb.connect({str(settings.build_database)!r}, read_only=True); "
                               "print('held', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "held"
    return reader


def test_a_held_build_database_is_one_clear_line(settings):
    db.connect(settings.build_database).close()
    reader = hold(settings)
    try:
        with pytest.raises(db.DatabaseLockedError) as error:
            db.connect(settings.build_database)
        message = str(error.value)
        assert "\n" not in message
        assert message.startswith(f"{settings.build_database} is held by another process (")
        assert f"PID {reader.pid}" in message and message.endswith("readers belong on the published file")
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
    db.connect(settings.build_database).close()  # free again once the reader is gone


def test_commands_on_a_held_build_database_say_so_in_one_line(tmp_path, settings, capsys):
    from conftest import fact, write_release
    from warehouse.cli import main

    release = write_release(tmp_path / "rel", {"en": {"templates": {"P36": "[X] is [Y] ."},
                                                      "facts": {"P36": [fact("u1", "A", "B")]}}})
    data = ["--data-dir", str(settings.build_database.parent), "--quiet"]
    db.connect(settings.build_database).close()
    reader = hold(settings)
    try:
        for command in (["ingest-mlama", str(release)], ["build"], ["check"]):
            assert main(data + command) == 1, command
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and "is held by another process" in err[0], (command, err)
    finally:
        reader.stdin.close()
        reader.wait(timeout=30)
