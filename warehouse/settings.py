"""The project's settings, loaded from sqlmesh.toml (the one place they live)."""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlmesh.core.config import Config

ROOT = Path(__file__).resolve().parents[1]
SETTINGS_FILE = ROOT / "sqlmesh.toml"


@dataclass(frozen=True)
class Settings:
    build_database: Path
    published_database: Path
    shard_dir: Path
    model_cache_dir: Path
    variables: dict
    sqlmesh_config: Config


def load_settings(data_dir: str | Path | None = None) -> Settings:
    """Read sqlmesh.toml. `data_dir` (or $FACTROOTS_DATA_DIR) moves every data file there."""
    raw = tomllib.loads(SETTINGS_FILE.read_text())
    own = raw.pop("factroots")
    data_dir = data_dir or os.environ.get("FACTROOTS_DATA_DIR")
    connection = raw["gateways"]["local"]["connection"]

    def place(relative: str) -> Path:
        path = Path(relative)
        return (Path(data_dir) / path.name) if data_dir else (ROOT / path)

    build_db = place(connection["database"])
    connection["database"] = str(build_db)
    return Settings(
        build_database=build_db,
        published_database=place(own["published_database"]),
        shard_dir=place(own["shard_dir"]),
        model_cache_dir=place(own["model_cache_dir"]),
        variables=raw.get("variables", {}),
        sqlmesh_config=Config.model_validate(raw),
    )
