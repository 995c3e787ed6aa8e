"""Wikipedia ingest: formats, compression, quarantine, segmentation, idempotence, atomicity."""
from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pytest
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers.models import WordLevel

from compute.segments import segment
from conftest import SHARED_DATA, needs_shared, rows
from ingest import wikipedia
from ingest.problems import IngestError
from ingest.documents import Document, iter_documents
from ingest.wikipedia import ingest_wikipedia
from tiny_tokenizers import sentencepiece_tokenizer, wordpiece_tokenizer

ROOT = Path(__file__).resolve().parents[1]
MBERT_VOCAB = SHARED_DATA / "tokenizers" / "bert-base-multilingual-cased" / "vocab.txt"


def word_tokenizer() -> Tokenizer:
    """One token per word or punctuation mark (BERT pre-tokenizer, every word unknown): easy to count by hand."""
    tokenizer = Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    return tokenizer


@pytest.fixture(scope="module")
def mbert():
    if not MBERT_VOCAB.exists():
        pytest.skip("mBERT vocab.txt not in ../shared")
    from compute.models import mbert_tokenizer

    return mbert_tokenizer(MBERT_VOCAB)


def json_line(doc_id, text, title="T"):
    return json.dumps({"id": doc_id, "revid": "", "url": f"https://x/{doc_id}", "title": title, "text": text})


def write(path: Path, content: str | bytes, opener=open) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with opener(path, "wb") as out:
        out.write(content.encode() if isinstance(content, str) else content)
    return path



def ingest(settings, source, **kwargs):
    kwargs = {"lang": "en", "tokenizer": word_tokenizer(), "workers": 1, "progress": False, **kwargs}
    return ingest_wikipedia(settings.build_database, source, **kwargs)


def assert_spans_cover(text, segments):
    """The segments are the text in order, with only white space left out between them."""
    position = 0
    for piece in segments:
        assert piece.text and piece.text == piece.text.strip() and text[piece.start:piece.end] == piece.text
        assert not text[position:piece.start].strip()
        position = piece.end
    assert not text[position:].strip()


# ---------------------------------------------------------------- reading

def test_reads_json_lines(tmp_path):
    path = write(tmp_path / "wiki_00", "\n".join([json_line("12", "Anarchism is ...", "Anarchism"), "",
                                                   json_line(25, "Autism is ...")]) + "\n")
    docs = list(iter_documents(path))
    assert docs == [Document("12", "Anarchism", "https://x/12", "Anarchism is ...", "wiki_00", 1),
                    Document("25", "T", "https://x/25", "Autism is ...", "wiki_00", 3)]


def test_reads_the_doc_format_and_drops_the_title_line(tmp_path):
    path = write(tmp_path / "wiki_01", (
        '<doc id="12" url="https://en.wikipedia.org/wiki?curid=12" title="Anarchism">\n'
        'Anarchism\n\nAnarchism is a political philosophy.\n\nIt is sceptical.\n</doc>\n'
        '<doc id="13" url="u13" title="&quot;Weird Al&quot; &amp; \"Co\"">\n"Weird Al" & "Co"\n\nHe sings.\n</doc>\n'))
    docs = list(iter_documents(path))
    assert docs[0] == Document("12", "Anarchism", "https://en.wikipedia.org/wiki?curid=12",
                               "Anarchism is a political philosophy.\n\nIt is sceptical.", "wiki_01", 1)
    assert (docs[1].doc_id, docs[1].title, docs[1].text, docs[1].line_no) == ("13", '"Weird Al" & "Co"', "He sings.", 8)


def test_plain_text_is_one_document_per_line(tmp_path):
    path = write(tmp_path / "sentences.txt", "First sentence.\n\nSecond one.\n")
    assert [(d.doc_id, d.text, d.line_no) for d in iter_documents(path)] == [
        ("sentences.txt:1", "First sentence.", 1), ("sentences.txt:3", "Second one.", 3)]


def test_directory_tree_compression_and_format_detected_per_file(tmp_path):
    source = tmp_path / "extracted"
    write(source / "AA" / "wiki_00", json_line("1", "plain json") + "\n")
    write(source / "AA" / "wiki_01.bz2", json_line("2", "bzip2 json") + "\n", bz2.open)
    write(source / "AB" / "wiki_00", '\n<doc id="3" url="u" title="t">\nt\n\ngzip doc\n</doc>\n', gzip.open)  # no suffix
    write(source / "AB" / "wiki_01", "a plain text line\n")
    write(source / ".hidden" / "wiki_00", json_line("9", "never read") + "\n")
    docs = list(iter_documents(source))
    assert [(d.source_file, d.doc_id, d.text) for d in docs] == [
        ("AA/wiki_00", "1", "plain json"), ("AA/wiki_01.bz2", "2", "bzip2 json"), ("AB/wiki_00", "3", "gzip doc"),
        ("AB/wiki_01", "AB/wiki_01:1", "a plain text line")]
    # a forced format applies to every file
    assert [type(d).__name__ for d in iter_documents(source / "AB" / "wiki_01", fmt="json")] == ["Problem"]


def test_reads_the_shared_and_bundled_samples():
    bundled = list(iter_documents(ROOT / "sample" / "wiki" / "en"))
    assert bundled and all(isinstance(d, Document) and d.text for d in bundled)
    if SHARED_DATA.exists():
        german = list(iter_documents(SHARED_DATA / "wiki" / "de"))
        assert len(german) == 10_000 and all(isinstance(d, Document) for d in german)
        assert german[0].doc_id == "lz1" and german[0].text.startswith("0:50:52 Von Beginn an")


# ---------------------------------------------------------------- segmentation

def test_segments_cut_at_paragraph_then_sentence_then_word_boundaries():
    tokenizer = word_tokenizer()
    # 5 + 1 tokens | 4 + 1 | 3 + 1: a paragraph break beats the later sentence end in the window
    text = "One two three four five.\nSix seven eight nine. Ten eleven twelve."
    assert [(s.text, s.n_tokens) for s in segment(text, tokenizer, 12)] == [
        ("One two three four five.", 6), ("Six seven eight nine. Ten eleven twelve.", 9)]
    # no paragraph break: the last sentence end in the second half of the window
    assert [(s.text, s.n_tokens) for s in segment(text.replace("\n", " "), tokenizer, 12)] == [
        ("One two three four five. Six seven eight nine.", 11), ("Ten eleven twelve.", 4)]
    # no sentence end there: the last word boundary
    assert [s.text for s in segment("a b c d e f g h", tokenizer, 3)] == ["a b c", "d e f", "g h"]
    # a break in the first half of the window is not taken (segments stay at least half full)
    assert [s.text for s in segment("a.\nb c d e f", tokenizer, 6)] == ["a.\nb c d e", "f"]


def test_a_word_longer_than_the_window_is_cut_mid_word_and_counted_on_its_own():
    tokenizer = wordpiece_tokenizer()  # "Allan Peiper" -> Allan Pe ##ipe ##r
    pieces = list(segment("Allan Peiper", tokenizer, 2))
    assert [(s.text, s.n_tokens) for s in pieces] == [("Allan", 1), ("Peipe", 2), ("r", 1)]  # "r" alone: [UNK]
    assert_spans_cover("Allan Peiper", pieces)


def test_sentencepiece_cuts_at_a_cjk_full_stop_inside_a_word():
    # SentencePiece words are split at spaces only: the whole text is one word of ten tokens,
    # ▁ 北京 出生于 上海 。 北京 出生于 上海 。 上海; each segment gets its own ▁ when tokenized alone
    text = "北京出生于上海。北京出生于上海。上海"
    pieces = list(segment(text, sentencepiece_tokenizer(), 5))
    assert [(s.text, s.n_tokens) for s in pieces] == [("北京出生于上海。", 5), ("北京出生于上海。", 5), ("上海", 2)]
    tokenizer = sentencepiece_tokenizer()
    assert all(len(tokenizer(s.text, add_special_tokens=False)["input_ids"]) == s.n_tokens for s in pieces)


def test_short_and_empty_documents():
    tokenizer = word_tokenizer()
    assert [(s.text, s.start, s.n_tokens) for s in segment("  Hello, world!\n", tokenizer, 512)] == [
        ("Hello, world!", 2, 4)]
    assert list(segment(" \n ", tokenizer, 512)) == []
    with pytest.raises(ValueError, match="max_tokens"):
        list(segment("x", tokenizer, 0))


@needs_shared
def test_real_mbert_segments_fit_and_cover_the_document(mbert):
    documents = {lang: [d.text for d in iter_documents(SHARED_DATA / "wiki" / lang)][:400] for lang in ("en", "ja")}
    for lang, texts in documents.items():
        text = "\n".join(texts)  # one long document per language
        for max_tokens in (512, 64):
            pieces = list(segment(text, mbert, max_tokens))
            assert len(pieces) > 1
            assert_spans_cover(text, pieces)
            for piece in pieces:
                n = len(mbert(piece.text, add_special_tokens=False)["input_ids"])
                assert n == piece.n_tokens <= max_tokens, (lang, piece.text)
            assert sum(p.n_tokens for p in pieces) == len(mbert(text, add_special_tokens=False)["input_ids"])


@needs_shared
def test_hand_checked_cuts_with_mbert(mbert):
    text = "Paris is the capital of France. It is big.\nBerlin is in Germany."
    # tokens: Paris is the capital of France . | It is big . | Berlin is in Germany .
    assert [(s.text, s.n_tokens) for s in segment(text, mbert, 8)] == [
        ("Paris is the capital of France.", 7), ("It is big.", 4), ("Berlin is in Germany.", 5)]


# ---------------------------------------------------------------- loading

def test_loads_documents_segments_and_the_corpus_row(tmp_path, settings):
    source = write(tmp_path / "en" / "AA" / "wiki_00", "\n".join([
        json_line("1", "a b c d e f g h", "Alpha"), json_line("2", "Short one.", "Beta"), json_line("3", "")]) + "\n")
    report = ingest(settings, tmp_path / "en", max_tokens=3, dump_date="20240301")
    assert report.loaded and (report.n_documents, report.n_segments, report.n_tokens) == (3, 4, 11)
    assert report.summary_lines() == ["wikipedia en (dump 2024-03-01): 3 documents, 4 segments, 11 tokens, 0.0 MB loaded"]
    database = settings.build_database
    assert rows(database, "SELECT doc_id, title, source_file, line_no, n_segments, n_tokens, n_bytes "
                          "FROM raw.wiki_documents ORDER BY doc_id") == [
        ("1", "Alpha", "AA/wiki_00", 1, 3, 8, 15), ("2", "Beta", "AA/wiki_00", 2, 1, 3, 10), ("3", "T", "AA/wiki_00", 3, 0, 0, 0)]
    batch = rows(database, "SELECT max(load_batch) FROM raw.load_batches")[0][0]
    assert rows(database, "SELECT segment_id - load_batch * 10000000000, doc_id, seg_no, text, n_tokens "
                          "FROM raw.wiki_segments ORDER BY segment_id") == [
        (0, "1", 0, "a b c", 3), (1, "1", 1, "d e f", 3), (2, "1", 2, "g h", 2), (3, "2", 0, "Short one.", 3)]
    assert rows(database, "SELECT corpus, lang, dump_date::TEXT, tokenizer LIKE 'Tokenizer@%', max_tokens, n_documents, "
                          "n_segments, n_tokens, n_bytes, load_batch FROM raw.wiki_corpora") == [
        ("wikipedia", "en", "2024-03-01", True, 3, 3, 4, 11, 25, batch)]
    assert rows(database, "SELECT kind, lang, n_rows, n_quarantined FROM raw.load_batches") == [("wikipedia", "en", 7, 0)]


def test_malformed_documents_are_quarantined_with_file_and_line(tmp_path, settings):
    source = tmp_path / "en"
    write(source / "AA" / "wiki_00", b"\n".join([
        json_line("1", "Good one.").encode(),
        b'{"id": "2", "text": "no end"',                                    # 2: malformed JSON
        json.dumps({"id": "3", "title": "no text"}).encode(),              # 3: missing text
        b'{"id": "4", "text": "bad \xff byte"}',                            # 4: invalid UTF-8
        b'{"id": "5", "text": "lone \\ud800 surrogate"}',                  # 5: not encodable
        b"[1, 2]",                                                         # 6: not an object
    ]) + b"\n")
    write(source / "AB" / "wiki_00", b"".join([
        b'<doc id="10" url="u" title="t">\nt\n\nunclosed\n',              # 1: closed by the next <doc>
        b'<doc id="11" url="u" title="t">\nt\n\nfine\n</doc>\n',          # 5
        b"stray text\n",                                                   # 10
        b'<doc id="12" url="u" title="t">\nt\n\nline one\nbad \xfe\n</doc>\n',  # 11, bad byte on 15
        b"</doc>\n",                                                       # 17
        b'<doc id="13" url="u" title="t">\nt\n\nnever closed\n',          # 18
    ]))
    report = ingest(settings, source)
    assert report.n_documents == 2
    assert rows(settings.build_database, "SELECT kind, lang, source_file, line_no, problem FROM raw.quarantine "
                                         "ORDER BY source_file, line_no") == [
        ("wikipedia", "en", "AA/wiki_00", 2, "malformed_json"), ("wikipedia", "en", "AA/wiki_00", 3, "missing_field"),
        ("wikipedia", "en", "AA/wiki_00", 4, "invalid_utf8"), ("wikipedia", "en", "AA/wiki_00", 5, "invalid_utf8"),
        ("wikipedia", "en", "AA/wiki_00", 6, "malformed_json"), ("wikipedia", "en", "AB/wiki_00", 1, "unclosed_doc"),
        ("wikipedia", "en", "AB/wiki_00", 10, "text_outside_doc"), ("wikipedia", "en", "AB/wiki_00", 15, "invalid_utf8"),
        ("wikipedia", "en", "AB/wiki_00", 17, "unopened_doc"), ("wikipedia", "en", "AB/wiki_00", 18, "unclosed_doc"),
    ]
    assert "quarantined 2 x malformed_json (first: AA/wiki_00:2: Expecting ',' delimiter)" in report.summary_lines()
    assert rows(settings.build_database, "SELECT n_quarantined FROM raw.load_batches") == [(10,)]


def test_a_damaged_compressed_file_keeps_what_came_before_with_keep_partial(tmp_path, settings):
    lines = [json_line(str(i), f"Document {i}.") for i in range(6000)]  # several 100 kB bzip2 blocks
    data = bz2.compress(("\n".join(lines) + "\n").encode(), compresslevel=1)
    write(tmp_path / "en" / "wiki_00.bz2", data[: len(data) // 2])
    write(tmp_path / "en" / "wiki_01", b"BZh9 not bzip2 at all")
    report = ingest(settings, tmp_path / "en", keep_partial=True)
    assert 0 < report.n_documents < 6000 and [p.problem for p in report.lost_files] == ["unreadable_file"] * 2
    assert rows(settings.build_database, "SELECT source_file, line_no FROM raw.quarantine ORDER BY 1") == [
        ("wiki_00.bz2", report.n_documents), ("wiki_01", None)]


def test_duplicate_doc_ids_keep_the_first(tmp_path, settings):
    write(tmp_path / "en" / "wiki_00", "\n".join([json_line("1", "a b c d"), json_line("2", "e f"),
                                                  json_line("1", "x y z w v"), json_line("3", "g")]) + "\n")
    report = ingest(settings, tmp_path / "en", max_tokens=2)
    assert report.n_documents == 3 and report.n_segments == 4
    assert rows(settings.build_database, "SELECT doc_id, string_agg(text, '|' ORDER BY seg_no) FROM raw.wiki_segments "
                                         "GROUP BY doc_id ORDER BY doc_id") == [("1", "a b|c d"), ("2", "e f"), ("3", "g")]
    assert rows(settings.build_database, "SELECT line_no, problem, detail FROM raw.quarantine") == [
        (3, "duplicate_doc_id", "doc 1 first seen at wiki_00:1")]


def test_reloading_changes_nothing_and_a_new_dump_replaces(tmp_path, settings):
    path = write(tmp_path / "en" / "wiki_00", json_line("1", "First text.") + "\n{bad\n")
    ingest(settings, tmp_path / "en", dump_date="2024-03-01")
    everything = ("SELECT * FROM raw.wiki_segments ORDER BY ALL", "SELECT * FROM raw.wiki_documents ORDER BY ALL",
                  "SELECT * FROM raw.wiki_corpora", "SELECT * FROM raw.quarantine", "SELECT * FROM raw.load_batches")
    before = [rows(settings.build_database, sql) for sql in everything]
    again = ingest(settings, tmp_path / "en", dump_date="20240301")
    assert not again.loaded and again.summary_lines() == ["wikipedia en (dump 2024-03-01): unchanged"]
    assert [rows(settings.build_database, sql) for sql in everything] == before

    ingest(settings, tmp_path / "en", corpus="wiki-other")            # another corpus lives beside it
    ingest(settings, tmp_path / "en", dump_date="2024-04-01")         # same files, new dump date: replaced
    write(path, json_line("1", "Second text.") + "\n")                 # changed files: replaced
    ingest(settings, tmp_path / "en", dump_date="2024-04-01")
    assert rows(settings.build_database, "SELECT corpus, text FROM raw.wiki_segments ORDER BY corpus") == [
        ("wiki-other", "First text."), ("wikipedia", "Second text.")]
    assert rows(settings.build_database, "SELECT corpus, dump_date::TEXT FROM raw.wiki_corpora ORDER BY corpus") == [
        ("wiki-other", None), ("wikipedia", "2024-04-01")]
    # the quarantine keeps the problems of the loads in force only
    assert rows(settings.build_database, "SELECT count(*) FROM raw.quarantine") == [(1,)]
    # another tokenizer or max_tokens is a new load too
    assert ingest(settings, tmp_path / "en", dump_date="2024-04-01", max_tokens=100).loaded


@pytest.mark.parametrize("where", ["while staging", "while swapping in"])
def test_crash_mid_load_leaves_the_warehouse_as_it_was(tmp_path, settings, monkeypatch, where):
    write(tmp_path / "en" / "wiki_00", json_line("1", "Old text.") + "\n{bad\n")
    ingest(settings, tmp_path / "en")
    everything = ("SELECT * FROM raw.wiki_segments", "SELECT * FROM raw.wiki_documents", "SELECT * FROM raw.quarantine",
                  "SELECT * FROM raw.wiki_corpora", "SELECT * FROM raw.load_batches")
    before = [rows(settings.build_database, sql) for sql in everything]
    write(tmp_path / "en" / "wiki_00", "\n".join(json_line(str(i), f"New text {i}.") for i in range(10)) + "\n")

    if where == "while staging":
        def crash(self):
            raise KeyboardInterrupt  # Ctrl-C

        monkeypatch.setattr(wikipedia._Stager, "flush", crash)
    else:
        real_batch = wikipedia.db.new_batch

        def crash(con, *args):
            real_batch(con, *args)
            con.execute("DELETE FROM raw.wiki_segments")  # half-way through the replacement
            raise KeyboardInterrupt

        monkeypatch.setattr(wikipedia.db, "new_batch", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest(settings, tmp_path / "en")
    assert [rows(settings.build_database, sql) for sql in everything] == before
    monkeypatch.undo()
    assert ingest(settings, tmp_path / "en").n_documents == 10  # and the next load goes through


def test_worker_processes_give_the_same_rows(tmp_path, settings, monkeypatch):
    texts = [" ".join(f"w{i}x{j}" for j in range(i % 40)) + "." for i in range(300)]
    write(tmp_path / "en" / "wiki_00", "\n".join(json_line(str(i), t) for i, t in enumerate(texts)) + "\n")
    monkeypatch.setattr(wikipedia, "_CHUNK_CHARS", 500)  # many chunks in flight
    ingest(settings, tmp_path / "en", max_tokens=8)
    serial = rows(settings.build_database, "SELECT doc_id, seg_no, text, n_tokens FROM raw.wiki_segments ORDER BY segment_id")
    ingest(settings, tmp_path / "en", max_tokens=8, workers=2, corpus="parallel")
    assert rows(settings.build_database, "SELECT doc_id, seg_no, text, n_tokens FROM raw.wiki_segments "
                                         "WHERE corpus = 'parallel' ORDER BY segment_id") == serial


@needs_shared
def test_bundled_sample_with_mbert(settings, mbert):
    report = ingest(settings, ROOT / "sample" / "wiki" / "de", lang="de", tokenizer=mbert)
    assert report.n_documents > 10 and report.n_segments >= report.n_documents and not report.problem_counts
    assert rows(settings.build_database, "SELECT tokenizer FROM raw.wiki_corpora")[0][0].startswith("BertTokenizer@")
    assert rows(settings.build_database, "SELECT max(n_tokens) <= 512 FROM raw.wiki_segments") == [(True,)]


def test_refusals(tmp_path, settings):
    empty = write(tmp_path / "en" / "wiki_00", "{not json\n")
    with pytest.raises(IngestError, match="no usable documents.*malformed_json"):
        ingest(settings, tmp_path / "en")
    assert rows(settings.build_database, "SELECT count(*) FROM raw.load_batches") == [(0,)]
    with pytest.raises(IngestError, match="no such file"):
        ingest(settings, tmp_path / "missing")
    with pytest.raises(IngestError, match="unknown language code 'xx'"):
        ingest(settings, empty, lang="xx")
    with pytest.raises(IngestError, match="dump date"):
        ingest(settings, empty, dump_date="March")
    with pytest.raises(IngestError, match="fast tokenizer"):
        ingest(settings, empty, tokenizer=object())
