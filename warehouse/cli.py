"""The `factroots` command line: one click command per function, its options that function's arguments.

Each command calls one function; an option left out leaves that function's default. --data-dir,
--quiet and --verbose are accepted before or after the command name. Errors print one line
("error: ...") and exit 1; --verbose shows the traceback instead.
"""
from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import click

from raw import tables

DEFAULT_MODEL = "bert-base-multilingual-cased"


def _remember(ctx: click.Context, param: click.Parameter, value):
    """Keep a shared option given on the group or the command (meta is shared by both contexts)."""
    if value:
        ctx.meta[param.name] = value


def shared_options(command):
    """--data-dir, --quiet and --verbose."""
    options = [
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), expose_value=False,
                     callback=_remember, help="where every file of the warehouse lives, its factroots.toml "
                     "included (default: warehouse/data, or $FACTROOTS_DATA_DIR)"),
        click.option("--quiet", is_flag=True, expose_value=False, callback=_remember,
                     help="no progress bars"),
        click.option("--verbose", is_flag=True, expose_value=False, callback=_remember,
                     help="SQLMesh's own output (plan and model runs), and tracebacks on errors"),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def langs_option(help_text: str):
    def split(ctx, param, value):
        codes = [code.strip() for code in (value or "").split(",") if code.strip()]
        return codes or None
    return click.option("--langs", callback=split, help=f"comma-separated language codes (default: {help_text})")


def ray_option(what: str):
    """--ray [ADDRESS]: run on Ray; no address starts (or joins) a Ray on this machine."""
    return click.option("--ray", is_flag=False, flag_value="", default=None, metavar="[ADDRESS]",
                        help=f"{what} on a Ray cluster: `auto` (the running cluster), its address, or no value "
                             f"(a Ray on this machine); needs the ray extra (default: this process)")


def shard_dir_option(what: str):
    """--shard-dir: where a model's shards go, reachable by every Ray node."""
    return click.option("--shard-dir", help=f"where the {what} shards go: a path or a pyarrow URI (s3://...) every "
                                            f"Ray node reaches (default: shards/ in the data directory)")


def _given(options: dict) -> dict:
    """The options given on the command line; the called function's defaults stand for the others."""
    return {name: value for name, value in options.items() if value is not None}


def _start():
    """The settings in force (their file written on first use) and whether to show progress."""
    from warehouse.settings import load_settings, write_settings_file

    meta = click.get_current_context().meta
    if meta.get("quiet") and meta.get("verbose"):
        raise click.UsageError("--quiet and --verbose exclude each other")
    if meta.get("quiet"):  # transformers' and the hub's bars ("Loading weights", downloads)
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
        if "transformers" in sys.modules:
            sys.modules["transformers"].utils.logging.disable_progress_bar()
    if meta.get("verbose"):  # warehouse.transform.context shows SQLMesh's console then
        logging.getLogger("sqlmesh").setLevel(logging.INFO)
    settings = load_settings(meta.get("data_dir"))
    write_settings_file(settings)
    return settings, not meta.get("quiet")


def _echo(lines: list[str]) -> None:
    click.echo("\n".join(lines))


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=__doc__.split("\n\n", 1)[1])
@shared_options
def cli():
    """factroots: a knowledge warehouse for multilingual factual probing."""


@cli.command()
@shared_options
def demo():
    """Build everything from the bundled sample.

    A tiny BERT (masked LM) and a tiny GPT-2 (causal LM) are trained on the sample text the first
    time (cached), then the sample facts and texts are ingested, probed by both, traced, built and
    published."""
    from warehouse.demo import demo as run_demo
    settings, progress = _start()
    _echo(run_demo(settings, progress))


@cli.command("ingest-mlama")
@click.argument("source", type=click.Path(path_type=Path), required=False)
@click.option("--templates", type=click.Path(path_type=Path), multiple=True,
              help="a template set to load beside the facts (repeatable): <lang>/templates.jsonl")
@langs_option("all")
@click.option("--strict", is_flag=True, help="fail, loading nothing, if any row is bad")
@shared_options
def ingest_mlama(source, templates, **options):
    """Load an mLAMA release, and template sets.

    SOURCE is the release directory (<lang>/templates.jsonl, <lang>/P19.jsonl, ...) or its zip. A
    template set (--templates DIR, after the release's facts are loaded) is a folder or zip of
    <lang>/templates.jsonl whose lines carry a template_id: more queries per fact."""
    from ingest.mlama import ingest_mlama as ingest
    from ingest.templates import ingest_templates
    if source is None and not templates:
        raise click.UsageError("give the release (SOURCE), a template set (--templates DIR), or both")
    settings, progress = _start()
    if source is not None:
        _echo(ingest(settings.build_database, source, progress=progress, **_given(options)).summary_lines())
    for template_set in templates:
        _echo(ingest_templates(settings.build_database, template_set, progress=progress,
                               **_given(options)).summary_lines())


@cli.command()
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="hub id or local path of a masked or causal LM")
@langs_option("every loaded language")
@click.option("--device", help="cpu, cuda, cuda:N (default: cuda when present)")
@click.option("--batch-size", type=int, help="facts per forward pass (default: 32)")
@click.option("--limit", type=int, help="at most this many facts per language, the same facts in every language "
              "(each with every template of its relation)")
@click.option("--activations", type=click.Choice(tables.CAPTURE_MODES),
              help="whose FFN activations to keep (default: correct facts, the PROBELESS population)")
@click.option("--activation-dtype", type=click.Choice(list(tables.ACTIVATION_TYPES)),
              help="precision of the activation shards (default: float16)")
@ray_option("probe")
@shard_dir_option("probe's")
@shared_options
def probe(model, shard_dir, **options):
    """Probe the loaded facts with a masked or causal LM.

    The family comes from the model's config: a masked LM fills the object's masks, a causal LM
    continues the prompt (templates whose [Y] precedes [X] are not probed). Every fact is probed
    with each template of its relation (mLAMA's own and the template sets'). Resumable: queries
    already probed by the same model are skipped. With --ray, one worker per GPU (or CPU) of the
    cluster loads the model once and writes the same shards."""
    from warehouse.probing import probe as run_probe
    settings, progress = _start()
    report = run_probe(settings.build_database, model, shard_dir or settings.shard_dir, progress=progress,
                       **_given(options))
    _echo(report.summary_lines() + ["run `factroots build` to update the published tables"])


@cli.command()
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="hub id or local path of the probed LM")
@langs_option("every probed language")
@click.option("--device", help="cpu, cuda, cuda:N (default: cuda when present)")
@click.option("--batch-size", type=int, help="facts per pass; a pass holds batch size x ig_steps copies (default: 8)")
@click.option("--limit", type=int, help="at most this many facts per language")
@ray_option("attribute")
@shard_dir_option("attribution")
@shared_options
def attribute(model, shard_dir, **options):
    """Integrated-gradients attributions of every FFN neuron.

    For the facts the model predicts correctly (setting kn_population), one layer scaled at a
    time with ig_steps midpoint steps. Resumable: facts already attributed are skipped. With --ray,
    one worker per GPU (or CPU) of the cluster loads the model once and writes the same shards."""
    from warehouse.neurons import attribute as run_attribute, attribution_settings
    settings, progress = _start()
    report = run_attribute(settings.build_database, model, shard_dir or settings.shard_dir, progress=progress,
                           **attribution_settings(settings.variables), **_given(options))
    _echo(report.summary_lines() + ["run `factroots build` to update the knowledge-neuron tables"])


@cli.command()
@click.option("--model", default=DEFAULT_MODEL, show_default=True, help="hub id or local path of the probed LM")
@langs_option("every probed language")
@click.option("--device", help="cpu, cuda, cuda:N (default: cuda when present)")
@click.option("--batch-size", type=int, help="queries per forward pass (default: 32)")
@ray_option("intervene")
@shard_dir_option("intervention")
@shared_options
def intervene(model, shard_dir, **options):
    """Suppress and enhance the neuron sets of the last build.

    PROBELESS top-k (setting intervention_k), knowledge neurons, language-agnostic neurons and a
    seeded random control (setting intervention_seed), found in language A, applied to the fact's
    query in every language B where it is correct. Resumable: queries done are skipped. With
    --ray, as for attribute."""
    from warehouse.neurons import intervene as run_intervene, intervention_settings
    settings, progress = _start()
    report = run_intervene(settings.build_database, model, shard_dir or settings.shard_dir, progress=progress,
                           **intervention_settings(settings.variables), **_given(options))
    _echo(report.summary_lines() + ["run `factroots build` to update the intervention tables"])


@cli.command("ingest-wikipedia")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--lang", required=True, help="language code of the edition")
@click.option("--tokenizer", default=DEFAULT_MODEL, show_default=True,
              help="hub id or path whose tokenizer cuts the segments")
@click.option("--corpus", help="corpus name (default: wikipedia)")
@click.option("--dump-date", help="date of the dump, YYYY-MM-DD")
@click.option("--max-tokens", type=int, help="longest segment in tokens (default: 512)")
@click.option("--keep-partial", is_flag=True,
              help="load what can be read when a file is refused or a compressed file is damaged "
                   "(default: load nothing)")
@shared_options
def ingest_wikipedia(source, lang, tokenizer, **options):
    """Load one language of a Wikipedia corpus.

    SOURCE is WikiExtractor output: a file (plain, .bz2, .gz) or a tree such as AA/wiki_00. Each
    document is cut into segments of at most --max-tokens tokens of the tokenizer. A file that is not
    UTF-8 text or not the format it claims, or a damaged compressed file, stops the load (the corpus
    loaded before stays) unless --keep-partial."""
    from transformers import AutoTokenizer
    from ingest.wikipedia import ingest_wikipedia as ingest
    settings, progress = _start()
    report = ingest(settings.build_database, source, lang, AutoTokenizer.from_pretrained(tokenizer),
                    progress=progress, **_given(options))
    _echo(report.summary_lines())


@cli.command()
@click.option("--corpus", help="corpus name (default: wikipedia)")
@langs_option("every loaded corpus")
@shared_options
def trace(**options):
    """Flag which facts occur in each language's corpus."""
    from warehouse.tracing import trace as run_trace
    settings, progress = _start()
    _echo(run_trace(settings.build_database, progress=progress, **_given(options)).summary_lines())


@cli.command("trace-corpus")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--lang", required=True, help="language of the corpus (its mLAMA facts are traced)")
@click.option("--tokenizer", default=DEFAULT_MODEL, show_default=True,
              help="hub id or path whose tokenizer cuts the segments")
@click.option("--corpus", help="corpus name (default: the name of SOURCE)")
@click.option("--text-field", help="JSON field or Parquet column holding the text (default: text)")
@click.option("--id-field", help="JSON field or Parquet column holding the document id (default: id)")
@click.option("--max-tokens", type=int, help="longest segment in tokens (default: 512)")
@click.option("--dump-date", help="date of the corpus, YYYY-MM-DD")
@click.option("--workers", type=int, help="local worker processes (default: all cores)")
@ray_option("trace the shards")
@shared_options
def trace_corpus(source, lang, tokenizer, **options):
    """Trace the facts of one language through a sharded corpus, exactly.

    SOURCE is a file or a tree of shards on a disk every worker reaches: JSON lines (plain, .gz,
    .bz2, .zst), WikiExtractor output or Parquet with a text column. Each shard is cut into segments
    and matched as ingest-wikipedia and trace do, without storing its text; resumable per shard; a
    shard that cannot be read is quarantined and the others count."""
    from transformers import AutoTokenizer
    from warehouse.corpus_tracing import trace_corpus as run_trace_corpus
    settings, progress = _start()
    report = run_trace_corpus(settings.build_database, source, lang, AutoTokenizer.from_pretrained(tokenizer),
                              progress=progress, **_given(options))
    _echo(report.summary_lines())


@cli.command("ingest-sizes")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--source", help="name of the table (default: the file name)")
@shared_options
def ingest_sizes(path, **options):
    """Load a per-language size table.

    PATH is a CSV with a lang column and one column per measure."""
    from ingest.sizes import ingest_sizes as ingest
    settings, _ = _start()
    _echo(ingest(settings.build_database, path, **_given(options)).summary_lines())


@cli.command()
@shared_options
def build():
    """Check what is new, compute it, check it, publish it."""
    from warehouse.build import build as run_build, summary
    settings, progress = _start()
    n_published = run_build(settings, progress)
    _echo([f"published {n_published} tables anew" if n_published else
           "nothing new since the last build: the published file is current"] + summary(settings))


@cli.command()
@shared_options
def check():
    """Run every audit and expectation suite.

    One line per check; exits 1 if any failed."""
    from warehouse.build import CheckError, check as run_checks
    settings, _ = _start()
    lines, n_failed = run_checks(settings)
    _echo(lines)
    if n_failed:
        raise CheckError(f"{n_failed} check(s) failed")


@cli.command()
@shared_options
def summary():
    """What the published warehouse holds."""
    from warehouse.build import summary as published_summary
    settings, _ = _start()
    _echo(published_summary(settings))


@cli.command()
@shared_options
def dictionary():
    """The published tables and columns, as Markdown."""
    from warehouse.dictionary import dictionary as data_dictionary
    settings, _ = _start()
    _echo([data_dictionary(settings)])


@cli.command("dbt-sources")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="where to write it (default: analytics/models/sources.yml of the project)")
@shared_options
def dbt_sources(**options):
    """The dbt project's sources.yml, from the data dictionary.

    Every published table and column with its description; not_null and unique tests from each
    table's grain, relationships from the tables it refers to."""
    from warehouse.dbt_sources import write_dbt_sources
    settings, _ = _start()
    _echo(write_dbt_sources(settings, **_given(options)))


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="output folder (default: report/ beside the published file)")
@click.option("--reference", type=click.Path(dir_okay=False, path_type=Path),
              help="a Table 2 CSV (lang,language,mbert_p1,xlmr_p1 in %) instead of the shipped paper_p_at_1")
@shared_options
def report(**options):
    """The paper's Table 2 and figures as HTML.

    Also the PNG figures and the great-expectations Data Docs of every suite."""
    from warehouse.report import write_report
    settings, _ = _start()
    _echo(write_report(settings, **_given(options)))


@cli.command()
@shared_options
def settings():
    """Every setting in force and where it came from.

    A value comes from the project's defaults or from factroots.toml in the data directory."""
    from warehouse.settings import settings_lines
    settings_in_force, _ = _start()
    _echo(settings_lines(settings_in_force))


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    warnings.filterwarnings("ignore", category=SyntaxWarning)  # raised inside SQLMesh's macro code
    sqlmesh_level = logging.getLogger("sqlmesh").level  # --verbose changes it for this command only
    try:
        return cli.main(args, prog_name="factroots", standalone_mode=False) or 0
    except click.ClickException as error:  # usage errors: click's own message, exit 2
        error.show()
        return error.exit_code
    except (click.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo("interrupted: the warehouse is as it was before the step that was running", err=True)
        return 130
    except Exception as error:
        if "--verbose" in args:
            raise
        click.echo(f"error: {' '.join(str(error).split()) or type(error).__name__}", err=True)
        return 1
    finally:
        logging.getLogger("sqlmesh").setLevel(sqlmesh_level)


if __name__ == "__main__":
    sys.exit(main())
