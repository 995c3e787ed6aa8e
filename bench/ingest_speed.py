"""Time the mLAMA ingest of a whole release into a fresh warehouse, then a re-run (nothing to do).

    .venv/bin/python bench/ingest_speed.py [path/to/mlama1.1]   (default: ../shared/data/mlama1.1)
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ingest.mlama import ingest_mlama

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "mlama1.1"
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "build.duckdb"
        start = time.perf_counter()
        report = ingest_mlama(database, source, progress=False)
        first = time.perf_counter() - start
        start = time.perf_counter()
        ingest_mlama(database, source, progress=False)
        again = time.perf_counter() - start
    print(f"{len(report.loaded)} languages, {report.n_facts:,} facts, {report.n_templates:,} templates, "
          f"{len(report.problems)} quarantined")
    print(f"first load {first:.1f} s ({report.n_facts / first:,.0f} facts/s); re-run {again:.1f} s (unchanged)")


if __name__ == "__main__":
    main()
