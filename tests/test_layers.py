"""The code's structure: imports only go down, and each raw table is declared once."""
from __future__ import annotations

import ast
from pathlib import Path

import pyarrow as pa

from raw import tables

ROOT = Path(__file__).resolve().parents[1]
# bottom first: a package may import its own layer and the layers below it, never one above
LAYERS = {"raw": 0, "compute": 1, "ingest": 2, "warehouse": 3}


def upward_imports(root: Path) -> list[str]:
    """'file: imports X' for every import of a higher layer by a lower one, in the packages under root."""
    found = []
    for package, rank in LAYERS.items():
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    top = name.split(".")[0]
                    if LAYERS.get(top, -1) > rank:
                        found.append(f"{path.relative_to(root)}: imports {name}")
    return found


def test_no_layer_imports_a_higher_one():
    assert upward_imports(ROOT) == []


def test_the_walk_finds_an_upward_import(tmp_path):
    for package, body in {"raw": "import os\n", "compute": "from raw import db\n",
                          "ingest": "def f():\n    from warehouse.build import build\n",
                          "warehouse": "import ingest.shards\n"}.items():
        (tmp_path / package).mkdir()
        (tmp_path / package / "m.py").write_text(body)
    assert upward_imports(tmp_path) == ["ingest/m.py: imports warehouse.build"]


def test_external_models_yaml_is_the_declaration():
    assert tables.EXTERNAL_MODELS.read_text() == tables.external_models_yaml()


def test_ddl_creates_the_declared_columns(tmp_path):
    from raw import db

    con = db.connect(tmp_path / "build.duckdb")
    try:
        for table in tables.TABLES:
            columns = con.execute("SELECT column_name, data_type, comment FROM duckdb_columns() "
                                  "WHERE schema_name = 'raw' AND table_name = ? ORDER BY column_index",
                                  [table.name]).fetchall()
            assert [(c.name, c.comment) for c in table.columns] == [(name, comment) for name, _, comment in columns]
            # DuckDB reads each declared type back as the Arrow type the schemas derived from it use
            read_back = con.execute(f"SELECT * FROM {table.qualified} LIMIT 0").to_arrow_table().schema
            utc = pa.timestamp("us", tz="UTC")
            assert [utc if f.type == pa.timestamp("us", tz="Etc/UTC") else f.type for f in read_back] == \
                table.arrow_schema().types
    finally:
        con.close()
