"""Hands the settings in force (sqlmesh.toml, overridden by the data directory's factroots.toml) to SQLMesh."""
from warehouse.settings import load_settings

config = load_settings().sqlmesh_config
