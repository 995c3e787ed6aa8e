"""The main job on the bundled default: tiny model, sample mLAMA, probe, build, summary."""
from __future__ import annotations

from compute.tiny import build_tiny_model
from ingest.mlama import ingest_mlama
from warehouse.build import build, summary
from warehouse.probing import probe
from warehouse.settings import ROOT, Settings

SAMPLE_DIR = ROOT / "sample"


def demo(settings: Settings, progress: bool = True) -> list[str]:
    """Build the whole warehouse from sample/ with a small BERT trained here (cached after the first run)."""
    model_dir = build_tiny_model(SAMPLE_DIR, settings.model_cache_dir / "tiny-bert", progress=progress)
    ingested = ingest_mlama(settings.build_database, SAMPLE_DIR / "mlama", progress=progress)
    probed = probe(settings.build_database, str(model_dir), settings.shard_dir, progress=progress)
    build(settings, progress)
    return ingested.summary_lines() + probed.summary_lines() + summary(settings)
