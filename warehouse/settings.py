"""The settings in force for one warehouse, and the one place they are read.

The project's defaults live in sqlmesh.toml. A warehouse overrides the user settings among them
(the method's [variables] and DuckDB's memory limit) in `factroots.toml` in its data directory,
one `name = value` line each; the file starts as every default, commented out with its explanation.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlmesh.core.config import Config

ROOT = Path(__file__).resolve().parents[1]
DEFAULTS_FILE = ROOT / "sqlmesh.toml"
# Where the memory limit sits in sqlmesh.toml; every other user setting is one of its [variables].
MEMORY_LIMIT_AT = ("gateways", "local", "connection", "connector_config")
# What a user setting must be beyond the type of its default: (test, what it must be).
RULES = {
    "k_neurons": (lambda v: v >= 1, "at least 1"),
    "layer_bins": (lambda v: v >= 1, "at least 1"),
    "probeless_population": (lambda v: v in ("correct", "all"), '"correct" or "all"'),
    "theta": (lambda v: 0 <= v <= 1, "between 0 and 1"),
    "theta_grid": (lambda v: v and all(0 <= t <= 1 for t in v), "a non-empty list of numbers between 0 and 1"),
    "ig_steps": (lambda v: v >= 1, "at least 1"),
    "attribution_floor": (lambda v: 0 <= v <= 1, "between 0 and 1"),
    "kn_population": (lambda v: v in ("correct", "all"), '"correct" or "all"'),
    "kn_threshold": (lambda v: 0 <= v <= 1, "between 0 and 1"),
    "kn_query_share": (lambda v: 0 < v <= 1, "above 0 and at most 1"),
    "laa_threshold": (lambda v: 0 <= v <= 1, "between 0 and 1"),
    "laa_min_languages": (lambda v: v >= 1, "at least 1"),
    "intervention_k": (lambda v: v >= 1, "at least 1"),
    "memory_limit": (lambda v: re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", v, re.I), 'a size such as "8GB"'),
}
# `name = value  # explanation` in sqlmesh.toml
_DEFAULT_LINE = re.compile(r"^(\w+) = (.+?)  # (.+)$", re.M)


class SettingsError(ValueError):
    """A factroots.toml that cannot be used; the message names the file and, where it can, the line."""


@dataclass(frozen=True)
class Setting:
    name: str
    value: object
    default_toml: str  # the default as written in sqlmesh.toml
    explanation: str
    source: str        # "default", or the factroots.toml that set it


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    data_dir_source: str  # "--data-dir", "$FACTROOTS_DATA_DIR" or "default"
    settings_file: Path   # the warehouse's factroots.toml
    build_database: Path
    published_database: Path
    shard_dir: Path
    model_cache_dir: Path
    user_settings: dict[str, Setting]
    variables: dict
    sqlmesh_config: Config


def load_settings(data_dir: str | Path | None = None) -> Settings:
    """The defaults of sqlmesh.toml overridden by the data directory's factroots.toml, if any.

    The data directory is `data_dir`, else $FACTROOTS_DATA_DIR, else warehouse/data in the project;
    every file the warehouse writes goes there, SQLMesh's cache included."""
    defaults_text = DEFAULTS_FILE.read_text()
    project = tomllib.loads(defaults_text)
    own = project.pop("factroots")
    if data_dir:
        data, data_source = Path(data_dir), "--data-dir"
    elif os.environ.get("FACTROOTS_DATA_DIR"):
        data, data_source = Path(os.environ["FACTROOTS_DATA_DIR"]), "$FACTROOTS_DATA_DIR"
    else:
        data, data_source = ROOT / own["data_dir"], "default"
    data = data.absolute()
    settings_file = data / own["settings_file"]

    sections = {name: project["variables"] for name in project["variables"]}
    sections["memory_limit"] = _dig(project, MEMORY_LIMIT_AT)
    written = {name: (toml, explanation) for name, toml, explanation in _DEFAULT_LINE.findall(defaults_text)}
    overrides = _read_overrides(settings_file, sections)
    user_settings = {}
    for name, section in sections.items():
        if name in overrides:
            section[name] = overrides[name]
        toml, explanation = written[name]
        user_settings[name] = Setting(name, section[name], toml, explanation,
                                      str(settings_file) if name in overrides else "default")

    connection = project["gateways"]["local"]["connection"]
    connection["database"] = str(data / connection["database"])
    project["cache_dir"] = str(data / own["sqlmesh_cache_dir"])
    return Settings(
        data_dir=data,
        data_dir_source=data_source,
        settings_file=settings_file,
        build_database=Path(connection["database"]),
        published_database=data / own["published_database"],
        shard_dir=data / own["shard_dir"],
        model_cache_dir=data / own["model_cache_dir"],
        user_settings=user_settings,
        variables=project["variables"],
        sqlmesh_config=Config.model_validate(project),
    )


def _dig(table: dict, keys: tuple[str, ...]) -> dict:
    for key in keys:
        table = table[key]
    return table


def _read_overrides(path: Path, sections: dict[str, dict]) -> dict[str, object]:
    """{name: value} set in a factroots.toml, each checked against its default; {} when there is none."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: {error}") from None

    def where(name: str) -> str:
        found = re.search(rf"^\s*\[?\s*{re.escape(name)}\s*[=\]]", text, re.M)
        return f"{path}:{text.count(chr(10), 0, found.start()) + 1}" if found else str(path)

    checked = {}
    for name, value in values.items():
        if name not in sections:
            raise SettingsError(f"{where(name)}: unknown setting {name!r} (known: {', '.join(sections)})")
        default = sections[name][name]
        typed = _typed(value, default)
        test, must_be = RULES.get(name, (lambda v: True, ""))
        if typed is None:
            raise SettingsError(f"{where(name)}: {name} must be {_kind(default)}, not {value!r}")
        if not test(typed):
            raise SettingsError(f"{where(name)}: {name} must be {must_be}, not {value!r}")
        checked[name] = typed
    return checked


def _typed(value, default):
    """`value` with the type of `default` (a whole number becomes a float where one is expected), or None."""
    if isinstance(default, list):
        items = [_typed(v, default[0]) for v in value] if isinstance(value, list) else [None]
        return None if None in items else items
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value if type(value) is type(default) else None


def _kind(default) -> str:
    if isinstance(default, list):
        return f"a list of {_kind(default[0]).split(' ', 1)[1]}s"
    return {bool: "a boolean", int: "a whole number", float: "a number", str: "a string"}[type(default)]


def write_settings_file(settings: Settings) -> bool:
    """Write factroots.toml, every default commented out with its explanation, unless it exists."""
    path = settings.settings_file
    if path.exists():
        return False
    lines = ["# Settings of this warehouse. Each default of the project (sqlmesh.toml) is below, commented out:",
             "# remove the '# ' before a setting and change its value to override it for this warehouse.",
             "# `factroots settings` shows the values in force; the next `factroots build` recomputes",
             "# only the tables that depend on a changed setting.", ""]
    for setting in settings.user_settings.values():
        lines += [f"# {setting.explanation}", f"# {setting.name} = {setting.default_toml}", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return True


def settings_lines(settings: Settings) -> list[str]:
    """Every value in force, with where it came from."""
    state = "" if settings.settings_file.exists() else " (absent: every value is the default)"
    lines = [f"data directory: {settings.data_dir}  ({settings.data_dir_source})",
             f"settings file: {settings.settings_file}{state}"]
    shown = {name: f"{name} = {_toml(s.value)}" for name, s in settings.user_settings.items()}
    width = max(map(len, shown.values()))
    for name, setting in settings.user_settings.items():
        lines.append(f"  {shown[name]:<{width}}  from {'the default' if setting.source == 'default' else 'factroots.toml'}")
    lines += ["files (in the data directory):",
              f"  build database      {settings.build_database}",
              f"  published database  {settings.published_database}",
              f"  probe shards        {settings.shard_dir}",
              f"  model cache         {settings.model_cache_dir}",
              f"  SQLMesh cache       {settings.sqlmesh_config.cache_dir}"]
    return lines


def _toml(value) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else str(value)
