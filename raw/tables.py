"""One declaration of each raw table: its columns, their DuckDB types and one-line comments.

Everything else is derived from these declarations: the DDL (raw.db.connect), the Arrow schemas of
the Parquet shards and of the rows the ingest jobs insert, and `external_models.yaml`, which tells
SQLMesh what the staging models read (`python -m raw.tables` writes it; a test keeps it equal).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

# DuckDB type -> Arrow type, for every type a raw column uses
ARROW_TYPES = {
    "TEXT": pa.string(), "BOOLEAN": pa.bool_(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
    "FLOAT": pa.float32(), "DOUBLE": pa.float64(), "DATE": pa.date32(),
    "TIMESTAMPTZ": pa.timestamp("us", tz="UTC"), "INTEGER[]": pa.list_(pa.int32()),
    "FLOAT[]": pa.list_(pa.float32()),
}
# Where a row came from, filled in by the loader rather than by the producer of the rows
PROVENANCE = ("source_file", "line_no", "shard_file", "load_batch", "loaded_at")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str
    not_null: bool = False
    default: str | None = None  # SQL literal: the value of rows written before the column existed


@dataclass(frozen=True)
class Table:
    name: str          # without the schema: raw.<name>
    comment: str
    columns: tuple[Column, ...]
    primary_key: str | None = None

    @property
    def qualified(self) -> str:
        return f"raw.{self.name}"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ddl(self) -> str:
        lines = [f"{c.name} {c.type}{' NOT NULL' if c.not_null else ''}"
                 f"{f' DEFAULT {c.default}' if c.default else ''}"
                 f"{' PRIMARY KEY' if c.name == self.primary_key else ''}" for c in self.columns]
        return f"CREATE TABLE IF NOT EXISTS {self.qualified} (\n    " + ",\n    ".join(lines) + "\n)"

    def comments(self) -> list[str]:
        """COMMENT statements: the table's and every column's description, stored in DuckDB."""
        quoted = lambda text: "'" + text.replace("'", "''") + "'"  # noqa: E731
        return [f"COMMENT ON TABLE {self.qualified} IS {quoted(self.comment)}"] + [
            f"COMMENT ON COLUMN {self.qualified}.{c.name} IS {quoted(c.comment)}" for c in self.columns]

    def arrow_schema(self, exclude: tuple[str, ...] = ()) -> pa.Schema:
        return pa.schema([(c.name, ARROW_TYPES[c.type]) for c in self.columns if c.name not in exclude])

    def produced_schema(self) -> pa.Schema:
        """The columns a producer writes (a shard, a parser): all but the provenance the loader adds."""
        return self.arrow_schema(exclude=PROVENANCE)


def _table(name: str, comment: str, *columns: tuple, primary_key: str | None = None) -> Table:
    """columns: (name, type, comment), (name, type, comment, not_null) or (..., not_null, default)."""
    return Table(name, comment, tuple(Column(*c) for c in columns), primary_key)


_BATCH = ("load_batch", "BIGINT", "load batch that wrote the row (raw.load_batches)", True)
_LOADED = ("loaded_at", "TIMESTAMPTZ", "when the row was loaded", True)
_FILE = ("source_file", "TEXT", "file the row was read from, relative to the source given", True)
_LINE = ("line_no", "INTEGER", "line number in source_file", True)

LOAD_BATCHES = _table(
    "load_batches", "One row per load: what was read, its content hash, and how many rows it gave.",
    ("load_batch", "BIGINT", "load id, increasing (raw.load_batch_seq)", True),
    ("kind", "TEXT", "what was loaded: a key of LOAD_KINDS in raw/tables.py (mlama, predictions, ...)", True),
    ("source", "TEXT", "directory, zip or shard file read", True),
    ("lang", "TEXT", "language loaded, when one"),
    ("content_sha256", "TEXT", "hash of what was read: the same hash again means nothing to do"),
    ("n_rows", "BIGINT", "rows loaded", True),
    ("n_quarantined", "BIGINT", "rows quarantined", True),
    _LOADED, primary_key="load_batch")

MLAMA_TEMPLATES = _table(
    "mlama_templates", "One row per valid template line (mLAMA's own and paraphrase sets), with provenance.",
    ("lang", "TEXT", "mLAMA language folder", True),
    ("relation", "TEXT", "relation the template expresses", True),
    ("template", "TEXT", "cloze template with [X] (subject) and [Y] (object)", True),
    ("template_id", "TEXT", "which template of the relation: 'mlama' for mLAMA's own, else a template set's id",
     True, "'mlama'"),
    _FILE, _LINE, _BATCH, _LOADED)

MLAMA_FACTS = _table(
    "mlama_facts", "One row per valid mLAMA fact line, with provenance.",
    ("lang", "TEXT", "mLAMA language folder (ISO 639-1, or ceb)", True),
    ("relation", "TEXT", "Wikidata property (P19, ...) or Google-RE name", True),
    ("uuid", "TEXT", "fact id, the same in every language", True),
    ("sub_uri", "TEXT", "Wikidata id of the subject"),
    ("obj_uri", "TEXT", "Wikidata id of the object"),
    ("sub_label", "TEXT", "subject's surface form in this language", True),
    ("obj_label", "TEXT", "object's surface form in this language", True),
    ("lineid", "BIGINT", "mLAMA's line id"),
    _FILE, _LINE, _BATCH, _LOADED)

QUARANTINE = _table(
    "quarantine", "Rows that failed validation at ingest, with the file, line and reason.",
    ("kind", "TEXT", "the load: mlama, wikipedia, corpus (trace-corpus) or sizes", True),
    ("lang", "TEXT", "language of the load, when one"),
    ("source_file", "TEXT", "file the row was read from", True),
    ("line_no", "INTEGER", "line number in source_file (NULL for a whole file or folder)"),
    ("problem", "TEXT", "kind of problem (malformed_json, duplicate_uuid, ...)", True),
    ("detail", "TEXT", "what exactly is wrong"),
    _BATCH, _LOADED)

MODELS = _table(
    "models", "One row per probed model (hub id or path plus its revision / weights hash).",
    ("model_id", "TEXT", "name_or_path@first 12 hex digits of its revision or weights hash", True),
    ("name_or_path", "TEXT", "Hugging Face hub id or local path", True),
    ("revision", "TEXT", "hub commit hash, when loaded from the hub"),
    ("weights_sha256", "TEXT", "sha256 over the parameters in name order", True),
    ("family", "TEXT", "masked or causal: how the model is probed (masks, or prompt + teacher-forced object)"),
    ("model_class", "TEXT", "transformers class"),
    ("tokenizer_class", "TEXT", "transformers tokenizer class"),
    ("n_layers", "INTEGER", "transformer layers"),
    ("d_ff", "INTEGER", "FFN intermediate size per layer"),
    ("vocab_size", "INTEGER", "output vocabulary size"),
    ("max_length", "INTEGER", "longest query (in tokens) the model accepts"),
    ("registered_at", "TIMESTAMPTZ", "first time the model was probed", True),
    primary_key="model_id")

PREDICTIONS = _table(
    "predictions", "One row per (model, lang, fact, template) probed, loaded from the Parquet shards of the probe.",
    ("model_id", "TEXT", "model identity (raw.models)", True),
    ("lang", "TEXT", "language probed", True),
    ("relation", "TEXT", "relation of the fact", True),
    ("uuid", "TEXT", "fact id", True),
    ("template", "TEXT", "template the query was built from", True),
    ("template_id", "TEXT", "the template's id (raw.mlama_templates)", True, "'mlama'"),
    ("sub_label", "TEXT", "subject label the query was built from", True),
    ("obj_label", "TEXT", "object label the query was built from", True),
    ("labels_share_tokens", "BOOLEAN", "object inside subject, or a shared subword token (model tokenizer)"),
    ("query", "TEXT", "model input with k masks"),
    ("n_mask_tokens", "INTEGER", "k: object tokens in the filled sentence"),
    ("gold_token_ids", "INTEGER[]", "gold object ids"),
    ("pred_token_ids", "INTEGER[]", "predicted ids, one per object position"),
    ("gold_text", "TEXT", "gold ids decoded"),
    ("pred_text", "TEXT", "predicted ids decoded"),
    ("gold_log_prob", "DOUBLE", "log-probability of the gold object (sum over its positions)"),
    ("is_correct", "BOOLEAN", "full match: probed, and all k predicted ids equal the gold ids", True),
    ("skip_reason", "TEXT", "why the query was not built; NULL when probed"),
    ("probed_at", "TIMESTAMPTZ", "when the probe ran"),
    ("shard_file", "TEXT", "Parquet shard the row came from", True),
    _BATCH, _LOADED)

ACTIVATIONS = _table(
    "activations", "FFN intermediate activations at the object positions, averaged over them; one row "
    "per (model, lang, fact, layer) captured, loaded from the activation shards.",
    ("model_id", "TEXT", "model identity (raw.models)", True),
    ("lang", "TEXT", "language probed", True),
    ("uuid", "TEXT", "fact id", True),
    ("layer", "INTEGER", "transformer layer, 0-based (one row per layer keeps DuckDB's vectors small)", True),
    ("activations", "FLOAT[]", "d_ff values; neuron id = layer * d_ff + index", True),
    ("shard_file", "TEXT", "Parquet shard the row came from", True),
    _BATCH, _LOADED)

ATTRIBUTIONS = _table(
    "attributions", "Integrated-gradients attributions of the FFN neurons, one row per (model, lang, fact, "
    "template) attributed: the neurons with attribution >= attribution_floor x the largest, highest first.",
    ("model_id", "TEXT", "model identity (raw.models)", True),
    ("lang", "TEXT", "language of the query", True),
    ("uuid", "TEXT", "fact id", True),
    ("template_id", "TEXT", "template of the query (mLAMA's own: mlama)", True),
    ("ig_steps", "INTEGER", "m: midpoint steps of the integral", True),
    ("gold_prob", "DOUBLE", "F(a): the model's probability of the gold object (product over its k tokens)", True),
    ("max_attribution", "DOUBLE", "largest attribution over all layers", True),
    ("neuron_ids", "INTEGER[]", "layer * d_ff + index of the kept neurons, highest attribution first", True),
    ("attributions", "FLOAT[]", "their attributions, in the same order", True),
    ("shard_file", "TEXT", "Parquet shard the row came from", True),
    _BATCH, _LOADED)

INTERVENTIONS = _table(
    "interventions", "One row per (model, fact, set kind, op, language A of the set, language B of the "
    "query): the gold object's probability before and after scaling the set's activations.",
    ("model_id", "TEXT", "model identity (raw.models)", True),
    ("lang", "TEXT", "B: language of the query intervened on", True),
    ("uuid", "TEXT", "fact id", True),
    ("template_id", "TEXT", "template of the query (mLAMA's own: mlama)", True),
    ("set_kind", "TEXT", "probeless, knowledge, language_agnostic or random", True),
    ("set_lang", "TEXT", "A: language the set was found in (NULL for language-agnostic sets, found across languages)"),
    ("op", "TEXT", "suppress (x0) or enhance (x2)", True),
    ("factor", "DOUBLE", "what the set's activations were multiplied by", True),
    ("n_neurons", "INTEGER", "neurons in the set", True),
    ("set_md5", "TEXT", "md5 of the set's neuron ids in ascending order, comma-joined: `intervene` measures a query "
     "again when one of its sets changed (NULL: written before sets were fingerprinted)"),
    ("p_before", "DOUBLE", "gold object's probability without intervention", True),
    ("p_after", "DOUBLE", "gold object's probability with the set scaled", True),
    ("correct_before", "BOOLEAN", "full match without intervention", True),
    ("correct_after", "BOOLEAN", "full match with the set scaled", True),
    ("seed", "INTEGER", "seed of the random control sets", True),
    ("shard_file", "TEXT", "Parquet shard the row came from", True),
    _BATCH, _LOADED)

WIKI_CORPORA = _table(
    "wiki_corpora", "One row per loaded (corpus, lang) text collection, with its statistics.",
    ("corpus", "TEXT", "corpus name", True),
    ("lang", "TEXT", "language", True),
    ("dump_date", "DATE", "dump the text came from"),
    ("tokenizer", "TEXT", "tokenizer that cut the segments: name@hash of its definition", True),
    ("max_tokens", "INTEGER", "longest segment, in tokens", True),
    ("n_documents", "BIGINT", "documents", True),
    ("n_segments", "BIGINT", "segments", True),
    ("n_tokens", "BIGINT", "tokens", True),
    ("n_bytes", "BIGINT", "UTF-8 bytes of the documents' text", True),
    ("content_sha256", "TEXT", "hash of the input files and the format option", True),
    _BATCH, _LOADED)

WIKI_DOCUMENTS = _table(
    "wiki_documents", "One row per loaded document of a corpus.",
    ("corpus", "TEXT", "corpus name", True),
    ("lang", "TEXT", "language", True),
    ("doc_id", "TEXT", "document id (WikiExtractor's id, or file:line for plain text)", True),
    ("title", "TEXT", "title, when given"),
    ("url", "TEXT", "address, when given"),
    _FILE, _LINE,
    ("n_segments", "INTEGER", "segments cut from the document", True),
    ("n_tokens", "BIGINT", "tokens of its segments", True),
    ("n_bytes", "BIGINT", "UTF-8 bytes of its text", True),
    _BATCH, _LOADED)

WIKI_SEGMENTS = _table(
    "wiki_segments", "Segments of at most max_tokens tokens cut from the documents: the unit of tracing.",
    ("corpus", "TEXT", "corpus name", True),
    ("lang", "TEXT", "language", True),
    ("segment_id", "BIGINT", "load_batch * 10^10 + position of the segment in the load", True),
    ("doc_id", "TEXT", "document the segment was cut from", True),
    ("seg_no", "INTEGER", "position of the segment in its document, 0-based", True),
    ("text", "TEXT", "the segment's text", True),
    ("n_tokens", "INTEGER", "tokens, special tokens not counted", True),
    _BATCH)

FACT_PRESENCE = _table(
    "fact_presence", "Knowledge-tracing flags, one row per (corpus, lang, fact), written by `factroots trace`.",
    ("corpus", "TEXT", "corpus traced", True),
    ("lang", "TEXT", "language", True),
    ("uuid", "TEXT", "fact id", True),
    ("is_present", "BOOLEAN", "some segment holds both normalised labels", True),
    ("n_segments", "BIGINT", "segments holding both", True),
    ("example_segment_id", "BIGINT", "the smallest such segment id (corpora loaded by ingest-wikipedia)"),
    ("corpus_batch", "BIGINT", "corpus load traced", True),
    ("facts_batch", "BIGINT", "mLAMA load traced", True),
    ("traced_at", "TIMESTAMPTZ", "when the language was traced", True),
    ("example_shard", "TEXT", "file of the first such segment, for sharded corpora (trace-corpus)"),
    ("example_doc_id", "TEXT", "document of the first such segment"),
    ("example_seg_no", "INTEGER", "its position in the document, 0-based"))

CORPUS_SHARDS = _table(
    "corpus_shards", "One row per shard of a sharded corpus traced by `factroots trace-corpus`, with its statistics.",
    ("corpus", "TEXT", "corpus name", True),
    ("lang", "TEXT", "language", True),
    ("shard", "TEXT", "file, relative to the corpus root", True),
    ("fingerprint", "TEXT", "sha256 of its name, size, modification time and what it was traced for", True),
    ("is_quarantined", "BOOLEAN", "the shard could not be read: it counts for nothing", True),
    ("n_quarantined", "BIGINT", "records of a readable shard quarantined (not JSON, no text, ...)", True),
    ("problem", "TEXT", "why the shard could not be read, else its first quarantined record (line: kind: detail)"),
    ("n_documents", "BIGINT", "documents", True),
    ("n_segments", "BIGINT", "segments", True),
    ("n_tokens", "BIGINT", "tokens", True),
    ("n_bytes", "BIGINT", "UTF-8 bytes of the documents' text", True),
    ("traced_at", "TIMESTAMPTZ", "when the shard was traced", True))

SHARD_FACT_COUNTS = _table(
    "shard_fact_counts", "Per shard and fact found in it: segments holding both labels and the first of them "
    "(merged into raw.fact_presence).",
    ("corpus", "TEXT", "corpus name", True),
    ("lang", "TEXT", "language", True),
    ("shard", "TEXT", "file, relative to the corpus root", True),
    ("uuid", "TEXT", "fact id", True),
    ("n_segments", "BIGINT", "segments of the shard holding both labels", True),
    ("example_doc_id", "TEXT", "document of the first such segment", True),
    ("example_seg_no", "INTEGER", "its position in the document, 0-based", True))

LANGUAGE_SIZES = _table(
    "language_sizes", "User-supplied per-language corpus sizes (e.g. the paper's Wikipedia sizes), one row "
    "per (source, lang, measure).",
    ("source", "TEXT", "name given to the size table", True),
    ("lang", "TEXT", "language", True),
    ("measure", "TEXT", "the column of the size table (abstracts_size, ...)", True),
    ("size", "DOUBLE", "its value", True),
    _FILE, _LINE, _BATCH, _LOADED)

BUILDS = _table(
    "builds", "One row per good build (checked and published): what it saw, so that the next build checks, "
    "computes and publishes only what is new.",
    ("build_no", "BIGINT", "build number, increasing", True),
    ("newest_batch", "BIGINT", "newest load batch the build checked (raw.load_batches)", True),
    ("project_sha256", "TEXT", "hash of the models, checks and settings the build ran with", True),
    ("n_published", "INTEGER", "marts published anew; the others were carried over from the last build", True),
    ("built_at", "TIMESTAMPTZ", "when the build was published", True),
    primary_key="build_no")

TABLES = (LOAD_BATCHES, BUILDS, MLAMA_TEMPLATES, MLAMA_FACTS, QUARANTINE, MODELS, PREDICTIONS, ACTIVATIONS,
          ATTRIBUTIONS, INTERVENTIONS, WIKI_CORPORA, WIKI_DOCUMENTS, WIKI_SEGMENTS, FACT_PRESENCE, CORPUS_SHARDS,
          SHARD_FACT_COUNTS, LANGUAGE_SIZES)
# The raw tables each kind of load batch writes or deletes from: a build checks and publishes anew
# the marts that depend on them. A kind missing here makes the next build check and publish everything.
LOAD_KINDS = {
    "mlama": (MLAMA_FACTS, MLAMA_TEMPLATES, QUARANTINE),
    "templates": (MLAMA_TEMPLATES, QUARANTINE),
    "predictions": (MODELS, PREDICTIONS, ACTIVATIONS),
    "activations": (MODELS, ACTIVATIONS),
    "attributions": (MODELS, ATTRIBUTIONS),
    "interventions": (MODELS, INTERVENTIONS),
    "wikipedia": (WIKI_CORPORA, WIKI_DOCUMENTS, WIKI_SEGMENTS, QUARANTINE),
    "sizes": (LANGUAGE_SIZES, QUARANTINE),
    "trace": (FACT_PRESENCE,),
    "corpus": (WIKI_CORPORA, QUARANTINE, FACT_PRESENCE, CORPUS_SHARDS, SHARD_FACT_COUNTS),
}
# The raw tables the SQL models read (the others serve the loaders and the tracer)
READ_BY_MODELS = (MLAMA_FACTS, MLAMA_TEMPLATES, MODELS, PREDICTIONS, QUARANTINE, ACTIVATIONS, WIKI_CORPORA,
                  FACT_PRESENCE, LANGUAGE_SIZES, ATTRIBUTIONS, INTERVENTIONS)

# template_id of mLAMA's own template: the paper's query, the one whose FFN activations are captured
MLAMA_TEMPLATE = "mlama"
# Whose FFN activations a probe keeps: the correct facts (PROBELESS's population), all probed facts, none
CAPTURE_MODES = ("correct", "all", "none")
# The value types an activations shard may hold (the warehouse reads them as FLOAT)
ACTIVATION_TYPES = {"float16": pa.float16(), "float32": pa.float32()}


def activation_shard_schema(n_neurons: int | None = None, value_type: pa.DataType = pa.float32()) -> pa.Schema:
    """An activations shard: raw.activations without `layer`, one row per fact with every layer's
    values concatenated (activations[layer * d_ff + index]); the loader splits it per layer."""
    fields = [field for field in ACTIVATIONS.produced_schema() if field.name not in ("layer", "activations")]
    values = pa.list_(value_type, n_neurons) if n_neurons else pa.list_(value_type)
    return pa.schema(fields + [pa.field("activations", values)])


EXTERNAL_MODELS = Path(__file__).resolve().parents[1] / "external_models.yaml"


def external_models_yaml() -> str:
    """SQLMesh's external_models.yaml for the raw tables the models read."""
    lines = ["# Generated from raw/tables.py by `python -m raw.tables`; do not edit.",
             "# The raw tables written by factroots' loaders and read by the staging models."]
    for table in READ_BY_MODELS:
        lines += [f"- name: {table.qualified}", f"  description: {json.dumps(table.comment)}", "  columns:"]
        lines += [f"    {c.name}: {c.type}" for c in table.columns]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    EXTERNAL_MODELS.write_text(external_models_yaml())
    print(f"written: {EXTERNAL_MODELS}")
