"""The bundled sample (mLAMA layout, WikiExtractor text) and the tiny model built from it."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from transformers import AutoModelForMaskedLM, AutoTokenizer

from compute.tiny import STAMP, build_tiny_model

SAMPLE = Path(__file__).resolve().parents[1] / "sample"
LANGS = ("en", "fr", "de")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def facts(lang: str) -> dict[str, list[dict]]:
    """relation -> fact rows of one language."""
    return {p.stem: read_jsonl(p) for p in sorted((SAMPLE / "mlama" / lang).glob("*.jsonl"))
            if p.name != "templates.jsonl"}


def all_labels() -> set[str]:
    rows = [row for lang in LANGS for fact_rows in facts(lang).values() for row in fact_rows]
    return {row[k] for row in rows for k in ("sub_label", "obj_label")}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(copy of the sample, tiny model built from it in 1 nominal second)."""
    root = tmp_path_factory.mktemp("tiny")
    sample = root / "sample"
    shutil.copytree(SAMPLE, sample)
    return sample, build_tiny_model(sample, root / "model", seconds=1, progress=False)


def test_sample_is_mlama_layout():
    uuids_by_lang = {}
    for lang in LANGS:
        template_rows = read_jsonl(SAMPLE / "mlama" / lang / "templates.jsonl")
        templates = {row["relation"]: row["template"] for row in template_rows}
        rows = facts(lang)
        assert rows and set(rows) <= set(templates)
        for relation in rows:
            assert "[X]" in templates[relation] and "[Y]" in templates[relation]
        uuids = [(row["uuid"], relation) for relation, fact_rows in rows.items() for row in fact_rows]
        assert len({u for u, _ in uuids}) == len(uuids), f"{lang}: duplicate uuid"
        for relation, fact_rows in rows.items():
            assert [row["lineid"] for row in fact_rows] == list(range(len(fact_rows)))
            for row in fact_rows:
                assert set(row) == {"sub_uri", "obj_uri", "obj_label", "sub_label", "lineid", "uuid"}
                assert row["sub_label"] and row["obj_label"] and row["sub_uri"].startswith("Q")
        uuids_by_lang[lang] = dict(uuids)
    assert uuids_by_lang["en"] == uuids_by_lang["fr"] == uuids_by_lang["de"]


def test_sample_wiki_is_wikiextractor_json():
    for lang in LANGS:
        docs = read_jsonl(SAMPLE / "wiki" / lang / "AA" / "wiki_00")
        assert docs and all(set(d) == {"id", "revid", "url", "title", "text"} and d["text"] for d in docs)
        assert len({d["id"] for d in docs}) == len(docs)


def test_sample_files_match_their_generator(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample", SAMPLE / "make_sample.py")
    make_sample = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_sample)
    for lang in LANGS:
        make_sample.write_lang(tmp_path, lang)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    bundled = [p.relative_to(SAMPLE) for sub in ("mlama", "wiki", "paraphrases")
               for p in (SAMPLE / sub).rglob("*") if p.is_file()]
    assert written == sorted(bundled)
    for rel in written:
        assert (tmp_path / rel).read_bytes() == (SAMPLE / rel).read_bytes(), rel


def test_model_and_tokenizer_load_offline(built, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, out = built
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForMaskedLM.from_pretrained(out)
    assert tokenizer.is_fast and tokenizer.mask_token == "[MASK]" and tokenizer.pad_token == "[PAD]"
    assert model.config.vocab_size == len(tokenizer)
    enc = tokenizer("The capital of France is Paris .", return_offsets_mapping=True)
    assert enc.input_ids[0] == tokenizer.cls_token_id and enc.input_ids[-1] == tokenizer.sep_token_id
    start = "The capital of France is Paris .".index("Paris")
    assert (start, start + 5) in enc.offset_mapping
    assert (out / "model.safetensors").exists()


def test_every_label_tokenizes_without_unk(built):
    tokenizer = AutoTokenizer.from_pretrained(built[1])
    for label in all_labels():
        assert tokenizer.unk_token_id not in tokenizer(label, add_special_tokens=False).input_ids, label


def test_cache_reused_then_invalidated(built):
    sample, out = built
    stamp = (out / STAMP).read_text()
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert build_tiny_model(sample, out, seconds=1, progress=False) == out
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes

    wiki = sample / "wiki" / "en" / "AA" / "wiki_00"
    doc = {"id": "x", "revid": "", "url": "", "title": "Extra", "text": "An extra sentence changes the sample."}
    wiki.write_text(wiki.read_text(encoding="utf-8") + json.dumps(doc) + "\n", encoding="utf-8")
    build_tiny_model(sample, out, seconds=1, progress=False)
    assert json.loads((out / STAMP).read_text())["hash"] != json.loads(stamp)["hash"]
    assert AutoModelForMaskedLM.from_pretrained(out) is not None
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".model.")], "temporary build left behind"


def test_refuses_to_replace_a_foreign_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("not a model")
    with pytest.raises(FileExistsError):
        build_tiny_model(SAMPLE, tmp_path, seconds=1, progress=False)
    assert (tmp_path / "keep.txt").exists()
