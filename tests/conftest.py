"""Shared test fixtures and paths."""
from __future__ import annotations

from pathlib import Path

# the read-only reference data, kept beside the repository (see ../shared/data/README.md)
DATA = next((p / "shared" / "data" for p in Path(__file__).resolve().parents if (p / "shared" / "data").is_dir()),
            Path(__file__).resolve().parents[1].parent / "shared" / "data")
