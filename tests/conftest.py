"""Shared fixtures: a throw-away data directory and small mLAMA releases written by hand."""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import duckdb
import pytest

from warehouse.settings import load_settings

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE = Path(__file__).resolve().parents[1] / "sample"
needs_shared = pytest.mark.skipif(not SHARED_DATA.exists(), reason="../shared/data is not present")


def write_release(root: Path, languages: dict[str, dict]) -> Path:
    """Write an mLAMA-layout release: {lang: {"templates": {rel: tpl}, "facts": {rel: [fact, ...]}}}.

    A fact is a dict (written as JSON) or a str/bytes line written as it is."""
    for lang, content in languages.items():
        folder = root / lang
        folder.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"relation": r, "template": t}) for r, t in content.get("templates", {}).items()]
        (folder / "templates.jsonl").write_text("\n".join(lines) + "\n")
        for relation, facts in content.get("facts", {}).items():
            with open(folder / f"{relation}.jsonl", "wb") as out:
                for fact in facts:
                    if isinstance(fact, dict):
                        fact = json.dumps(fact, ensure_ascii=False)
                    out.write((fact.encode() if isinstance(fact, str) else fact) + b"\n")
    return root


def fact(uuid: str, sub: str, obj: str, lineid: int = 0) -> dict:
    return {"sub_uri": f"Q{zlib.crc32(sub.encode())}", "obj_uri": f"Q{zlib.crc32(obj.encode())}",
            "sub_label": sub, "obj_label": obj, "lineid": lineid, "uuid": uuid}


def rows(database, sql: str, params=()) -> list[tuple]:
    """Run one query on a DuckDB file through a read-only connection."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


@pytest.fixture
def settings(tmp_path):
    return load_settings(tmp_path / "data")


@pytest.fixture(scope="session")
def default_bert(tmp_path_factory) -> Path:
    """The demo's tiny BERT, trained as the demo trains it, once per test session."""
    from compute.tiny import build_tiny_model
    return build_tiny_model(SAMPLE, tmp_path_factory.mktemp("default-models") / "tiny-bert", progress=False)


@pytest.fixture(scope="session")
def default_gpt2(tmp_path_factory) -> Path:
    """The demo's tiny GPT-2, trained as the demo trains it, once per test session."""
    from compute.tiny import build_tiny_causal_model
    return build_tiny_causal_model(SAMPLE, tmp_path_factory.mktemp("default-models") / "tiny-gpt2", progress=False)
