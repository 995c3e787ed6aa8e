"""What changed since the last good build: the load batches since, and the project it ran with.

Every write to a raw table records a load batch, so the newest batch says whether the data changed.
The project's hash covers what turns data into published tables (models, audits, macros, seeds, the
checks, the publishing step, the warehouse's settings and SQLMesh's version): when it changed, a
build plans, checks and publishes everything again. A good build is recorded in raw.builds.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import sqlmesh

from raw.tables import LOAD_KINDS
from warehouse.settings import ROOT, Settings

# What decides the published tables besides the data: folders (every file in them) and files
PROJECT_PARTS = ("models", "audits", "macros", "seeds", "config.py", "sqlmesh.toml", "external_models.yaml",
                 "warehouse/checks.py", "warehouse/publish.py")


@dataclass(frozen=True)
class BuildState:
    newest_batch: int
    project_sha256: str


def project_sha256(settings: Settings) -> str:
    """Hash of the project's parts that decide the published tables, and of the settings in force."""
    digest = hashlib.sha256(json.dumps([settings.variables, sqlmesh.__version__], sort_keys=True, default=str).encode())
    for part in PROJECT_PARTS:
        path = ROOT / part
        for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def current_state(con, settings: Settings) -> BuildState:
    newest = con.execute("SELECT coalesce(max(load_batch), 0) FROM raw.load_batches").fetchone()[0]
    return BuildState(newest, project_sha256(settings))


def last_build(con) -> BuildState | None:
    row = con.execute("SELECT newest_batch, project_sha256 FROM raw.builds ORDER BY build_no DESC LIMIT 1").fetchone()
    return BuildState(*row) if row else None


def changed_tables(con, since: int) -> set[str] | None:
    """The raw tables written by the load batches after `since`; None when a kind is unknown."""
    kinds = {kind for (kind,) in con.execute("SELECT DISTINCT kind FROM raw.load_batches WHERE load_batch > ?",
                                             [since]).fetchall()}
    if kinds - LOAD_KINDS.keys():
        return None
    return {table.qualified for kind in kinds for table in LOAD_KINDS[kind]}


def record_build(con, state: BuildState, n_published: int) -> None:
    con.execute("INSERT INTO raw.builds SELECT coalesce(max(build_no), 0) + 1, ?, ?, ?, now() FROM raw.builds",
                [state.newest_batch, state.project_sha256, n_published])
