"""Hands sqlmesh.toml to SQLMesh, which reads no TOML itself."""
from warehouse.settings import load_settings

config = load_settings().sqlmesh_config
