"""`factroots` command line: each command is a thin layer over the function of the same name."""
from __future__ import annotations

import argparse
import sys
import warnings

DEFAULT_MODEL = "bert-base-multilingual-cased"


def _langs(text: str | None) -> list[str] | None:
    return [code.strip() for code in text.split(",") if code.strip()] if text else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="factroots", description=__doc__)
    parser.add_argument("--data-dir", help="where the DuckDB files, shards and cached models live "
                        "(default: warehouse/data, or $FACTROOTS_DATA_DIR)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("demo", help="build the whole warehouse from the bundled sample and a tiny model")

    ingest = commands.add_parser("ingest-mlama", help="load an mLAMA release (directory or zip)")
    ingest.add_argument("source", help="release directory (<lang>/templates.jsonl, ...) or zip")
    ingest.add_argument("--langs", help="comma-separated language codes (default: all)")
    ingest.add_argument("--strict", action="store_true", help="fail, loading nothing, if any row is bad")

    probe = commands.add_parser("probe", help="probe the loaded facts with a masked LM")
    probe.add_argument("--model", default=DEFAULT_MODEL, help=f"hub id or local path (default: {DEFAULT_MODEL})")
    probe.add_argument("--langs", help="comma-separated language codes (default: every loaded language)")
    probe.add_argument("--device", help="cpu, cuda, cuda:N (default: cuda when present)")
    probe.add_argument("--batch-size", type=int, default=32)
    probe.add_argument("--limit", type=int, help="at most this many facts per language")
    probe.add_argument("--activations", choices=["correct", "all", "none"], default="correct",
                       help="whose FFN activations to keep (default: correct facts, the PROBELESS population)")
    probe.add_argument("--activation-dtype", choices=["float16", "float32"], default="float16",
                       help="precision of the activation shards (default: float16)")

    wiki = commands.add_parser("ingest-wikipedia", help="load one language of a WikiExtractor corpus, cut into segments")
    wiki.add_argument("source", help="a file (plain, .bz2, .gz) or a directory tree such as AA/wiki_00")
    wiki.add_argument("--lang", required=True, help="language code of the edition")
    wiki.add_argument("--tokenizer", default=DEFAULT_MODEL,
                      help=f"hub id or path whose tokenizer cuts the segments (default: {DEFAULT_MODEL})")
    wiki.add_argument("--corpus", default="wikipedia", help="corpus name (default: wikipedia)")
    wiki.add_argument("--dump-date", help="date of the dump, YYYY-MM-DD")
    wiki.add_argument("--max-tokens", type=int, default=512, help="longest segment in tokens (default: 512)")

    trace = commands.add_parser("trace", help="flag which facts occur in each language's corpus")
    trace.add_argument("--corpus", default="wikipedia")
    trace.add_argument("--langs", help="comma-separated language codes (default: every loaded corpus)")

    sizes = commands.add_parser("ingest-sizes", help="load a per-language size table (CSV: lang, measures...)")
    sizes.add_argument("path")
    sizes.add_argument("--source", help="name of the table (default: the file name)")

    commands.add_parser("build", help="run the models, check everything, publish")
    commands.add_parser("check", help="run every audit and expectation suite and report")
    commands.add_parser("summary", help="what the published warehouse holds")
    commands.add_parser("dictionary", help="the data dictionary of the published tables, as Markdown")
    report = commands.add_parser("report", help="the paper's Table 2 and figures as HTML and PNGs")
    report.add_argument("--out", help="output folder (default: report/ beside the published file)")
    report.add_argument("--reference", help="published Table 2 CSV (lang,language,mbert_p1,xlmr_p1; default: "
                        "../shared/data/reference/zhao2024_table2_p1.csv when present)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.filterwarnings("ignore", category=SyntaxWarning)  # raised inside SQLMesh's macro code
    from compute.models import ModelLoadError
    from ingest.mlama import IngestError
    from ingest.shards import ShardError
    from warehouse.build import CheckError
    from warehouse.settings import load_settings
    from warehouse.transform import TransformError

    settings = load_settings(args.data_dir)
    progress = not args.quiet
    try:
        lines = _run(args, settings, progress)
    except (IngestError, ShardError, CheckError, TransformError, ModelLoadError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the warehouse is as it was before the step that was running", file=sys.stderr)
        return 130
    print("\n".join(lines))
    return 0


def _run(args, settings, progress: bool) -> list[str]:
    if args.command == "demo":
        from warehouse.demo import demo
        return demo(settings, progress)
    if args.command == "ingest-mlama":
        from ingest.mlama import ingest_mlama
        report = ingest_mlama(settings.build_database, args.source, _langs(args.langs), args.strict, progress)
        return report.summary_lines()
    if args.command == "probe":
        from warehouse.probing import probe
        report = probe(settings.build_database, args.model, settings.shard_dir, _langs(args.langs),
                       args.device, args.batch_size, args.limit, args.activations, args.activation_dtype,
                       progress=progress)
        return report.summary_lines() + ["run `factroots build` to update the published tables"]
    if args.command == "ingest-wikipedia":
        from transformers import AutoTokenizer
        from ingest.wikipedia import ingest_wikipedia
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
        report = ingest_wikipedia(settings.build_database, args.source, args.lang, tokenizer, args.corpus,
                                  args.dump_date, args.max_tokens, progress=progress)
        return report.summary_lines()
    if args.command == "trace":
        from warehouse.tracing import trace
        return trace(settings.build_database, args.corpus, _langs(args.langs), progress=progress).summary_lines()
    if args.command == "ingest-sizes":
        from ingest.sizes import ingest_sizes
        return ingest_sizes(settings.build_database, args.path, args.source).summary_lines()
    if args.command == "build":
        from warehouse.build import build, summary
        build(settings, progress)
        return summary(settings)
    if args.command == "check":
        from warehouse.build import CheckError, check
        results = check(settings)
        lines = [r.line() for r in results]
        failed = sum(not r.passed for r in results)
        lines.append(f"{len(results) - failed} passed, {failed} failed")
        if failed:
            print("\n".join(lines))
            raise CheckError(f"{failed} check(s) failed")
        return lines
    if args.command == "report":
        from pathlib import Path
        from warehouse.checks import run_expectations
        from warehouse.report import report
        out = Path(args.out) if args.out else settings.published_database.parent / "report"
        lines = [f"report written: {report(settings, out, Path(args.reference) if args.reference else None)}"]
        if not settings.build_database.exists():
            return lines + [f"data docs skipped: {settings.build_database} does not exist"]
        run_expectations(settings.build_database, docs_dir=out / "data_docs")
        return lines + [f"data docs written: {out / 'data_docs' / 'index.html'}"]
    if args.command == "dictionary":
        from warehouse.dictionary import dictionary
        return [dictionary(settings)]
    from warehouse.build import summary
    return summary(settings)


if __name__ == "__main__":
    sys.exit(main())
