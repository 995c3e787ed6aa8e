"""What every loader reports: a rejected input row, and the error that stops a load."""
from __future__ import annotations

from dataclasses import dataclass


class IngestError(Exception):
    """Nothing usable could be read, or --strict found a problem; nothing was written."""


@dataclass
class Problem:
    """One rejected row (or file, when line_no is None), quarantined with its reason."""

    source_file: str
    line_no: int | None
    problem: str
    detail: str
