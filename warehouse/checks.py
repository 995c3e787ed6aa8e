"""great-expectations suites on the raw tables and the marts, and the `check` report.

GX checks what SQLMesh audits cannot: the raw inputs before any model runs, and relations between
columns of the marts. Keys, nulls, ranges and declared values of computed rows are audits on the
models that compute them (models/).

GX validates pandas frames read from DuckDB (its SQL route to DuckDB is broken in 1.24, see
../shared/STACK.md). Each suite names the query it validates; a failed expectation blocks publishing.
On request the validations are also published as GX Data Docs, a static HTML site.
"""
from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from raw.languages import MLAMA_LANGUAGES

DOCS_SITE = "factroots"


def _suites():
    """{suite name: (SQL producing the frame, [expectations])}. Built lazily: importing GX is slow."""
    import great_expectations.expectations as gxe

    def not_null(*columns):
        return [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in columns]

    def between(column, low, high):
        return gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high)

    def at_least(larger, smaller):
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=larger, column_B=smaller, or_equal=True)

    # The raw suites read the rows of load batches after $since (0: every row); a language's facts and
    # templates are checked whole when any of its rows is new.
    return {
        "raw_mlama_facts": (
            "SELECT lang, relation, uuid, sub_label, obj_label, source_file, line_no FROM raw.mlama_facts "
            "WHERE lang IN (SELECT lang FROM raw.mlama_facts WHERE load_batch > $since)",
            [*not_null("lang", "relation", "uuid", "sub_label", "obj_label", "source_file", "line_no"),
             gxe.ExpectColumnValuesToBeInSet(column="lang", value_set=sorted(MLAMA_LANGUAGES)),
             gxe.ExpectCompoundColumnsToBeUnique(column_list=["lang", "uuid"]),
             gxe.ExpectColumnValueLengthsToBeBetween(column="obj_label", min_value=1),
             gxe.ExpectColumnValueLengthsToBeBetween(column="sub_label", min_value=1),
             between("line_no", 1, None)],
        ),
        "raw_mlama_templates": (
            "SELECT lang, relation, template, template_id FROM raw.mlama_templates "
            "WHERE lang IN (SELECT lang FROM raw.mlama_templates WHERE load_batch > $since)",
            [*not_null("lang", "relation", "template", "template_id"),
             gxe.ExpectCompoundColumnsToBeUnique(column_list=["lang", "relation", "template_id"]),
             gxe.ExpectColumnValuesToMatchRegex(column="template", regex=r"\[X\]"),
             gxe.ExpectColumnValuesToMatchRegex(column="template", regex=r"\[Y\]")],
        ),
        "raw_predictions": (
            "SELECT model_id, lang, uuid, n_mask_tokens, len(gold_token_ids) AS n_gold, "
            "len(pred_token_ids) AS n_pred, skip_reason FROM raw.predictions WHERE load_batch > $since",
            [*not_null("model_id", "lang", "uuid"),
             between("n_mask_tokens", 1, 512),
             gxe.ExpectColumnPairValuesToBeEqual(column_A="n_mask_tokens", column_B="n_gold",
                                                 ignore_row_if="either_value_is_missing"),
             gxe.ExpectColumnPairValuesToBeEqual(column_A="n_gold", column_B="n_pred",
                                                 ignore_row_if="either_value_is_missing")],
        ),
        "raw_activations": (
            "SELECT a.model_id, a.lang, a.uuid, count(*) AS n_layer_rows, min(len(a.activations)) AS min_width, "
            "max(len(a.activations)) AS max_width, any_value(m.n_layers) AS n_layers, any_value(m.d_ff) AS d_ff "
            "FROM raw.activations a LEFT JOIN raw.models m USING (model_id) WHERE a.load_batch > $since "
            "GROUP BY a.model_id, a.lang, a.uuid, a.load_batch",
            [*not_null("model_id", "lang", "uuid", "n_layers", "d_ff"),
             gxe.ExpectColumnPairValuesToBeEqual(column_A="n_layer_rows", column_B="n_layers"),
             gxe.ExpectColumnPairValuesToBeEqual(column_A="min_width", column_B="d_ff"),
             gxe.ExpectColumnPairValuesToBeEqual(column_A="max_width", column_B="d_ff")],
        ),
        # The marts' keys, nulls, ranges and declared values are SQLMesh audits on the intermediate
        # models that compute them; here only relations between columns.
        "marts_p_at_1": (
            "SELECT n_facts, n_probed, n_correct FROM marts.p_at_1",
            [at_least("n_probed", "n_correct"), at_least("n_facts", "n_probed")],
        ),
        "marts_p_at_1_by_template": (
            "SELECT n_facts, n_probed, n_correct FROM marts.p_at_1_by_template",
            [at_least("n_probed", "n_correct"), at_least("n_facts", "n_probed")],
        ),
        "marts_fact_consistency": (
            "SELECT n_templates, n_correct FROM marts.fact_consistency",
            [at_least("n_templates", "n_correct")],
        ),
        "marts_language_overlap": (
            "SELECT n_correct_both, n_correct_either FROM marts.language_overlap",
            [at_least("n_correct_either", "n_correct_both")],
        ),
    }


@dataclass
class CheckResult:
    suite: str
    check: str
    passed: bool
    detail: str = ""

    def line(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        return f"{mark} {self.suite}: {self.check}" + (f" ({self.detail})" if self.detail else "")


def _context(site_dir: Path | None):
    """An ephemeral GX context, quiet; with a local Data Docs site rooted at site_dir when given."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if site_dir is not None:
        context.add_data_docs_site(DOCS_SITE, {
            "class_name": "SiteBuilder", "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}})
    return context


def run_expectations(database: str | Path, layers: tuple[str, ...] = ("raw", "marts"),
                     docs_dir: Path | None = None, since: int = 0, marts: set[str] | None = None) -> list[CheckResult]:
    """Validate the suites of the given layers against the build database.

    `since` limits the raw suites to the rows of load batches after it; `marts` limits the mart
    suites to those marts (default: every one). With docs_dir, the validations are also stored and
    published as GX Data Docs (docs_dir/index.html)."""
    suites = {name: suite for name, suite in _suites().items() if name.split("_")[0] in layers
              and (marts is None or not name.startswith("marts_") or name.removeprefix("marts_") in marts)}
    if not suites:
        return []
    if docs_dir is None:
        return _validate(database, suites, since, None)
    # GX reads `$NAME` in a store path as a variable to substitute: build the site in a scratch
    # folder whose path holds no `$`, then copy it where it belongs.
    with tempfile.TemporaryDirectory(prefix="factroots-data-docs-") as site_dir:
        results = _validate(database, suites, since, Path(site_dir))
        shutil.copytree(site_dir, docs_dir, dirs_exist_ok=True)
    return results


def _validate(database: str | Path, suites: dict, since: int, site_dir: Path | None) -> list[CheckResult]:
    """run_expectations, with the Data Docs site (when wanted) built in site_dir."""
    import great_expectations as gx

    context = _context(site_dir)
    source = context.data_sources.add_pandas("factroots")
    results = []
    con = duckdb.connect(str(database), read_only=True)
    try:
        for name, (sql, expectations) in suites.items():
            try:
                frame = con.execute(sql, {"since": since} if "$since" in sql else None).df()
            except duckdb.CatalogException:
                results.append(CheckResult(name, "table exists", False, "not built yet"))
                continue
            batch_definition = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
            suite = gx.ExpectationSuite(name=name, expectations=expectations)
            parameters = {"dataframe": frame}
            if site_dir is None:
                outcome = batch_definition.get_batch(batch_parameters=parameters).validate(suite)
            else:  # a ValidationDefinition stores its result, which the docs are built from
                validation = context.validation_definitions.add(
                    gx.ValidationDefinition(name=name, data=batch_definition, suite=context.suites.add(suite)))
                outcome = validation.run(batch_parameters=parameters)
            for result in outcome.results:
                config = result.expectation_config
                column = config.kwargs.get("column") or config.kwargs.get("column_list") or \
                    f"{config.kwargs.get('column_A')}/{config.kwargs.get('column_B')}"
                unexpected = result.result.get("unexpected_count")
                detail = "" if result.success else f"{unexpected} unexpected of {len(frame)}" \
                    if unexpected is not None else "failed"
                results.append(CheckResult(name, f"{config.type} {column}", result.success, detail))
    finally:
        con.close()
    if site_dir is not None:
        context.build_data_docs(site_names=[DOCS_SITE])
    return results
