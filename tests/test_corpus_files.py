"""Corpus files that are not what they claim: refused whole, the corpus loaded before left as it was.

Each test loads a good corpus first, then a bad one for the same language, and checks that every
raw table is unchanged after the refusal.
"""
from __future__ import annotations

import bz2
import gzip
import json
import random
import re
from pathlib import Path

import pytest
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers.models import WordLevel

from conftest import rows
from ingest.problems import IngestError
from ingest.wikipedia import ingest_wikipedia
from warehouse.cli import main
from warehouse.settings import load_settings

TABLES = ("raw.wiki_corpora", "raw.wiki_documents", "raw.wiki_segments", "raw.quarantine", "raw.load_batches")


def word_tokenizer() -> Tokenizer:
    tokenizer = Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


def json_lines(n: int, text: str = "Document {i} is fine.") -> bytes:
    return "".join(json.dumps({"id": str(i), "title": f"T{i}", "text": text.format(i=i)}) + "\n"
                   for i in range(n)).encode()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def ingest(settings, source, **kwargs):
    return ingest_wikipedia(settings.build_database, source, "en", word_tokenizer(), workers=1, progress=False, **kwargs)


def everything(settings) -> list[list[tuple]]:
    return [rows(settings.build_database, f"SELECT * FROM {table} ORDER BY ALL") for table in TABLES]


@pytest.fixture
def good(tmp_path, settings):
    """A good 40-document corpus loaded, and every raw table's rows after it."""
    write(tmp_path / "good" / "AA" / "wiki_00", json_lines(40))
    assert ingest(settings, tmp_path / "good").n_documents == 40
    return everything(settings)


def refused(settings, source, match: str, **kwargs) -> str:
    """The one-line IngestError of a load of `source`."""
    with pytest.raises(IngestError, match=match) as error:
        ingest(settings, source, **kwargs)
    message = str(error.value)
    assert "\n" not in message and "Nothing loaded, wikipedia en is as it was" in message
    return message


@pytest.mark.parametrize("encoding, reason", [
    ("utf-16", "starts with a UTF-16-LE byte-order mark: UTF-16-LE text, not UTF-8"),
    ("utf-16-be", r"NUL bytes \(\d+ of the line's \d+\): looks like UTF-16, not UTF-8 text"),
    ("utf-32", "starts with a UTF-32-LE byte-order mark: UTF-32-LE text, not UTF-8"),
])
def test_utf16_and_utf32_files_are_refused(tmp_path, settings, good, encoding, reason):
    text = json_lines(30).decode()
    write(tmp_path / "bad" / "AA" / "wiki_00", text.encode(encoding))
    refused(settings, tmp_path / "bad", rf"bad/AA/wiki_00:1: file refused: {reason}\. ")
    assert everything(settings) == good


def test_random_bytes_are_refused(tmp_path, settings, good):
    noise = random.Random(9).randbytes(50_000)
    write(tmp_path / "bad" / "wiki_00", noise)
    first_nul_line = noise[:noise.index(b"\0")].count(b"\n") + 1
    refused(settings, tmp_path / "bad", rf"wiki_00:{first_nul_line}: file refused: NUL bytes .*binary data")
    # without NUL bytes: hardly a line is UTF-8, so the file is not the text it would be
    write(tmp_path / "bad" / "wiki_00", noise.replace(b"\0", b" "))
    n_lines = sum(1 for line in noise.replace(b"\0", b" ").split(b"\n") if line.strip())
    message = refused(settings, tmp_path / "bad", r"wiki_00:1: file refused: ")
    n_bad = int(re.search(r"([\d,]+) of its", message).group(1).replace(",", ""))
    assert n_bad > 0.9 * n_lines and "not a UTF-8 text file" in message
    assert everything(settings) == good


def test_many_control_characters_are_not_text(tmp_path, settings, good):
    lines = [f"Line {i} is plain text." for i in range(20)]
    lines[7] = "ctrl \x01\x02\x1b\x7f and \u0085 here"     # five controls (C0, DEL, C1); tab and CR are allowed
    lines[3] = "tab\tand carriage return\r inside"
    source = write(tmp_path / "bad" / "wiki_00", "\n".join(lines).encode())
    n_chars = sum(len(line) for line in lines)  # plain text: one document per line
    assert 5 > 0.01 * n_chars
    refused(settings, source, rf"wiki_00:8: file refused: {5 / n_chars:.1%} of its characters are control "
                              r"characters \(more than 1%\): not text")
    assert everything(settings) == good
    # a few in a large file stay under the bound and load
    write(source, "\n".join(lines + [f"Line {i} is long enough to dilute them." for i in range(200)]).encode())
    assert ingest(settings, source).n_documents == 220


def test_json_lines_of_non_objects_are_refused(tmp_path, settings, good):
    records = [json.dumps(["12", "text of the array"]), *(json.dumps([str(i), "text"]) for i in range(1, 30))]
    source = write(tmp_path / "bad" / "wiki_00.jsonl", ("\n".join(records) + "\n").encode())
    refused(settings, source, r"wiki_00.jsonl:1: file refused: 30 of its 30 records bad \(first: malformed_json: "
                              r"line is not a JSON object\): not a WikiExtractor JSON-lines file")
    # objects without id and text: as bad, though JSON objects
    write(source, b"".join(json.dumps({"title": f"T{i}"}).encode() + b"\n" for i in range(30)))
    refused(settings, source, r"wiki_00.jsonl:1: file refused: 30 of its 30 records bad \(first: missing_field")
    assert everything(settings) == good


def test_docs_that_never_close_are_refused(tmp_path, settings, good):
    blocks = [f'<doc id="{i}" url="u" title="t">\nt\n\nbody {i}\n' for i in range(15)]
    source = write(tmp_path / "bad" / "wiki_00", ("".join(blocks) + "</doc>\n").encode())
    refused(settings, source, r"wiki_00:1: file refused: 14 of its 15 records bad \(first: unclosed_doc: .*\): "
                              r"not a WikiExtractor <doc> file")
    assert everything(settings) == good


def truncated_bz2(n_documents: int) -> tuple[bytes, int]:
    """A bzip2 stream of n JSON lines cut in half, and the complete lines in what can still be read."""
    data = bz2.compress(json_lines(n_documents), compresslevel=1)  # 100 kB blocks: several of them
    cut = data[: len(data) // 2]
    readable = bz2.BZ2Decompressor().decompress(cut)      # the complete blocks before the cut
    return cut, readable.count(b"\n")


def test_a_truncated_bz2_is_refused_then_kept_with_keep_partial(tmp_path, settings, good):
    cut, n_readable = truncated_bz2(8000)
    assert 0 < n_readable < 8000
    source = tmp_path / "bad"
    write(source / "AA" / "wiki_00.bz2", cut)
    write(source / "AA" / "wiki_01", json_lines(5).replace(b'"id": "', b'"id": "b'))
    refused(settings, source, rf"bad/AA/wiki_00.bz2:{n_readable}: compressed stream damaged: Compressed file ended "
                              rf"before the end-of-stream marker was reached; {n_readable:,} documents read before "
                              rf"the damage\. Nothing loaded")
    assert everything(settings) == good

    report = ingest(settings, source, keep_partial=True)
    assert report.n_documents == n_readable + 5
    assert report.summary_lines()[1] == (
        f"lost the rest of 1 damaged compressed file(s) after the documents read before the damage (first: "
        f"AA/wiki_00.bz2:{n_readable}: Compressed file ended before the end-of-stream marker was reached; "
        f"{n_readable:,} documents read before the damage)")
    assert rows(settings.build_database, "SELECT count(*) FROM raw.wiki_documents") == [(n_readable + 5,)]
    assert rows(settings.build_database, "SELECT source_file, line_no, problem FROM raw.quarantine") == [
        ("AA/wiki_00.bz2", n_readable, "unreadable_file")]


def test_a_corrupt_gzip_is_one_line_not_a_traceback(tmp_path, settings, good):
    data = bytearray(gzip.compress(json_lines(2000)))
    data[20] ^= 0x55                                     # inside the first deflate block's header
    refused(settings, write(tmp_path / "bad" / "wiki_00.gz", bytes(data)), r"wiki_00.gz: compressed stream damaged: ")
    assert everything(settings) == good


def test_keep_partial_drops_a_refused_files_documents_and_says_what_was_lost(tmp_path, settings, good):
    source = tmp_path / "mixed"
    write(source / "AA" / "wiki_00", json_lines(10))
    # staged before its refusal at the end: documents, a quarantined bad line, then far too many controls
    bad = b'{"id": "x1", "text": "fine"}\n{broken\n' + json_lines(3, "\x01\x02 {i}").replace(b'"id": "', b'"id": "x')
    write(source / "AA" / "wiki_01", bad)
    write(source / "AB" / "wiki_00", "\n".join(f"Line {i}." for i in range(4)).encode("utf-16"))
    report = ingest(settings, source, keep_partial=True)
    assert report.loaded and report.n_documents == 10
    input_bytes = sum(path.stat().st_size for path in source.rglob("*") if path.is_file())
    lost = (source / "AA" / "wiki_01").stat().st_size + (source / "AB" / "wiki_00").stat().st_size
    assert report.summary_lines()[1] == (
        f"lost 2 refused file(s), {lost:,} of the input's {input_bytes:,} bytes ({lost / input_bytes:.0%}), not "
        f"loaded (first: AA/wiki_01:3: {report.lost_files[0].detail})")
    assert rows(settings.build_database, "SELECT DISTINCT source_file FROM raw.wiki_documents") == [("AA/wiki_00",)]
    assert rows(settings.build_database, "SELECT source_file, line_no, problem FROM raw.quarantine ORDER BY 1") == [
        ("AA/wiki_01", 3, "refused_control_characters"), ("AB/wiki_00", 1, "refused_encoding")]
    assert rows(settings.build_database, "SELECT n_quarantined FROM raw.load_batches ORDER BY load_batch DESC LIMIT 1") \
        == [(2,)]
    # nothing usable at all: refused even with keep_partial
    with pytest.raises(IngestError, match="no usable documents read; lost 1 refused file"):
        ingest(settings, source / "AB", keep_partial=True)


def test_a_utf8_byte_order_mark_is_dropped(tmp_path, settings):
    source = write(tmp_path / "en" / "wiki_00", b"\xef\xbb\xbf" + json_lines(2))
    assert ingest(settings, source).n_documents == 2
    assert rows(settings.build_database, "SELECT doc_id FROM raw.wiki_documents ORDER BY 1") == [("0",), ("1",)]


def test_cli_refuses_by_default_and_keeps_with_keep_partial(tmp_path, capsys):
    from tiny_tokenizers import wordpiece_tokenizer

    wordpiece_tokenizer().save_pretrained(tmp_path / "tok")
    data = str(tmp_path / "data")
    database = load_settings(tmp_path / "data").build_database
    command = ["--data-dir", data, "--quiet", "ingest-wikipedia", "--lang", "en", "--tokenizer", str(tmp_path / "tok")]
    write(tmp_path / "good" / "wiki_00", json_lines(3))
    assert main([*command, str(tmp_path / "good")]) == 0
    cut, n_readable = truncated_bz2(8000)
    write(tmp_path / "bad" / "wiki_00.bz2", cut)
    capsys.readouterr()
    assert main([*command, str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'bad' / 'wiki_00.bz2'}:{n_readable}: compressed")
    assert rows(database, "SELECT count(*) FROM raw.wiki_documents") == [(3,)]
    assert main([*command, str(tmp_path / "bad"), "--keep-partial"]) == 0
    assert "lost the rest of 1 damaged compressed file(s)" in capsys.readouterr().out
    assert rows(database, "SELECT count(*) FROM raw.wiki_documents") == [(n_readable,)]
