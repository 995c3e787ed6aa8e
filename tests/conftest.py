"""Shared fixtures: a throw-away data directory and small mLAMA releases written by hand."""
from __future__ import annotations

import json
import zlib
from pathlib import Path

import duckdb
import pytest

from ingest.mlama import ingest_mlama
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


OBJECTS = ("Paris", "Rome", "New York City", "Doncaster", "Hilton", "France", "Italy")


def warehouse(tmp_path, name: str, n_facts: int):
    """A data directory with n_facts facts in en and de (one P19 template each): u000, u001, ..."""
    settings = load_settings(tmp_path / name)
    facts = [fact(f"u{i:03d}", "Allan", OBJECTS[i % len(OBJECTS)]) for i in range(n_facts)]
    release = write_release(tmp_path / f"{name}-release", {
        "en": {"templates": {"P19": "[X] was born in [Y] ."}, "facts": {"P19": facts}},
        "de": {"templates": {"P19": "[X] died in [Y] ."}, "facts": {"P19": facts}}})
    ingest_mlama(settings.build_database, release, progress=False)
    return settings


# Neuron sets made by hand for every probed fact (in place of a build), as `intervene` reads them
HAND_MADE_SETS = """
CREATE SCHEMA intermediate;
CREATE TABLE intermediate.int_active_neurons AS
SELECT model_id, lang, uuid, unnest([3, 70, 127]) AS neuron_id, unnest([1, 2, 3]) AS neuron_rank
FROM raw.predictions;
CREATE TABLE intermediate.int_knowledge_neurons AS
SELECT model_id, lang, uuid, unnest(CASE lang WHEN 'en' THEN [5, 64] ELSE [5, 100] END) AS neuron_id
FROM raw.predictions;
CREATE TABLE intermediate.int_language_agnostic_neurons AS
SELECT DISTINCT model_id, uuid, 5 AS neuron_id FROM raw.predictions;
"""


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
