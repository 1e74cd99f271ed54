"""Shared test fixtures and paths."""
from __future__ import annotations

from pathlib import Path

# the read-only reference data, kept beside the repository (see ../shared/data/README.md)
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
