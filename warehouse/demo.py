"""The main job on the bundled default: tiny models, sample facts and texts, probe, trace, attribute,
build, intervene, build."""
from __future__ import annotations

from compute.tiny import build_tiny_causal_model, build_tiny_model
from ingest.mlama import ingest_mlama
from ingest.wikipedia import ingest_wikipedia
from warehouse.build import build, summary
from warehouse.neurons import attribute, attribution_settings, intervene, intervention_settings
from warehouse.probing import probe
from warehouse.settings import ROOT, Settings
from warehouse.tracing import trace

SAMPLE_DIR = ROOT / "sample"


def demo(settings: Settings, progress: bool = True) -> list[str]:
    """Build the whole warehouse from sample/ with a small BERT and a small GPT-2 trained here (cached
    after the first run), side by side."""
    from transformers import AutoTokenizer

    model_dir = build_tiny_model(SAMPLE_DIR, settings.model_cache_dir / "tiny-bert", progress=progress)
    causal_dir = build_tiny_causal_model(SAMPLE_DIR, settings.model_cache_dir / "tiny-gpt2", progress=progress)
    lines = ingest_mlama(settings.build_database, SAMPLE_DIR / "mlama", progress=progress).summary_lines()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    for corpus_dir in sorted((SAMPLE_DIR / "wiki").iterdir()):
        report = ingest_wikipedia(settings.build_database, corpus_dir, corpus_dir.name, tokenizer,
                                  dump_date="2026-11-01", workers=1, progress=progress)
        lines += report.summary_lines()
    lines += trace(settings.build_database, progress=progress).summary_lines()
    models = [str(model_dir), str(causal_dir)]
    for model in models:
        lines += probe(settings.build_database, model, settings.shard_dir, progress=progress).summary_lines()
    for model in models:
        lines += attribute(settings.build_database, model, settings.shard_dir, progress=progress,
                           **attribution_settings(settings.variables)).summary_lines()
    build(settings, progress)  # the neuron sets the interventions read
    for model in models:
        lines += intervene(settings.build_database, model, settings.shard_dir, progress=progress,
                           **intervention_settings(settings.variables)).summary_lines()
    build(settings, progress)
    return lines + summary(settings)
