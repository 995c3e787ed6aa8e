"""A reader holding the build database: one line naming the file, and where readers belong."""
from __future__ import annotations

import subprocess
import sys

import pytest

from raw import db


def test_a_held_build_database_is_one_clear_line(settings):
    db.connect(settings.build_database).close()
    reader = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; "
                               f"reader = duckdb.connect({str(settings.build_database)!r}, read_only=True); "
                               "print('held', flush=True); sys.stdin.read()"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "held"
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
