"""The build database: connection, raw tables and load batches."""
from __future__ import annotations

import contextlib
from pathlib import Path

import duckdb

RAW_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SEQUENCE IF NOT EXISTS raw.load_batch_seq START 1;
CREATE TABLE IF NOT EXISTS raw.load_batches (
    load_batch     BIGINT PRIMARY KEY,
    kind           TEXT NOT NULL,        -- mlama, predictions, activations, wikipedia, sizes
    source         TEXT NOT NULL,        -- directory, zip or shard file read
    lang           TEXT,
    content_sha256 TEXT,                 -- hash of what was read: same hash, nothing to do
    n_rows         BIGINT NOT NULL,
    n_quarantined  BIGINT NOT NULL,
    loaded_at      TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.mlama_templates (
    lang TEXT NOT NULL, relation TEXT NOT NULL, template TEXT NOT NULL,
    source_file TEXT NOT NULL, line_no INTEGER NOT NULL,
    load_batch BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.mlama_facts (
    lang TEXT NOT NULL, relation TEXT NOT NULL, uuid TEXT NOT NULL,
    sub_uri TEXT, obj_uri TEXT, sub_label TEXT NOT NULL, obj_label TEXT NOT NULL, lineid BIGINT,
    source_file TEXT NOT NULL, line_no INTEGER NOT NULL,
    load_batch BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.quarantine (
    kind TEXT NOT NULL, lang TEXT, source_file TEXT NOT NULL, line_no INTEGER,
    problem TEXT NOT NULL, detail TEXT, load_batch BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.models (
    model_id TEXT PRIMARY KEY, name_or_path TEXT NOT NULL, revision TEXT, weights_sha256 TEXT NOT NULL,
    model_class TEXT, tokenizer_class TEXT, n_layers INTEGER, d_ff INTEGER, vocab_size INTEGER,
    max_length INTEGER, registered_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.predictions (
    model_id TEXT NOT NULL, lang TEXT NOT NULL, relation TEXT NOT NULL, uuid TEXT NOT NULL,
    template TEXT NOT NULL, sub_label TEXT NOT NULL, obj_label TEXT NOT NULL,  -- what was probed
    labels_share_tokens BOOLEAN,  -- object inside subject, or a shared subword token (model tokenizer)
    query TEXT, n_mask_tokens INTEGER, gold_token_ids INTEGER[], pred_token_ids INTEGER[],
    gold_text TEXT, pred_text TEXT, gold_log_prob DOUBLE, skip_reason TEXT, probed_at TIMESTAMPTZ,
    shard_file TEXT NOT NULL, load_batch BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.wiki_corpora (
    corpus TEXT NOT NULL, lang TEXT NOT NULL, dump_date DATE, tokenizer TEXT NOT NULL,
    max_tokens INTEGER NOT NULL, n_documents BIGINT NOT NULL, n_segments BIGINT NOT NULL,
    n_tokens BIGINT NOT NULL, n_bytes BIGINT NOT NULL, content_sha256 TEXT NOT NULL,
    load_batch BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.wiki_documents (
    corpus TEXT NOT NULL, lang TEXT NOT NULL, doc_id TEXT NOT NULL, title TEXT, url TEXT,
    source_file TEXT NOT NULL, line_no INTEGER NOT NULL, n_segments INTEGER NOT NULL,
    n_tokens BIGINT NOT NULL, n_bytes BIGINT NOT NULL, load_batch BIGINT NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.wiki_segments (
    corpus TEXT NOT NULL, lang TEXT NOT NULL, segment_id BIGINT NOT NULL, doc_id TEXT NOT NULL,
    seg_no INTEGER NOT NULL, text TEXT NOT NULL, n_tokens INTEGER NOT NULL, load_batch BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.fact_presence (
    corpus TEXT NOT NULL, lang TEXT NOT NULL, uuid TEXT NOT NULL,
    is_present BOOLEAN NOT NULL,      -- some segment holds both normalised labels
    n_segments BIGINT NOT NULL,       -- segments holding both
    example_segment_id BIGINT,        -- the smallest such segment id
    corpus_batch BIGINT NOT NULL, facts_batch BIGINT NOT NULL,  -- the loads this was traced from
    traced_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.language_sizes (
    source TEXT NOT NULL, lang TEXT NOT NULL, measure TEXT NOT NULL, size DOUBLE NOT NULL,
    source_file TEXT NOT NULL, line_no INTEGER NOT NULL, load_batch BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.activations (
    model_id TEXT NOT NULL, lang TEXT NOT NULL, uuid TEXT NOT NULL,
    layer INTEGER NOT NULL,        -- one row per layer keeps DuckDB's vectors small
    activations FLOAT[] NOT NULL,  -- d_ff values; neuron id = layer * d_ff + index
    shard_file TEXT NOT NULL, load_batch BIGINT NOT NULL, loaded_at TIMESTAMPTZ NOT NULL
);
"""


def connect(path: str | Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the build database, creating the raw tables on first use."""
    path = Path(path)
    if read_only:
        return duckdb.connect(str(path), read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute(RAW_SCHEMA)
    return con


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """All or nothing: commit on success, roll back on any error or Ctrl-C."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def new_batch(con, kind: str, source: str, lang: str | None, content_sha256: str | None,
              n_rows: int, n_quarantined: int) -> int:
    """Record a load batch (inside the caller's transaction) and return its id."""
    return con.execute(
        "INSERT INTO raw.load_batches VALUES (nextval('raw.load_batch_seq'), ?, ?, ?, ?, ?, ?, now()) "
        "RETURNING load_batch",
        [kind, source, lang, content_sha256, n_rows, n_quarantined],
    ).fetchone()[0]
